"""The one interface every backend of every architecture implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from registry.config import DenoiserConfig
from registry.errors import WeightsError, ZooError

PRECISIONS = ("fp32", "bf16")


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

    def estimate_sigma(self, image: np.ndarray) -> float | None:
        """Noise sigma (0-255 scale) of a whole image, for models that take one; None = the
        model estimates it itself. The engine calls this once per image, before tiling."""
        return None

    # -- the shared contract
    def denoise(self, image: np.ndarray, sigma: float | None = None) -> np.ndarray:
        """Denoise one float32 HxWxC image in [0, 1]; see the class docstring."""
        return self.denoise_batch(self._check(image)[None], sigma)[0]

    def denoise_batch(self, batch: np.ndarray, sigma: float | None = None) -> np.ndarray:
        """Denoise a float32 NHWC batch of equally sized images."""
        batch = np.asarray(batch, dtype=np.float32)
        _, h, w, _ = batch.shape
        m = self.size_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            batch = np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="symmetric")
        out = np.asarray(self.forward(np.ascontiguousarray(batch), sigma), dtype=np.float32)
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
