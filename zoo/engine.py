"""Inference engine: maps any photo's channels onto a model's and runs it.

Grayscale is replicated to RGB and averaged back; alpha is passed through untouched.
"""

from __future__ import annotations

import numpy as np

from registry.denoiser import Denoiser


def run(denoiser: Denoiser, pixels: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Denoise float32 HxWxC pixels (C in 1..4) with a 3-channel model; same shape out."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    colour, alpha = _split_alpha(pixels)
    gray = colour.shape[2] == 1
    rgb = np.repeat(colour, 3, axis=2) if gray else colour
    out = denoiser.denoise(rgb, sigma)
    out = out.mean(axis=2, keepdims=True) if gray else out
    return out if alpha is None else np.concatenate([out, alpha], axis=2)


def _split_alpha(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if pixels.shape[2] in (2, 4):
        return pixels[..., :-1], pixels[..., -1:]
    return pixels, None
