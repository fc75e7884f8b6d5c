"""Tiled inference: seamless blending, size multiples, memory-derived tiles, ensemble, channels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.config import DenoiserConfig
from registry.errors import ZooError
from tests._zoo_models import Identity
from zoo.inference import engine

torch = pytest.importorskip("torch")
from tests._zoo_models import ConvNet  # noqa: E402  (needs torch)

RNG = np.random.default_rng(3)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return RNG.random((181, 157, 3), dtype=np.float32)


@pytest.mark.parametrize("size_multiple", [2, 8])
@pytest.mark.parametrize("tile", [64, 100])
def test_tiled_equals_whole_image_for_a_local_model(image, size_multiple, tile):
    net = ConvNet(size_multiple)
    plan = engine.plan_tiles(net, *image.shape[:2], tile=tile)
    assert plan.count > 1
    tiled = engine.run(net, image, tile=tile)
    np.testing.assert_allclose(tiled, net.denoise(image), atol=1e-5, rtol=0)


def test_tiles_from_the_memory_budget_are_seamless(image):
    net = ConvNet(2)
    tiled = engine.run(net, image, max_memory=64 * 64 * engine.DEFAULT_BYTES_PER_PIXEL)
    np.testing.assert_allclose(tiled, net.denoise(image), atol=1e-5, rtol=0)


def test_ensemble_tiled_equals_ensemble_whole(image):
    net = ConvNet(2)
    tiled = engine.run(net, image[:100], tile=64, ensemble=True)
    whole = engine.run(net, image[:100], tile=4096, ensemble=True)
    np.testing.assert_allclose(tiled, whole, atol=1e-5, rtol=0)
    assert not np.allclose(whole, net.denoise(image[:100]), atol=1e-3)  # the 8 views really were averaged


@pytest.mark.parametrize("count", [2, 4, 8])
def test_fewer_views_average_their_own_views(image, count):
    net = ConvNet(2)
    photo = image[:60, :50]
    expected = {2: [photo, photo[::-1, ::-1]],  # the photo and the photo turned 180 degrees
                4: [np.rot90(photo, k) for k in range(4)],
                8: [np.rot90(v, k) for k in range(4) for v in (photo, photo[:, ::-1])]}[count]
    undone = []
    for i, view in enumerate(expected):
        out = net.denoise(np.ascontiguousarray(view))
        if count == 2:
            undone.append(out if i == 0 else out[::-1, ::-1])
        elif count == 4:
            undone.append(np.rot90(out, -i))
        else:
            back = np.rot90(out, -(i // 2))
            undone.append(back[:, ::-1] if i % 2 else back)
    np.testing.assert_allclose(engine.run(net, photo, ensemble=count), np.mean(undone, axis=0), atol=1e-5, rtol=0)
    assert engine.views(True) == 8 and engine.views(False) == 1
    with pytest.raises(ZooError, match="views"):
        engine.run(net, photo, ensemble=3)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_identity_keeps_pixels_and_alpha(channels):
    pixels = RNG.random((45, 70, channels), dtype=np.float32)
    out = engine.run(Identity(DenoiserConfig()), pixels, tile=16, ensemble=channels == 4)
    assert out.shape == pixels.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, pixels, atol=1e-6)
    if channels in (2, 4):
        assert np.array_equal(out[..., -1], pixels[..., -1])


def test_weights_are_a_partition_of_unity():
    """Every interior pixel's weights sum to 1 before normalisation where fades meet."""
    size, margin = 100, 5
    left = engine._window(size, 0, 1000, margin)
    right = engine._window(size, size - (2 * margin + engine.BLEND), 1000, margin)
    overlap = 2 * margin + engine.BLEND
    np.testing.assert_allclose(left[-overlap:] + right[:overlap], 1.0, atol=1e-6)
    assert left[0] == 1.0 and left[-margin:].max() == 0.0


def test_tiles_follow_the_memory_budget():
    net = Identity(DenoiserConfig())

    def area(plan):
        return plan.tile[0] * plan.tile[1]

    small = engine.plan_tiles(net, 3000, 4000, max_memory=64 << 20)
    assert small.tile[0] % net.size_multiple == 0 and small.tile[1] % net.size_multiple == 0
    assert area(small) * engine.DEFAULT_BYTES_PER_PIXEL <= 64 << 20
    assert area(engine.plan_tiles(net, 3000, 4000, max_memory=256 << 20)) > area(small)
    net.bytes_per_pixel = 100  # a model that declares its working memory gets bigger tiles
    assert area(engine.plan_tiles(net, 3000, 4000, max_memory=64 << 20)) > area(small)


class Reach(Identity):
    def __init__(self, receptive_field: int, size_multiple: int, bytes_per_pixel: int) -> None:
        super().__init__(DenoiserConfig())
        self.receptive_field, self.size_multiple, self.bytes_per_pixel = receptive_field, size_multiple, bytes_per_pixel


