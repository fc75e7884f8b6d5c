"""The sigma contract: how a model that takes a noise level gets one.

- ``sigma`` is the standard deviation of the noise on the **0-255 scale** (25 means 25/255 on the
  [0, 1] pixels a backend sees), whatever the image's bit depth.
- A Denoiser with ``takes_sigma = False`` (the default) is blind: it may ignore ``sigma``.
- A Denoiser with ``takes_sigma = True`` always gets a number in ``forward(batch, sigma)``: the
  user's ``--sigma`` when given, else ``estimate_sigma(image)``, which the engine calls **once per
  image, before tiling**, so every tile of a photo is denoised at the same level. Never estimate
  inside ``forward``: it sees one tile, and per-tile estimates differ (and cost PSNR).
- A config with ``noise_map = True`` (the built-in ``*_map`` tags) keeps ``takes_sigma = False``
  but ``uses_sigma``: a given sigma reaches the network as a noise-level map (two planes:
  sigma/50, and 1 for "known"; zoo.sdk.common.noise_map_planes); without one both planes are 0
  and the network, trained with the level sometimes dropped, runs blind. Nothing is estimated.
- ``TorchDenoiser`` and ``KerasDenoiser`` estimate with :func:`estimate_sigma` (the wavelet MAD
  estimate of :mod:`zoo.imaging.noise`); a plain ``Denoiser`` gets the same by inheriting
  :class:`EstimatesSigma` first, or overrides ``estimate_sigma`` with its own estimator.
"""

from __future__ import annotations

import numpy as np

from zoo.sdk.common import uses_noise_map

SIGMA_SCALE = 255.0  # sigma is given on this scale; divide by it for [0, 1] pixels


def estimate_sigma(image: np.ndarray) -> float:
    """Gaussian noise sigma (0-255 scale) of a whole HxWxC float image in [0, 1]."""
    from zoo.imaging.noise import estimate_sigma as wavelet_estimate

    return float(wavelet_estimate(image))


class EstimatesSigma:
    """Mixin for a Denoiser: ``estimate_sigma`` returns the image's estimated sigma when the
    model ``takes_sigma``, and None (nothing to estimate) for a blind model. List it before
    ``Denoiser``: ``class MyDenoiser(EstimatesSigma, Denoiser)``."""

    takes_sigma: bool
    config: object

    @property
    def uses_sigma(self) -> bool:
        """A given sigma is used: always when the model takes one; also by a config with a
        noise-level map, which runs blind without one."""
        return self.takes_sigma or uses_noise_map(self.config)

    def estimate_sigma(self, image: np.ndarray) -> float | None:
        return estimate_sigma(image) if self.takes_sigma else None
