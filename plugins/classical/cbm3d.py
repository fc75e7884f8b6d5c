"""CBM3D through the ``bm3d`` package; sigma is estimated with scikit-image when not given."""

from __future__ import annotations

import numpy as np

from plugins.classical.config import CBM3DConfig
from zoo import Denoiser
from zoo.sdk import estimate_sigma


class CBM3D(Denoiser):
    takes_sigma = True
    receptive_field = 40  # block matching searches a 39x39 window around each 8x8 block

    def estimate_sigma(self, image: np.ndarray) -> float:
        return estimate_sigma(image)

    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        return np.stack([self._one(img, sigma) for img in batch])

    def _one(self, image: np.ndarray, sigma: float | None) -> np.ndarray:
        import bm3d

        sigma01 = (estimate_sigma(image) if sigma is None else sigma) / 255.0
        if sigma01 <= 0:
            return image
        out = bm3d.bm3d_rgb(image, sigma01, profile=self.config.profile, colorspace=self.config.colorspace)
        return out.astype(np.float32)


def build(config: CBM3DConfig) -> CBM3D:
    return CBM3D(config)
