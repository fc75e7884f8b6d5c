"""MWRCANet: exact Haar DWT/IWT, the seed's parameter count, TLC pooling, CLI backend parity.

Generic checks (shapes, range, state round trips, backend parity per preset) live in the
conformance suite (tests/test_conformance.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests.conftest import run_zoo, save_rgb
from zoo.weights.files import save_state

torch = pytest.importorskip("torch")

SEED_INPUT = 256  # the seed's Keras model was built for 256x256 inputs


@st.composite
def batches(draw) -> np.ndarray:
    """float32 NHWC batches with even sides (what a DWT level receives), values of any scale."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    h, w = 2 * draw(st.integers(1, 12)), 2 * draw(st.integers(1, 12))
    values = st.floats(-1e3, 1e3, allow_nan=False, width=32)
    return draw(arrays(np.float32, (n, h, w, c), elements=values))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    # the transform is orthonormal, so round-off stays within a few ulps of the largest value
    return np.abs(a - b).max(initial=0) <= 4e-7 * max(1.0, float(np.abs(b).max(initial=0)))


@settings(max_examples=40, deadline=None)
@given(batches())
def test_torch_dwt_iwt_are_exact_inverses(x):
    from zoo.sdk.torch_base import haar_dwt, haar_iwt

    t = torch.from_numpy(x).permute(0, 3, 1, 2)
    assert _close(haar_iwt(haar_dwt(t)).permute(0, 2, 3, 1).numpy(), x)
    bands = torch.from_numpy(x).permute(0, 3, 1, 2).repeat(1, 4, 1, 1)  # any 4C-channel input
    assert _close(haar_dwt(haar_iwt(bands)).numpy(), bands.numpy())


@settings(max_examples=40, deadline=None)
@given(batches())
def test_tf_dwt_iwt_are_exact_inverses_and_match_torch(x):
    pytest.importorskip("tensorflow")
    from zoo.sdk import keras_base as tf_base
    from zoo.sdk import torch_base

    assert _close(tf_base.haar_iwt(tf_base.haar_dwt(x)).numpy(), x)
    bands = np.tile(x, (1, 1, 1, 4))
    assert _close(tf_base.haar_dwt(tf_base.haar_iwt(bands)).numpy(), bands)
    in_torch = torch_base.haar_dwt(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(tf_base.haar_dwt(x).numpy(), in_torch)  # same band order, same arithmetic


def test_dwt_is_orthonormal():
    from zoo.sdk.torch_base import haar_dwt

    x = torch.randn(1, 3, 8, 8, dtype=torch.float64)
    assert torch.allclose(haar_dwt(x).square().sum(), x.square().sum())  # energy preserved


def seed_and_ours(preset: str = "full") -> tuple[int, int]:
    """Parameter counts of the seed's Keras network (per-pixel PReLU alpha at 256x256) and ours."""
    from plugins.mwrcanet.config import MWRCANetConfig
    from plugins.mwrcanet.tf_backend import build_model

    cfg = MWRCANetConfig.preset(preset)
    seed = build_model(cfg, size=SEED_INPUT, per_pixel_alpha=True).count_params()
    return seed, build_model(cfg).count_params()


def test_full_preset_is_the_seed_network_with_shared_alpha():
    pytest.importorskip("tensorflow")
    from plugins.mwrcanet.config import MWRCANetConfig
    from plugins.mwrcanet.torch_backend import MWRCANet

    seed, ours = seed_and_ours("full")
    with torch.device("meta"):  # shapes only: the seed's alpha count needs each PReLU's map size
        module = MWRCANet(MWRCANetConfig.preset("full"))
        assert ours == sum(p.numel() for p in module.parameters())
        extra = []
        for layer in module.modules():
            if isinstance(layer, torch.nn.PReLU):
                layer.register_forward_hook(lambda m, x, y: extra.append(m.num_parameters * (x[0][0, 0].numel() - 1)))
        module(torch.empty(1, 3, SEED_INPUT, SEED_INPUT))
    # the only difference: each PReLU's alpha is per pixel in the seed, per channel in ours
    assert seed - ours == sum(extra)


def test_local_pooling_brings_tiles_closer_to_the_whole_image():
    from zoo import load
    from zoo.inference import engine

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, 480, dtype=np.float32)
    image = np.clip(ramp[:, None, None] * ramp[None, :, None] + rng.normal(0, 0.1, (480, 480, 3)), 0, 1)
    image = image.astype(np.float32)
    diffs = {}
    torch.manual_seed(0)
    state = None
    for pool in ("global", "local"):
        d = load("mwrcanet", backend="torch", preset="tiny", pretrained=False, attention_pooling=pool, train_size=128)
        state = state or d.state_dict()
        d.load_state_dict(state)
        diffs[pool] = np.abs(engine.run(d, image, tile=336) - d.denoise(image)).mean()
    assert diffs["local"] < diffs["global"] / 5, diffs


def test_cli_torch_and_tensorflow_agree_within_one_level(tmp_path):
    """The acceptance check: same random weights file, both backends, at most 1/255 apart."""
    pytest.importorskip("tensorflow")
    from PIL import Image

    from zoo import load

    weights = tmp_path / "W.safetensors"
    save_state(load("mwrcanet", backend="torch", pretrained=False).state_dict(), weights)  # default preset
    rng = np.random.default_rng(3)
    image = save_rgb(tmp_path / "img.png", np.linspace(0, 1, 45 * 61 * 3).reshape(45, 61, 3) + rng.normal(0, 0.08, (45, 61, 3)))
    outs = {}
    for backend in ("torch", "tensorflow"):
        out = tmp_path / f"out-{backend}.png"
        ran = run_zoo("denoise", "--model", "mwrcanet", "--weights", str(weights), str(image),
                      "--backend", backend, "-o", str(out), env={"ZOO_PLUGINS": "mwrcanet"})
        assert ran.returncode == 0, ran.stderr
        outs[backend] = np.asarray(Image.open(out), dtype=np.int16)
    assert outs["torch"].shape == (45, 61, 3)
    assert np.abs(outs["torch"] - outs["tensorflow"]).max() <= 1
