"""Noise synthesis for training and evaluation: seeded, reproducible, on float32 [0, 1] images.

Specs (what ``--noise`` takes):

- ``awgn:25``        additive white Gaussian noise, sigma 25 on the 0-255 scale
- ``awgn:0-50``      blind AWGN: sigma drawn uniformly from [0, 50] per image
- ``camera``         realistic camera noise: sRGB -> linear light, Bayer mosaic, signal-dependent
                     Poisson-Gaussian noise (shot and read noise drawn per image, as in Brooks et
                     al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019), bilinear
                     demosaicing (which correlates the noise spatially and across channels, as in
                     real photos), the sRGB tone curve, then JPEG at a random quality in [60, 95]
- ``camera:nojpeg``  the same without the JPEG step
- ``camera:wide``    shot noise drawn down to 1e-5 instead of 1e-4, so the mild noise of daylight
                     and base-ISO photos is covered too (combine as ``camera:wide,nojpeg``)
- ``camera:isp``     Brooks et al.'s whole unprocessing pipeline instead of the sRGB curve alone:
                     inverse tone curve (smoothstep) and gamma 2.2, a random camera colour matrix
                     (a convex combination of four real cameras' XYZ->camera matrices) and random
                     white-balance and brightness gains are undone before the noise and applied
                     after demosaicing. The gains amplify red and blue noise about twofold and the
                     colour matrix mixes it across channels, as in a camera's own JPEGs
                     (combinable: ``camera:isp,wide,nojpeg``)
- ``camera:sharp``   only the noise goes through the mosaic and the demosaicing; the photo itself
                     stays as sharp as it was (combinable: ``camera:isp,sharp``). Without it, the
                     photo is mosaicked and bilinearly demosaiced too, which on CBSD432 costs
                     9-13 (0-255 scale) of error std before any noise is added: the model then learns
                     to undo a bilinear demosaic, which a camera's own JPEGs never need
- ``camera:incamera`` what a camera's JPEG engine does to the noise before the JPEG step: chroma
                     noise reduction (the noise's Cb and Cr blurred, Gaussian sigma drawn from
                     [0, 2] px) and sharpening (the noise's luma through an unsharp mask of radius
                     1 px, amount drawn from [0, 1]). Only the noise is changed, as with ``sharp``
                     (combinable: ``camera:isp,sharp,incamera``)

AWGN is not clipped (the standard benchmark protocol); camera noise is clipped to [0, 1] as a
camera's output is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import convolve, gaussian_filter

from registry.errors import ZooError

# Brooks et al. 2019: log shot noise uniform in [log 1e-4, log 1.2e-2]; read noise follows it.
SHOT_RANGE = (1e-4, 1.2e-2)
WIDE_SHOT_RANGE = (1e-5, 1.2e-2)
JPEG_QUALITY = (60, 95)


@dataclass(frozen=True)
class NoiseSpec:
    """What noise to add; see the module docstring for the text form."""

    kind: str  # "awgn" or "camera"
    sigma: tuple[float, float] = (25.0, 25.0)  # AWGN range on the 0-255 scale
    jpeg: bool = True
    wide: bool = False  # camera noise: shot range down to 1e-5
    isp: bool = False  # camera noise: colour matrix, gains and tone curve of Brooks et al.
    sharp: bool = False  # camera noise: demosaic the noise only, not the photo
    incamera: bool = False  # camera noise: chroma noise reduction and sharpening of the noise

    @classmethod
    def parse(cls, text: str) -> NoiseSpec:
        kind, _, arg = text.strip().lower().partition(":")
        if kind == "awgn":
            return cls("awgn", _sigma_range(arg or "25"))
        options = set(arg.split(",")) - {""}
        if kind == "camera" and options <= {"jpeg", "nojpeg", "wide", "isp", "sharp", "incamera"}:
            return cls("camera", jpeg="nojpeg" not in options, wide="wide" in options, isp="isp" in options,
                       sharp="sharp" in options, incamera="incamera" in options)
        raise ZooError(
            f"unknown noise spec {text!r}; use awgn:SIGMA, awgn:LOW-HIGH, camera[:isp,sharp,incamera,wide,nojpeg]")

    def __str__(self) -> str:
        if self.kind == "camera":
            flags = (("isp", self.isp), ("sharp", self.sharp), ("incamera", self.incamera), ("wide", self.wide),
                     ("nojpeg", not self.jpeg))
            options = ",".join(o for o, on in flags if on)
            return f"camera:{options}" if options else "camera"
        lo, hi = self.sigma
        return f"awgn:{lo:g}" if lo == hi else f"awgn:{lo:g}-{hi:g}"

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        """Noisy version of a float32 HxWxC image, and the AWGN sigma used (0 for camera noise)."""
        if self.kind == "awgn":
            sigma = float(rng.uniform(*self.sigma))
            return awgn(clean, sigma, rng), sigma
        return camera_noise(clean, rng, jpeg=self.jpeg, wide=self.wide, isp=self.isp, sharp=self.sharp,
                            incamera=self.incamera), 0.0


def _sigma_range(arg: str) -> tuple[float, float]:
    try:
        lo, _, hi = arg.partition("-")
        low, high = float(lo), float(hi or lo)
    except ValueError:
        raise ZooError(f"AWGN sigma must be a number or LOW-HIGH, got {arg!r}") from None
    if not 0 <= low <= high <= 255:
        raise ZooError(f"AWGN sigma range must satisfy 0 <= LOW <= HIGH <= 255, got {arg!r}")
    return low, high


def estimate_sigma(image: np.ndarray) -> float:
    """Gaussian noise sigma (0-255 scale) of an HxWxC image: scikit-image's wavelet (MAD)
    estimate, averaged over channels."""
    from skimage.restoration import estimate_sigma as skimage_estimate

    return 255.0 * float(skimage_estimate(np.asarray(image, np.float64), channel_axis=-1, average_sigmas=True))


def awgn(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``sigma`` (0-255 scale); not clipped."""
    return (clean + rng.normal(0.0, sigma / 255.0, clean.shape)).astype(np.float32)


