"""Training: patches cut from full-size photos (no resizing), seeded noise, Adam, checkpoints.

PyTorch is the main training backend (:func:`train`); Keras ``fit`` is offered too
(:mod:`zoo.train_keras`). Both write the canonical safetensors file and a model card (JSON) that
records the command, the data, the steps, the wall time and the measured validation metrics.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from registry.errors import ZooError
from zoo.noise import NoiseSpec

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


class TrainConfig(BaseModel):
    """Everything a training run depends on; stored in checkpoints and model cards."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # -- what
    model: str = Field(description="Architecture name.")
    preset: str | None = Field(None, description="Config preset.")
    channels: str = Field("rgb", description="'rgb', or 'separate': one single-channel network for R, G, B.")
    # -- data
    data: tuple[str, ...] = Field(description="Folders of clean training photos; each is drawn in proportion to "
                                  "its pixels, and within a folder every photo equally.")
    holdout: int = Field(8, ge=1, description="Last N photos (sorted by name) of each folder held out for validation.")
    noise: str = Field("awgn:0-50", description="Noise spec, see zoo.noise.")
    patch: int = Field(96, ge=16, description="Training patch size, cut from full-size photos.")
    batch: int = Field(16, ge=1, description="Patches per step.")
    # -- optimisation
    steps: int = Field(10000, ge=1, description="Optimiser steps.")
    lr: float = Field(1e-4, gt=0, description="Initial Adam learning rate (cosine decay to lr/100).")
    loss: str = Field("l1", description="'l1' or 'l2'.")
    seed: int = Field(0, description="Seeds patches, noise and initial weights.")
    init: str | None = Field(None, description="Start from these weights (fine-tuning) instead of random ones.")
    # -- bookkeeping
    val_every: int = Field(500, ge=1, description="Validate (and checkpoint) every N steps.")
    val_sigma: float = Field(25.0, description="AWGN sigma of the validation set for AWGN specs.")
    threads: int | None = Field(None, description="torch intra-op threads (default: torch's).")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="'auto' (CUDA when present), 'cpu' or 'cuda'.")
    precision: str = Field("fp32", pattern=r"^(fp32|bf16)$", description="'bf16' trains under autocast.")
    workers: int | None = Field(None, ge=0, description="Processes cutting patches (default: 0 on CPU, up to 8 "
                                "on CUDA). Each step's patches depend on (seed, step) alone, so the "
                                "workers never change what a step sees.")


    @field_validator("data", mode="before")
    @classmethod
    def _folders(cls, value: Any) -> Any:
        return (value,) if isinstance(value, (str, Path)) else value  # one folder, as before


# Options that change how fast a run goes, not what it computes: a checkpoint resumes under others.
RUNTIME_OPTIONS = {"steps", "val_every", "threads", "device", "workers", "precision"}


@dataclass
class TrainState:
    step: int = 0
    wall: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


# -- data ---------------------------------------------------------------------------------------
def list_images(folder: str | Path) -> list[Path]:
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ZooError(f"no training images in {folder}")
    return files


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def split(files: list[Path], holdout: int) -> tuple[list[Path], list[Path]]:
    if len(files) <= holdout:
        raise ZooError(f"need more than {holdout} images to hold {holdout} out for validation")
    return files[:-holdout], files[-holdout:]


def split_folders(folders: tuple[str, ...], holdout: int) -> tuple[list[list[Path]], list[Path]]:
    """Each folder's training photos, and the last ``holdout`` photos of every folder for validation."""
    pairs = [split(list_images(folder), holdout) for folder in folders]
    return [train for train, _ in pairs], [p for _, val in pairs for p in val]


def load_sampler(train: list[list[Path]], cfg: TrainConfig, spec: NoiseSpec) -> PatchSampler:
    return PatchSampler([[read_rgb(p) for p in files] for files in train], cfg.patch, spec)


