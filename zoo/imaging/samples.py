"""Fixed test images: a photo-like synthetic input, and the golden crop every pretrained card's
``golden_psnr`` is measured on. Public through zoo.testing as well."""

from __future__ import annotations

import numpy as np

from zoo.imaging.noise import NoiseSpec


def sample_image(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A smooth gradient plus noise: a photo-like float32 HxWx3 input in [0, 1]."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w, 1)
    base = np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1)
    noisy = base + np.random.default_rng(seed).normal(0, 0.1, base.shape)
    return np.clip(noisy, 0, 1).astype(np.float32)


GOLDEN_SEED = 2020


def golden_pair(noise: str) -> tuple[np.ndarray, np.ndarray]:
    """A fixed (noisy, clean) 128x128 crop of scikit-image's CC0 'coffee' photo, for golden checks
    of pretrained weights: AWGN sigma 25 for AWGN models, seeded camera noise for real-noise ones.
    The clean crop is an 8-bit photo no built-in model was trained or selected on."""
    from skimage import data

    clean = data.coffee()[200:328, 300:428].astype(np.float32) / 255.0
    spec = NoiseSpec.parse("camera" if noise == "real" else "awgn:25")
    return spec.apply(clean, np.random.default_rng(GOLDEN_SEED))[0], clean
