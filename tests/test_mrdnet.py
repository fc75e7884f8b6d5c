"""MRDNet specifics. The generic checks, including torch-vs-Keras parity on default random
weights at every preset, are test_conformance's; parity here uses larger He-scaled weights and
covers every image-pooling mode."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.mrdnet.config import MRDNetConfig
from registry.manager import get_registry
from tests.test_edsr import he_weights
from zoo.testing import PARITY_ATOL, Conformance, sample_image as photo

pytest.importorskip("torch")


def pair(**overrides):
    """torch and Keras MRDNet tiny with ``overrides``, on the same He weights."""
    pytest.importorskip("tensorflow")
    suite = Conformance("mrdnet", "tiny")
    suite.config = MRDNetConfig.preset("tiny", **overrides)
    torch_d, tf_d = suite.build("torch"), suite.build("tensorflow")
    state = he_weights(torch_d.state_dict(), seed=3)
    torch_d.load_state_dict(state)
    tf_d.load_state_dict(state)
    return torch_d, tf_d


@pytest.fixture(scope="module")
def global_pool():
    return pair()


@pytest.fixture(scope="module")
def local_pool():
    # train_size 16 gives a 24-pixel TLC window, smaller than the test images
    return pair(image_pooling="local", train_size=16)


@pytest.fixture(scope="module")
def no_pool():
    return pair(image_pooling="none")


def residual_diff(torch_d, tf_d, x: np.ndarray) -> float:
    """Max difference of the predicted residuals (output minus input), relative to their size."""
    a, b = torch_d.forward(x, None) - x, tf_d.forward(x, None) - x
    assert np.abs(a).max() > 1.0  # the weights do move the output
    return float(np.abs(a - b).max() / np.abs(a).max())


def test_aliases():
    registry = get_registry()
    assert registry.get("samsung_mrdnet").name == registry.get("mrdn").name == "mrdnet"


def test_parity_global_pooling_he_weights(global_pool):
    torch_d, tf_d = global_pool
    assert residual_diff(torch_d, tf_d, photo((30, 27))[None]) <= PARITY_ATOL


def test_parity_local_pooling(local_pool):
    assert residual_diff(*local_pool, photo((40, 31))[None]) <= PARITY_ATOL


def test_parity_without_pooling(no_pool):
    assert residual_diff(*no_pool, photo((26, 35))[None]) <= PARITY_ATOL


def test_pooling_modes_share_weights_except_none():
    suite, names = Conformance("mrdnet", "tiny"), {}
    for mode in ("global", "local", "none"):
        suite.config = MRDNetConfig.preset("tiny", image_pooling=mode)
        names[mode] = set(suite.build("torch").state_dict())
    assert names["global"] == names["local"]
    assert names["none"] < names["global"]


def test_receptive_field_is_exact_without_pooling(no_pool):
    """Without image pooling an impulse reaches exactly receptive_field pixels (rate 12 per block)."""
    torch_d, _ = no_pool
    rf = torch_d.receptive_field
    assert rf == 4 + 2 * 12
    n = 2 * rf + 5
    x = photo((n, n))[None]
    y = x.copy()
    y[0, n // 2, n // 2] += 1.0
    changed = np.argwhere(np.abs(torch_d.forward(y, None) - torch_d.forward(x, None))[0].max(-1) > 0)
    assert np.abs(changed - n // 2).max() == rf


def test_global_pooling_reaches_the_whole_image(global_pool):
    """As documented: with global image pooling no tile overlap makes tiles exact."""
    torch_d, _ = global_pool
    n = 2 * torch_d.receptive_field + 9
    x = photo((n, n))[None]
    y = x.copy()
    y[0, 0, 0] += 1.0
    assert np.abs(torch_d.forward(y, None) - torch_d.forward(x, None))[0, -1, -1].max() > 0


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_dropout_is_off_at_inference(backend):
    """Dropout is weight-free and a no-op when denoising, in both backends."""
    pytest.importorskip(backend)
    suite = Conformance("mrdnet", "tiny")
    plain = suite.build(backend)
    suite.config = MRDNetConfig.preset("tiny", dropout=0.5)
    dropped = suite.build(backend)
    dropped.load_state_dict(plain.state_dict())
    image = photo((21, 18))
    np.testing.assert_array_equal(dropped.denoise(image), plain.denoise(image))


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_global_residual_with_zero_weights_is_identity(backend):
    pytest.importorskip(backend)
    d = Conformance("mrdnet", "tiny").build(backend)
    d.load_state_dict({k: np.zeros_like(v) for k, v in d.state_dict().items()})
    image = photo((15, 22))
    np.testing.assert_array_equal(d.denoise(image), image)