def test_balanced_tiles_compute_fewer_pixels_than_square_ones():
    # 12 MP photo, MWRCANet-small-like reach; a 2.2 MP budget allows 1480-pixel squares, which
    # would need a 3x3 grid with a thin last row and column
    net = Reach(96, 8, 480)
    plan = engine.plan_tiles(net, 3000, 4000, max_memory=1 << 30)
    computed = plan.count * plan.tile[0] * plan.tile[1]
    overlap = 2 * 96 + engine.BLEND
    square = (3 * 3) * 1480**2
    assert computed < 0.8 * square and computed < 1.3 * 3000 * 4000
    assert plan.tile[0] * plan.tile[1] * 480 <= 1 << 30
    whole = engine.plan_tiles(net, 3000, 4000, max_memory=8 << 30)  # fits whole along one side
    assert whole.count * whole.tile[0] * whole.tile[1] <= (3000 + overlap) * 4000


@given(h=st.integers(1, 3000), w=st.integers(1, 3000), m=st.sampled_from([1, 2, 8, 16]),
       reach=st.integers(0, 100), budget=st.integers(1 << 18, 1 << 31))
@settings(max_examples=200, deadline=None)
def test_any_plan_covers_the_canvas_with_the_overlap_it_needs(h, w, m, reach, budget):
    net = Reach(reach, m, 512)
    plan = engine.plan_tiles(net, h, w, max_memory=budget)
    overlap = -(-(2 * reach + engine.BLEND) // m) * m
    axes = ((plan.rows, plan.tile[0], plan.canvas[0], h), (plan.cols, plan.tile[1], plan.canvas[1], w))
    for starts, side, length, image in axes:
        assert length % m == 0 and length >= image
        assert side % m == 0 and 0 < side <= length and side <= engine.MAX_TILE
        assert starts[0] == 0 and starts[-1] + side == length and all(s % m == 0 for s in starts)
        assert all(0 < b - a <= side - overlap for a, b in zip(starts, starts[1:]))
    fits = plan.tile[0] * plan.tile[1] * 512 <= budget
    assert fits or plan.tile[0] <= 2 * overlap and plan.tile[1] <= 2 * overlap


def test_tiles_are_batched_and_progress_is_reported():
    calls, seen = [], []

    class Counting(Identity):
        def forward(self, batch, sigma):
            calls.append(batch.shape)
            return batch

    pixels = RNG.random((200, 200, 3), dtype=np.float32)
    engine.run(Counting(DenoiserConfig()), pixels, tile=64, max_memory=1 << 30,
               progress=lambda done, total: seen.append((done, total)))
    assert len(calls) < seen[-1][1] and all(s[0] > 1 for s in calls[:-1])
    assert seen[-1][0] == seen[-1][1]


@pytest.mark.parametrize(("text", "size"), [("1G", 1 << 30), ("512MB", 512 << 20), ("1.5GiB", 3 << 29), ("300", 300 << 20)])
def test_parse_memory(text, size):
    assert engine.parse_memory(text) == size


@pytest.mark.parametrize("text", ["lots", "10K", ""])
def test_parse_memory_rejects_nonsense(text):
    with pytest.raises(ZooError):
        engine.parse_memory(text)


def test_engine_does_not_import_frameworks():
    import subprocess
    import sys

    code = "import zoo.inference.engine, zoo.inference.batch, zoo.photo.imageio, sys; print('torch' in sys.modules or 'tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_mwrcanet_local_pooling_tiles_match_whole_image():
    """Small version of benchmarks/seams.py: TLC local pooling keeps tiles within 1e-3 of whole."""
    from registry.errors import UnknownModelError
    from registry.manager import get_registry

    try:
        get_registry().get("mwrcanet")
    except UnknownModelError:
        pytest.skip("mwrcanet is not registered")
    import sys
    from pathlib import Path

    import zoo

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from seams import synthetic_photo

    image = synthetic_photo(400, 240)
    torch.manual_seed(0)
    net = zoo.load("mwrcanet", preset="tiny", pretrained=False, attention_pooling="local")
    assert engine.plan_tiles(net, 240, 400, tile=256).count > 1
    tiled = engine.run(net, image, tile=256)
    assert np.abs(tiled - net.denoise(image)).max() < 1e-3


class _PerChannel(Identity):
    """A single-channel model that records the batches it sees and darkens its input."""

    channels = 1

    def __init__(self):
        super().__init__(DenoiserConfig())
        self.shapes = []

    def forward(self, batch, sigma):
        self.shapes.append(batch.shape)
        return batch * 0.5


def test_single_channel_model_denoises_each_colour_separately():
    model = _PerChannel()
    rgb = np.random.default_rng(0).random((20, 12, 3), dtype=np.float32)
    out = engine.run(model, rgb)
    assert np.allclose(out, rgb * 0.5, atol=1e-6)
    assert all(shape[3] == 1 for shape in model.shapes) and model.shapes[0][0] % 3 == 0


class _Sigma(Identity):
    takes_sigma = True

    def __init__(self):
        super().__init__(DenoiserConfig())
        self.sigmas = []

    def estimate_sigma(self, image):
        return 17.0

    def forward(self, batch, sigma):
        self.sigmas.append(sigma)
        return batch


def test_sigma_is_estimated_once_per_image_not_per_tile():
    model = _Sigma()
    engine.run(model, np.zeros((64, 64, 3), np.float32), tile=16)
    assert len(model.sigmas) >= 1 and set(model.sigmas) == {17.0}
