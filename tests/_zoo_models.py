"""Tiny denoisers for engine, image I/O and batch tests: an identity and small conv nets."""

from __future__ import annotations

import numpy as np

from registry.config import DenoiserConfig
from registry.denoiser import Denoiser


class Identity(Denoiser):
    """Returns its input: what comes out of the pipeline is what image I/O and the engine kept."""

    receptive_field = 3
    size_multiple = 4

    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        return batch


class ConvNet(Denoiser):
    """conv3x3-ReLU-(pixel unshuffle, conv3x3, pixel shuffle)-conv3x3 with random weights.

    Zero 'same' padding, so its output at a pixel depends only on inputs within 1 + 2 + 1 + 1
    pixels (the half-resolution conv reaches 2 full-resolution pixels plus the shuffle phase):
    translation-equivariant for shifts that are multiples of 2 within ``receptive_field``.
    """

    receptive_field = 6

    def __init__(self, size_multiple: int = 2, seed: int = 0) -> None:
        import torch

        super().__init__(DenoiserConfig(), architecture="convnet", backend="torch")
        self.size_multiple = size_multiple
        gen = torch.Generator().manual_seed(seed)
        self.w = [torch.randn(s, generator=gen) * 0.2 for s in ((8, 3, 3, 3), (32, 32, 3, 3), (3, 8, 3, 3))]

    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            x = torch.from_numpy(batch).permute(0, 3, 1, 2)
            y = F.relu(F.conv2d(x, self.w[0], padding=1))
            y = F.pixel_shuffle(F.relu(F.conv2d(F.pixel_unshuffle(y, 2), self.w[1], padding=1)), 2)
            y = x + 0.1 * F.conv2d(y, self.w[2], padding=1)
            return y.permute(0, 2, 3, 1).numpy()


def build_identity(config: DenoiserConfig) -> Identity:
    """Backend target for a fake 'ident' plugin in CLI tests."""
    return Identity(config)