# -- realistic camera noise ---------------------------------------------------------------------
def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def camera_noise(
    clean: np.ndarray, rng: np.random.Generator, jpeg: bool = True, wide: bool = False, isp: bool = False,
    sharp: bool = False, incamera: bool = False,
) -> np.ndarray:
    """Realistic noise for a float32 HxWx3 sRGB image; see the module docstring."""
    shot, read = _noise_levels(rng, WIDE_SHOT_RANGE if wide else SHOT_RANGE)
    clean = clean.astype(np.float64)
    if isp:
        pipeline = CameraPipeline.random(rng)
        linear = pipeline.unprocess(clean)
    else:
        linear = srgb_to_linear(clean)
    raw = mosaic(linear)
    variance = np.maximum(raw, 0.0) * shot + read
    noise = rng.normal(0.0, 1.0, raw.shape) * np.sqrt(variance)
    if sharp:  # noise at the Bayer sites only, spread by the demosaic; the photo is kept as it was
        linear = linear + demosaic(noise * mosaic(np.ones_like(linear)))
    else:  # (read noise at the empty sites too: kept so that older cards' commands reproduce)
        linear = demosaic(raw + noise)
    noisy = (pipeline.process(linear) if isp else linear_to_srgb(linear)).astype(np.float32)
    if incamera:
        noisy = in_camera_noise_processing(clean.astype(np.float32), noisy, rng)
    return jpeg_roundtrip(noisy, int(rng.integers(*JPEG_QUALITY, endpoint=True))) if jpeg else noisy


# Full-range YCbCr (JPEG/JFIF), linear without offsets since it is applied to noise, not to pixel values.
_RGB2YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_YCC2RGB = np.linalg.inv(_RGB2YCC)


