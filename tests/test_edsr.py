"""EDSR-denoise specifics. The generic checks, including torch-vs-Keras parity on default random
weights at every preset, are test_conformance's; parity here uses larger He-scaled weights."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.edsr.config import EDSRConfig
from zoo.testing import PARITY_ATOL, Conformance, sample_image as photo

pytest.importorskip("torch")


def he_weights(state: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """He-scaled random weights and biases: larger activations than the frameworks' defaults, so
    the network's own contribution (not only the skip connections) is what gets compared."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, v in state.items():
        fan_in = int(np.prod(v.shape[1:])) if v.ndim > 1 else 1
        out[k] = (rng.normal(0, np.sqrt(2 / fan_in), v.shape) * (0.1 if v.ndim == 1 else 1)).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def no_skip():
    """torch and Keras EDSR tiny without the global residual, on the same He weights (built once)."""
    pytest.importorskip("tensorflow")
    suite = Conformance("edsr", "tiny")
    suite.config = EDSRConfig.preset("tiny", global_residual=False)
    torch_d, tf_d = suite.build("torch"), suite.build("tensorflow")
    state = he_weights(torch_d.state_dict())
    torch_d.load_state_dict(state)
    tf_d.load_state_dict(state)
    return torch_d, tf_d


def test_parity_of_the_network_alone(no_skip):
    """Without the global residual the output is all network: relative diff within 1e-4."""
    torch_d, tf_d = no_skip
    x = photo((33, 20))[None]
    a, b = torch_d.forward(x, None), tf_d.forward(x, None)
    assert np.abs(a).max() > 1.0  # the weights do move the output
    assert np.abs(a - b).max() / np.abs(a).max() <= PARITY_ATOL


def test_pixel_shuffle_channel_order_matters(no_skip):
    """Keras must shuffle channels in torch's order: permuting upsample filters changes output."""
    torch_d, tf_d = no_skip
    state = torch_d.state_dict()
    w = state["upsample.weight"]
    f = w.shape[0] // 4
    swapped = {**state, "upsample.weight": w.reshape(f, 4, *w.shape[1:]).swapaxes(0, 1).reshape(w.shape)}
    x = photo((16, 16))[None]
    reference = tf_d.forward(x, None)
    tf_d.load_state_dict(swapped)
    try:
        assert np.abs(tf_d.forward(x, None) - reference).max() > 1e-2
    finally:
        tf_d.load_state_dict(state)


def test_receptive_field_is_exact(no_skip):
    """An impulse reaches exactly receptive_field pixels: the engine's tile margin is honest."""
    torch_d, _ = no_skip
    rf = torch_d.receptive_field
    assert rf == 2 * 4 + 4
    n = 2 * rf + 9
    x = photo((n, n))[None]
    y = x.copy()
    y[0, n // 2, n // 2] += 1.0
    changed = np.argwhere(np.abs(torch_d.forward(y, None) - torch_d.forward(x, None))[0].max(-1) > 0)
    assert np.abs(changed - n // 2).max() == rf


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_global_residual_with_zero_weights_is_identity(backend):
    pytest.importorskip(backend)
    suite = Conformance("edsr", "tiny")
    d = suite.build(backend)
    d.load_state_dict({k: np.zeros_like(v) for k, v in d.state_dict().items()})
    image = photo((19, 11))
    np.testing.assert_array_equal(d.denoise(image), image)


def test_any_size_without_padding():
    assert Conformance("edsr", "tiny").build("torch").size_multiple == 1
    d = Conformance("edsr", "tiny").build("torch")
    x = photo((7, 5))[None]
    assert d.forward(x, None).shape == x.shape
