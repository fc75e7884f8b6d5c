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


def _load_pickle(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError as exc:
        raise WeightsError("reading a pickled checkpoint needs torch: pip install 'denoise-zoo[torch]'") from exc
    state = torch.load(path, map_location="cpu", weights_only=False)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def save_state(state: dict[str, np.ndarray], path: Path, metadata: dict[str, str] | None = None) -> str:
    """Write a canonical state dict atomically as safetensors; return its sha256."""
    from safetensors.numpy import save_file

    from zoo.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp), metadata=metadata)
    return sha256_file(Path(path))