class PatchSampler:
    """Random patches of full-size photos with random flips/rotations and fresh noise each draw.

    ``images`` is one list of photos, or a list of such lists (one per folder). A folder is drawn
    with probability proportional to its pixels, then a photo of it uniformly; with one folder no
    folder is drawn, so the random stream is the one single-folder runs have always used.
    """

    def __init__(self, images: list[np.ndarray] | list[list[np.ndarray]], patch: int, noise: NoiseSpec):
        groups = images if images and isinstance(images[0], list) else [images]
        small = [i for group in groups for i in group if min(i.shape[:2]) < patch]
        if small:
            raise ZooError(f"{len(small)} training images are smaller than the {patch}px patch")
        pixels = np.array([sum(i.shape[0] * i.shape[1] for i in group) for group in groups], dtype=np.float64)
        self.groups, self.share = groups, pixels / pixels.sum()
        self.patch, self.noise = patch, noise

    def batch(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` noisy/clean pairs drawn from ``rng`` (the trainers pass :func:`batch_rng`)."""
        pairs = [self._one(rng) for _ in range(n)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def _one(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        group = self.groups[rng.choice(len(self.groups), p=self.share)] if len(self.groups) > 1 else self.groups[0]
        img = group[rng.integers(len(group))]
        y = rng.integers(img.shape[0] - self.patch + 1)
        x = rng.integers(img.shape[1] - self.patch + 1)
        clean = dihedral(img[y : y + self.patch, x : x + self.patch], int(rng.integers(8)))
        clean = clean.astype(np.float32) / 255.0
        return self.noise.apply(clean, rng)[0], clean


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 flips/rotations of a square patch."""
    img = np.rot90(img, k % 4)
    return np.ascontiguousarray(img[:, ::-1] if k >= 4 else img)


def validation_set(images: list[np.ndarray], spec: NoiseSpec, val_sigma: float, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed noisy/clean pairs: AWGN at ``val_sigma`` for AWGN specs, seeded camera noise otherwise."""
    fixed = NoiseSpec("awgn", (val_sigma, val_sigma)) if spec.kind == "awgn" else spec
    pairs = []
    for i, img in enumerate(images):
        clean = img.astype(np.float32) / 255.0
        pairs.append((fixed.apply(clean, np.random.default_rng([seed, 1000 + i]))[0], clean))
    return pairs


def evaluate(denoise: Callable[[np.ndarray], np.ndarray], pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Mean PSNR/SSIM (zoo.metrics) of ``denoise`` over noisy/clean pairs."""
    from zoo.metrics import psnr, ssim  # the bench's protocol, so card and bench numbers compare

    outs = [(clean, denoise(noisy)) for noisy, clean in pairs]
    return {"psnr": float(np.mean([psnr(c, o) for c, o in outs])), "ssim": float(np.mean([ssim(c, o) for c, o in outs]))}


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Cosine decay from lr to lr/100 over the run."""
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step, cfg.steps) / cfg.steps)))


# -- the torch loop -----------------------------------------------------------------------------
def train(cfg: TrainConfig, out: Path, resume: bool = False, on_step: Callable[[int, dict[str, float]], None] | None = None,
          command: str = "") -> dict[str, Any]:
    """Train with PyTorch; checkpoint to ``out.ckpt`` and finish with ``out`` (.safetensors) + card."""
    import torch

    from zoo import api

    make_output_folder(out)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    denoiser = api.load(cfg.model, backend="torch", preset=cfg.preset, pretrained=cfg.init is not None,
                        weights=cfg.init, **_channel_config(cfg))
    module = denoiser.to(device).module.train()
    optim = torch.optim.Adam(module.parameters(), lr=cfg.lr)
    state = TrainState()
    ckpt = Path(out).with_suffix(".ckpt")
    if resume and ckpt.exists():
        state = _load_checkpoint(ckpt, cfg, module, optim)
    train_files, val_files = split_folders(cfg.data, cfg.holdout)
    spec = NoiseSpec.parse(cfg.noise)
    sampler = load_sampler(train_files, cfg, spec)
    val = validation_set([read_rgb(p) for p in val_files], spec, cfg.val_sigma, cfg.seed)
    loss_fn = torch.nn.L1Loss() if cfg.loss == "l1" else torch.nn.MSELoss()
    infer = _inference(denoiser, cfg)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    start = time.perf_counter() - state.wall
    running = []
    for noisy, clean in _step_batches(sampler, cfg, state.step, device):
        for group in optim.param_groups:
            group["lr"] = lr_at(cfg, state.step)
        with autocast:
            loss = loss_fn(module(noisy).float(), clean)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        state.step += 1
        running.append(loss.item())
        metrics = {"loss": float(np.mean(running[-50:]))}
        if state.step % cfg.val_every == 0 or state.step == cfg.steps:
            module.eval()
            metrics.update({f"val_{k}": v for k, v in evaluate(infer, val).items()})
            module.train()
            state.wall = time.perf_counter() - start
            state.history.append({"step": state.step, **metrics, "wall_s": round(state.wall, 1)})
            _save_checkpoint(ckpt, cfg, module, optim, state)
        if on_step:
            on_step(state.step, metrics)
    module.eval()
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    return finish(denoiser, cfg, Path(out), state, train_files, val_files, command, hardware)


def make_output_folder(out: Path) -> None:
    """Create ``out``'s folder before training, so that a mistyped path fails at once rather than
    when the first checkpoint is written."""
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot create the output folder {Path(out).parent}: {exc.strerror or exc}") from None


def resolve_device(name: str) -> Any:
    """The torch device for ``--device``: 'auto' is CUDA when torch sees a GPU, else the CPU."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ZooError(f"--device {name}: this torch build sees no CUDA GPU")
        torch.backends.cudnn.benchmark = True  # patches have one shape: pick the fastest kernels once
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    return torch.device(name)


def batch_rng(cfg: TrainConfig, step: int) -> np.random.Generator:
    """The patches and noise of step ``step`` depend on (seed, step) alone: a resumed run, or one
    with any number of workers, sees the same batches as an uninterrupted one."""
    return np.random.default_rng([cfg.seed, step])


def _step_batches(sampler: PatchSampler, cfg: TrainConfig, first: int, device: Any) -> Any:
    """(noisy, clean) NCHW channels-last tensors on ``device`` for steps ``first``..``cfg.steps``,
    cut by torch DataLoader workers (forked, so the decoded photos are shared, not copied)."""
    import torch
    from torch.utils.data import DataLoader, Dataset

    class Steps(Dataset):
        def __len__(self) -> int:
            return max(0, cfg.steps - first)

        def __getitem__(self, i: int) -> tuple[Any, Any]:
            arrays = _to_model(sampler.batch(cfg.batch, batch_rng(cfg, first + i)), cfg)
            return tuple(torch.from_numpy(a).permute(0, 3, 1, 2) for a in arrays)

    cuda = device.type == "cuda"
    workers = cfg.workers if cfg.workers is not None else (min(8, (os.cpu_count() or 2) - 1) if cuda else 0)
    loader = DataLoader(Steps(), batch_size=None, shuffle=False, num_workers=workers, pin_memory=cuda,
                        prefetch_factor=4 if workers else None)
    for noisy, clean in loader:
        yield tuple(t.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last) for t in (noisy, clean))


def _channel_config(cfg: TrainConfig) -> dict[str, Any]:
    return {"image_channels": 1} if cfg.channels == "separate" else {}


def card_config(cfg: TrainConfig, config_type: type) -> dict[str, Any]:
    """Config overrides the card records: channels and, where the architecture has test-time
    local pooling, the training patch size it needs, with local pooling switched on: whole-image
    PSNR is the same, and tiled output matches whole-image output (benchmarks/seams.py)."""
    fields = config_type.model_fields
    extra = {"train_size": cfg.patch} if "train_size" in fields else {}
    local = {name: "local" for name in ("attention_pooling", "image_pooling") if name in fields}
    return {**_channel_config(cfg), **extra, **local}


def _to_model(batch: tuple[np.ndarray, np.ndarray], cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """For single-channel training, each colour channel is its own training image."""
    if cfg.channels != "separate":
        return batch
    return tuple(np.ascontiguousarray(np.moveaxis(a, 3, 1).reshape(-1, *a.shape[1:3], 1)) for a in batch)


def _inference(denoiser: Any, cfg: TrainConfig) -> Callable[[np.ndarray], np.ndarray]:
    from zoo import engine

    return lambda noisy: engine.run(denoiser, noisy)


def _save_checkpoint(path: Path, cfg: TrainConfig, module: Any, optim: Any, state: TrainState) -> None:
    import torch

    from zoo.atomic import atomic_path

    payload = {"model": module.state_dict(), "optim": optim.state_dict(), "step": state.step, "wall": state.wall,
               "history": json.dumps(state.history), "config": cfg.model_dump_json()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _load_checkpoint(path: Path, cfg: TrainConfig, module: Any, optim: Any) -> TrainState:
    import torch

    payload = torch.load(path, map_location="cpu", weights_only=True)  # our own file, still no unpickling
    saved = TrainConfig.model_validate_json(payload["config"])
    if saved.model_dump(exclude=RUNTIME_OPTIONS) != cfg.model_dump(exclude=RUNTIME_OPTIONS):
        raise ZooError(f"{path} was written by a different training configuration; remove it or match the options")
    module.load_state_dict(payload["model"])
    optim.load_state_dict(payload["optim"])
    return TrainState(payload["step"], payload["wall"], json.loads(payload["history"]))


# -- the result ---------------------------------------------------------------------------------
def finish(denoiser: Any, cfg: TrainConfig, out: Path, state: TrainState, train_files: list[list[Path]],
           val_files: list[Path], command: str, hardware: str = "") -> dict[str, Any]:
    """Write the safetensors weights and the JSON model card; return the card."""
    from zoo.weights import save_state

    out = out.with_suffix(".safetensors")
    digest = save_state(denoiser.state_dict(), out, metadata={"architecture": cfg.model, "preset": cfg.preset or ""})
    last = state.history[-1] if state.history else {}
    card = {
        "architecture": cfg.model, "file": out.name, "sha256": digest, "preset": cfg.preset,
        "config": card_config(cfg, type(denoiser.config)), "noise": _noise_domain(cfg.noise),
        "sigma_range": list(NoiseSpec.parse(cfg.noise).sigma) if cfg.noise.startswith("awgn") else None,
        "training": {"command": command, "data": describe_data(cfg, train_files, val_files),
                     "steps": state.step, "wall_time_s": round(state.wall, 1), "hardware": hardware,
                     "config": cfg.model_dump()},
        "metrics": {k: round(v, 4) for k, v in last.items() if k.startswith("val_")},
        "history": state.history,
    }
    from zoo.atomic import atomic_path

    with atomic_path(out.with_suffix(".card.json")) as tmp:
        tmp.write_text(json.dumps(card, indent=2))
    return card


def describe_data(cfg: TrainConfig, train: list[list[Path]], val: list[Path]) -> str:
    """'CBSD432: 424 photos (8 held out: a..b); Urban100: ...', one clause per folder."""
    parts, start = [], 0
    for folder, files in zip(cfg.data, train):
        held = val[start : start + cfg.holdout]
        start += cfg.holdout
        parts.append(f"{Path(folder).name}: {len(files)} photos ({len(held)} held out: {held[0].name}..{held[-1].name})")
    return "; ".join(parts)


def _noise_domain(noise: str) -> str:
    spec = NoiseSpec.parse(noise)
    if spec.kind == "camera":
        return "real"
    return "awgn" if spec.sigma[0] == spec.sigma[1] else "awgn_blind"
