"""The one interface every backend of every architecture implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, ClassVar

import numpy as np

from registry.config import DenoiserConfig
from registry.errors import WeightsError, ZooError

PRECISIONS = ("fp32", "bf16")
FLOAT_SLACK = 1e-3  # float pixels this far outside [0, 1] are rounding, clipped; further out, refused


def as_float_image(image: object, in_range: bool = True) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """``image`` as float32 in [0, 1], and the function that turns a result back into its dtype.

    What Pillow, OpenCV and imageio hand out is accepted: unsigned integers are scaled by their
    type's range (uint8 by 255, uint16 by 65535) and results come back in that type, rounded;
    floats must be finite and in [0, 1] and come back in their own float type. Anything else (bool,
    signed integers, complex, objects, bytes, NaN or inf) is a one-line ZooError. ``in_range=False``
    lets finite floats outside [0, 1] through unchanged: the tiled engine takes unclipped synthetic
    noise (AWGN as the benchmarks add it), the public entry points do not.
    """
    array = np.asarray(image)
    kind = array.dtype.kind
    if kind == "u":
        top = float(np.iinfo(array.dtype).max)
        dtype = array.dtype
        return (array / top).astype(np.float32), lambda out: np.round(np.clip(out, 0, 1) * top).astype(dtype)
    if kind != "f":
        raise ZooError(f"expected an image of unsigned integers (uint8, uint16) or floats in [0, 1], "
                       f"got dtype {array.dtype}")
    finite = np.isfinite(array)
    if not finite.all():
        bad = int((~finite).any(axis=-1).sum()) if array.ndim == 3 else int((~finite).sum())
        raise ZooError(f"the image has {bad} non-finite pixel(s) (NaN or inf); repair or mask them first")
    if not in_range:
        return array.astype(np.float32, copy=False), lambda out: np.asarray(out).astype(array.dtype, copy=False)
    if array.size and (array.min() < -FLOAT_SLACK or array.max() > 1 + FLOAT_SLACK):
        raise ZooError(f"float pixels must be in [0, 1], got values from {array.min():.4g} to {array.max():.4g}; "
                       "divide by 255 (or 65535) first, or pass the integer array itself")
    dtype = array.dtype
    return np.clip(array, 0, 1).astype(np.float32, copy=False), lambda out: np.asarray(out).astype(dtype, copy=False)


class Denoiser(ABC):
    """One architecture + one config + one backend + loaded weights.

    ``denoise(image, sigma=None)`` takes a float32 HxWxC array in [0, 1] (C = ``channels``, 3 for
    every built-in) and returns a float32 array of the same shape in [0, 1]. ``sigma`` is the noise
    standard deviation on the 0-255 scale; models with ``takes_sigma = False`` ignore it. This base
    pads to ``size_multiple`` (symmetric reflection), runs ``forward`` in inference mode, clamps and
    crops; a backend implements only ``forward`` and the canonical state dict.

    The canonical state dict is a flat ``dict[str, numpy.ndarray]`` with PyTorch parameter names and
    layouts (conv weights OIHW), which is what a ``.safetensors`` file holds whichever backend wrote
    it. ``receptive_field`` is the overlap in pixels a tile needs on each side for tiled inference
    to match whole-image inference.
    """

    size_multiple: ClassVar[int] = 1
    receptive_field: ClassVar[int] = 0
    takes_sigma: ClassVar[bool] = False
    channels: ClassVar[int] = 3
    dtypes: ClassVar[tuple[str, ...]] = ("float32",)

    #: metadata a config may carry (as fields or properties) when it depends on the config:
    #: config attribute -> Denoiser attribute
    CONFIG_METADATA: ClassVar[dict[str, str]] = {
        "receptive_field": "receptive_field", "bytes_per_pixel": "bytes_per_pixel", "image_channels": "channels",
    }

    def __init__(self, config: DenoiserConfig, *, architecture: str = "", backend: str = "") -> None:
        self.config = config
        self.architecture = architecture
        self.backend = backend
        for source, target in self.CONFIG_METADATA.items():
            value = getattr(config, source, None)
            if value is not None:
                setattr(self, target, value)

    # -- what backends implement
    @abstractmethod
    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        """Run the model on a float32 NHWC batch whose H and W are multiples of size_multiple."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """Canonical weights (empty for weight-free methods)."""
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        """Load canonical weights; raise WeightsError on missing, unexpected or misshapen tensors."""
        if state and strict:
            raise WeightsError(f"{self.architecture or type(self).__name__} takes no weights")

    @property
    def uses_sigma(self) -> bool:
        """Whether a given ``sigma`` changes the result: always for ``takes_sigma`` models; also for
        models with a noise-level map input, which run blind when sigma is None."""
        return self.takes_sigma

    def estimate_sigma(self, image: np.ndarray) -> float | None:
        """Noise sigma (0-255 scale) of a whole image, for models that take one. The engine calls
        this once per image, before tiling; when it returns None the engine uses the zoo's own
        estimate (zoo.imaging.noise.estimate_sigma), so ``forward`` always gets a number."""
        return None

    # -- the shared contract
    def denoise(self, image: np.ndarray, sigma: float | None = None) -> np.ndarray:
        """Denoise one HxWxC image: float32 in [0, 1] (see the class docstring), or uint8/uint16,
        returned in the same dtype (see :func:`as_float_image`)."""
        pixels, back = as_float_image(image)
        return back(self.denoise_batch(self._check(pixels)[None], sigma)[0])

    def denoise_batch(self, batch: np.ndarray, sigma: float | None = None) -> np.ndarray:
        """Denoise a float32 NHWC batch of equally sized images; a non-finite result is an error,
        never returned."""
        batch = np.asarray(batch)
        if batch.ndim != 4 or batch.shape[3] != self.channels or batch.dtype.kind != "f":
            raise ZooError(f"denoise_batch takes a float NxHxWx{self.channels} batch, got shape {batch.shape} "
                           f"of {batch.dtype}; use denoise() for one image")
        batch = batch.astype(np.float32, copy=False)
        _, h, w, _ = batch.shape
        m = self.size_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            batch = np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="symmetric")
        out = np.asarray(self.forward(np.ascontiguousarray(batch), sigma), dtype=np.float32)
        if not np.isfinite(out).all():
            raise ZooError(f"{self.architecture or type(self).__name__} produced non-finite values (NaN or inf): "
                           "its weights are broken; nothing was written")
        return np.clip(out[:, :h, :w, :], 0.0, 1.0)

    #: how ``forward`` runs now, set by :meth:`accelerate`
    precision: str = "fp32"
    compiled: bool = False

    def accelerate(self, *, precision: str = "fp32", compile: bool = False) -> None:
        """Run faster from now on: ``precision`` "bf16" computes in bfloat16 where the backend can
        (outputs stay float32), ``compile`` turns the model into a compiled graph (torch.compile,
        XLA). Backends that can do neither keep this default, which accepts only fp32 uncompiled."""
        if precision not in PRECISIONS:
            raise ZooError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision != "fp32" or compile:
            wanted = " and ".join(w for w, on in ((precision, precision != "fp32"), ("compile", compile)) if on)
            raise ZooError(f"{self.architecture or type(self).__name__} ({self.backend or 'this backend'}) "
                           f"cannot run {wanted}; use fp32 without --compile")

    def _check(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != self.channels:
            raise ZooError(
                f"expected an HxWx{self.channels} image, got shape {image.shape}; "
                "use zoo.denoise() or the engine for grayscale and alpha images"
            )
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise ZooError(f"empty image of shape {image.shape}")
        return image.astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.architecture} backend={self.backend}>"