def in_camera_noise_processing(clean: np.ndarray, noisy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A camera JPEG engine's chroma noise reduction and sharpening, applied to the noise
    (``noisy - clean``, sRGB) only: Cb and Cr blurred with a Gaussian of sigma drawn from [0, 2] px,
    luma sharpened by an unsharp mask (radius 1 px) of amount drawn from [0, 1]."""
    chroma_sigma, amount = rng.uniform(0.0, 2.0), rng.uniform(0.0, 1.0)
    ycc = (noisy - clean) @ _RGB2YCC.T
    luma = ycc[..., 0]
    ycc[..., 0] = luma + amount * (luma - gaussian_filter(luma, 1.0, mode="mirror"))
    for c in (1, 2):
        ycc[..., c] = gaussian_filter(ycc[..., c], chroma_sigma, mode="mirror")
    return np.clip(clean + ycc @ _YCC2RGB.T, 0.0, 1.0).astype(np.float32)


# XYZ -> camera matrices of four cameras and the sRGB -> XYZ matrix, as in Brooks et al.'s
# unprocessing code (google-research/unprocessing, unprocess.py).
_XYZ2CAMS = np.array([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]],
])
_RGB2XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                     [0.2126729, 0.7151522, 0.0721750],
                     [0.0193339, 0.1191920, 0.9503041]])


@dataclass(frozen=True)
class CameraPipeline:
    """One random camera: colour matrix (sRGB -> camera RGB, rows summing to 1) and gains."""

    rgb2cam: np.ndarray
    rgb_gain: float  # overall brightness gain
    red_gain: float
    blue_gain: float

    @classmethod
    def random(cls, rng: np.random.Generator) -> CameraPipeline:
        weights = rng.uniform(1e-8, 1.0, len(_XYZ2CAMS))
        xyz2cam = np.tensordot(weights / weights.sum(), _XYZ2CAMS, axes=1)
        rgb2cam = xyz2cam @ _RGB2XYZ
        rgb2cam /= rgb2cam.sum(axis=1, keepdims=True)
        return cls(rgb2cam, 1.0 / rng.normal(0.8, 0.1), rng.uniform(1.9, 2.4), rng.uniform(1.5, 1.9))

    @property
    def gains(self) -> np.ndarray:
        return np.array([self.red_gain, 1.0, self.blue_gain]) * self.rgb_gain

    def unprocess(self, srgb: np.ndarray) -> np.ndarray:
        """sRGB [0, 1] -> linear camera RGB before white balance (what the sensor saw)."""
        x = np.clip(srgb, 0.0, 1.0)
        x = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * x) / 3.0)  # inverse smoothstep tone curve
        x = np.maximum(x, 1e-8) ** 2.2
        x = x @ self.rgb2cam.T
        # undo the gains, sparing highlights so that they stay saturated after processing
        gray = x.mean(axis=-1, keepdims=True)
        mask = (np.maximum(gray - 0.9, 0.0) / 0.1) ** 2
        inverse = 1.0 / self.gains
        return x * np.maximum(mask + (1.0 - mask) * inverse, inverse)

    def process(self, raw_rgb: np.ndarray) -> np.ndarray:
        """Demosaicked linear camera RGB -> sRGB [0, 1]: gains, colour matrix, gamma, tone curve."""
        x = np.clip(raw_rgb * self.gains, 0.0, 1.0)
        x = np.clip(x @ np.linalg.inv(self.rgb2cam).T, 0.0, 1.0)
        x = np.maximum(x, 1e-8) ** (1 / 2.2)
        return 3.0 * x**2 - 2.0 * x**3


def _noise_levels(rng: np.random.Generator, shot_range: tuple[float, float]) -> tuple[float, float]:
    log_shot = rng.uniform(np.log(shot_range[0]), np.log(shot_range[1]))
    log_read = 2.18 * log_shot + 1.2 + rng.normal(0.0, 0.26)
    return float(np.exp(log_shot)), float(np.exp(log_read))


# RGGB Bayer pattern: which channel each pixel of a 2x2 cell keeps.
_BAYER = np.array([[0, 1], [1, 2]])


def mosaic(rgb: np.ndarray) -> np.ndarray:
    """Keep one channel per pixel (RGGB) in an HxWx3 array, zeros elsewhere."""
    h, w, _ = rgb.shape
    keep = _BAYER[np.arange(h)[:, None] % 2, np.arange(w)[None, :] % 2]
    out = np.zeros_like(rgb)
    for c in range(3):
        out[..., c] = np.where(keep == c, rgb[..., c], 0.0)
    return out


_K_RB = np.array([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])
_K_G = np.array([[0.0, 0.25, 0.0], [0.25, 1.0, 0.25], [0.0, 0.25, 0.0]])


def demosaic(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of a mosaicked HxWx3 array."""
    kernels = (_K_RB, _K_G, _K_RB)
    return np.stack([convolve(raw[..., c], kernels[c], mode="mirror") for c in range(3)], axis=-1)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as 8-bit JPEG (4:2:0, as cameras do) at ``quality``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf), dtype=np.float32) / 255.0
