"""Weight files: their sha256, reading a canonical state dict (safetensors; pickles only when the
user trusts them) and writing one atomically."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from registry.errors import WeightsError

PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin"}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, sha256: str) -> None:
    actual = sha256_file(path)
    if actual != sha256:
        raise WeightsError(
            f"checksum mismatch for {path.name}: expected sha256 {sha256[:12]}..., got {actual[:12]}...; "
            "the file is corrupt or was tampered with, and was not loaded"
        )


def load_state(path: Path, trust_pickle: bool = False) -> dict[str, np.ndarray]:
    """Read a canonical state dict; pickled checkpoints only with ``trust_pickle``."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        if not trust_pickle:
            raise WeightsError(
                f"{path.name} is a pickled checkpoint, which can run arbitrary code; convert it to "
                "safetensors (zoo convert) or pass --trust-pickle if you trust its source"
            )
        return _load_pickle(path)
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path.name} is not a valid safetensors file: {exc}") from exc


def check_finite(state: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """``state``, or WeightsError naming the tensors with NaN or inf (they would give NaN pixels)."""
    bad = [k for k, v in state.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
    if bad:
        raise WeightsError(f"{path.name} has NaN or inf values in {len(bad)} tensor(s), e.g. {bad[0]!r}; "
                           "the weights are broken and were not loaded")
    return state


def _load_pickle(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError as exc:
        raise WeightsError("reading a pickled checkpoint needs torch: pip install 'denoise-zoo[torch]'") from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a trusted pickle can still be broken: one line, not a traceback
        raise WeightsError(f"{path.name} could not be unpickled: {exc}") from exc
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise WeightsError(f"{path.name} holds a {type(state).__name__}, not a state dict of named tensors")
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def save_state(state: dict[str, np.ndarray], path: Path, metadata: dict[str, str] | None = None) -> str:
    """Write a canonical state dict atomically as safetensors; return its sha256."""
    from safetensors.numpy import save_file

    from zoo.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp), metadata=metadata)
    return sha256_file(Path(path))
