"""Image quality metrics: thin float64 wrappers over scikit-image, with one fixed protocol.

Protocol (what every number `zoo bench` prints means):

- Both images are float HxWxC on the [0, 1] scale and are compared in float64 with
  ``data_range=1``, so PSNR is 10 log10(1 / MSE) over all pixels and channels.
- The whole image is compared: no border is shaved (the test code of DnCNN/FFDNet/DRUNet uses
  ``border=0`` for denoising). ``zoo bench --crop N`` crops the clean image *before* noise is added,
  so a crop is a smaller test image, not a different way of scoring the same one.
- The test image is scored as given: denoiser outputs are already clipped to [0, 1] by the
  Denoiser contract, while the synthetic noisy input stays unclipped (so AWGN sigma 25 scores
  the textbook 20.17 dB).
- SSIM uses the settings of Wang et al.'s reference implementation (11x11 Gaussian window,
  sigma 1.5, population covariance), as scikit-image documents for matching published figures,
  computed per channel and averaged over channels. Images need at least ``MIN_SIDE`` pixels a side.
- Identical images give PSNR ``inf`` and SSIM 1.0.
"""

from __future__ import annotations

import numpy as np

from registry.errors import ZooError

MIN_SIDE = 11  # the Gaussian SSIM window is 11x11 (sigma 1.5, truncated at 3.5 sigma)


def psnr(clean: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of ``test`` against ``clean`` (both on [0, 1])."""
    from skimage.metrics import peak_signal_noise_ratio

    clean, test = _pair(clean, test)
    with np.errstate(divide="ignore"):  # identical images: MSE 0 -> inf dB, not a warning
        return float(peak_signal_noise_ratio(clean, test, data_range=1.0))


def ssim(clean: np.ndarray, test: np.ndarray) -> float:
    """Structural similarity of ``test`` against ``clean`` (HxWxC on [0, 1]); 1.0 when identical."""
    from skimage.metrics import structural_similarity

    clean, test = _pair(clean, test)
    if min(clean.shape[:2]) < MIN_SIDE:
        raise ZooError(f"SSIM needs images at least {MIN_SIDE} pixels a side, got {clean.shape[:2]}")
    return float(structural_similarity(
        clean, test, data_range=1.0, channel_axis=-1,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    ))


def _pair(clean: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    clean, test = _hwc(clean), _hwc(test)
    if clean.shape != test.shape:
        raise ZooError(f"cannot compare images of shapes {clean.shape} and {test.shape}")
    return clean, test


def _hwc(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    return image[..., None] if image.ndim == 2 else image
