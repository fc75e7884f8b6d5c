"""The result of a run: the safetensors weights and the JSON model card beside them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from zoo.atomic import atomic_path
from zoo.imaging.noise import NoiseSpec
from zoo.training.config import TrainConfig, TrainState, architecture_config
from zoo.weights.files import save_state
from zoo.weights.metadata import describe

def finish(denoiser: Any, cfg: TrainConfig, out: Path, state: TrainState, train_files: list[list[Path]],
           val_files: list[Path], command: str, hardware: str = "") -> dict[str, Any]:
    """Write the safetensors weights and the JSON model card; return the card."""
    out = out.with_suffix(".safetensors")
    config_type = type(denoiser.config)
    inference = config_type.preset(cfg.preset, **card_config(cfg, config_type))  # what the card rebuilds
    digest = save_state(denoiser.state_dict(), out, metadata=describe(denoiser.architecture, inference,
                                                                      provenance=command))
    last = state.history[-1] if state.history else {}
    card = {
        "architecture": cfg.model, "file": out.name, "sha256": digest, "preset": cfg.preset,
        "config": card_config(cfg, type(denoiser.config)), "noise": _noise_domain(cfg.noise),
        "sigma_range": list(NoiseSpec.parse(cfg.noise).sigma) if cfg.noise.startswith("awgn") else None,
        "training": {"command": command, "data": describe_data(cfg, train_files, val_files),
                     "steps": state.step, "wall_time_s": round(state.wall, 1), "hardware": hardware,
                     **({"ema_from_step": state.ema_from} if state.ema_from is not None else {}),
                     "config": {**cfg.model_dump(), "data": [portable(d) for d in cfg.data],
                                "init": cfg.init and portable(cfg.init)}},
        "metrics": {k: round(v, 4) for k, v in last.items() if k.startswith("val_")},
        "history": state.history,
    }
    with atomic_path(out.with_suffix(".card.json")) as tmp:
        tmp.write_text(json.dumps(card, indent=2))
    return card


def card_config(cfg: TrainConfig, config_type: type) -> dict[str, Any]:
    """Config overrides the card records: channels and, where the architecture has test-time
    local pooling, the training patch size it needs, with local pooling switched on: whole-image
    PSNR is the same, and tiled output matches whole-image output (benchmarks/seams.py)."""
    fields = config_type.model_fields
    extra = {"train_size": cfg.patch} if "train_size" in fields else {}
    local = {name: "local" for name in ("attention_pooling", "image_pooling") if name in fields}
    return {**architecture_config(cfg), **extra, **local}


def portable(path: str) -> str:
    """A path as the card records it: relative to the folder the command ran in when it is under
    it or beside it, so that a card carries no machine's absolute paths; hf:// and bundled: as given."""
    if ":" in path.split("/")[0] or not os.path.isabs(path):
        return path
    relative = os.path.relpath(path)
    return relative if not relative.startswith("../../") else path


def describe_data(cfg: TrainConfig, train: list[list[Path]], val: list[Path]) -> str:
    """'CBSD432: 424 photos (8 held out: a..b); Urban100: ...', one clause per folder."""
    parts, start = [], 0
    for folder, files in zip(cfg.data, train):
        held = val[start : start + cfg.holdout]
        start += cfg.holdout
        parts.append(f"{_short(folder)}: {len(files)} photos ({len(held)} held out: {held[0].name}..{held[-1].name})")
    return "; ".join(parts)


def _noise_domain(noise: str) -> str:
    spec = NoiseSpec.parse(noise)
    if spec.kind == "camera":
        return "real"
    return "awgn" if spec.sigma[0] == spec.sigma[1] else "awgn_blind"


def _short(folder: str) -> str:
    """'CBSD432/clean' rather than 'clean': enough of the path to tell data sets apart, and no
    machine's absolute path."""
    return "/".join(Path(folder).parts[-2:])
