"""The noise-level map input (issue 23 item 3) and `zoo train --grow`: one network that uses a
given --sigma and runs blind without it; a larger network started from a smaller one's weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import one_line_error, tiny_train_args
from zoo.cli import app

torch = pytest.importorskip("torch")
runner = CliRunner()
ARCHES = (("mwrcanet", "tiny"), ("edsr", "small"), ("mrdnet", "tiny"))
SMALL = "plugins/mwrcanet/weights/awgn_small.safetensors"


def _image(seed: int = 0, size: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).random((1, size, size, 3), dtype=np.float32)


def _random_map_model(arch: str, preset: str, backend: str = "torch"):
    from zoo.weights.loader import load

    return load(arch, backend=backend, preset=preset, pretrained=False, noise_map=True)


@pytest.mark.parametrize("arch,preset", ARCHES)
def test_a_noise_map_model_uses_a_given_sigma_and_runs_blind_without(arch, preset):
    torch.manual_seed(0)
    d = _random_map_model(arch, preset)
    assert d.uses_sigma and not d.takes_sigma  # nothing is estimated: no sigma means blind
    x = _image()
    blind, s15, s50 = (d.denoise_batch(x, s) for s in (None, 15.0, 50.0))
    assert np.abs(s15 - s50).max() > 1e-3 and np.abs(blind - s15).max() > 1e-3
    # blind is the map's planes at 0; sigma S is S / NOISE_LEVEL_SCALE and 1
    image = torch.from_numpy(x).permute(0, 3, 1, 2)
    for planes, out in ((torch.zeros(1, 2, 40, 40), blind), (torch.tensor([0.3, 1.0]).view(1, 2, 1, 1), s15)):
        direct = d.module(torch.cat([image, planes.expand(1, 2, 40, 40)], 1)).permute(0, 2, 3, 1)
        np.testing.assert_allclose(out, np.clip(direct.detach().numpy(), 0, 1), atol=1e-6)  # 15 / 50 = 0.3


@pytest.mark.parametrize("arch,preset", ARCHES)
def test_torch_and_keras_agree_with_and_without_the_level(arch, preset):
    pytest.importorskip("keras")
    torch.manual_seed(1)
    t = _random_map_model(arch, preset)
    k = _random_map_model(arch, preset, "tensorflow")
    k.load_state_dict(t.state_dict())
    x = _image(1)
    for sigma in (None, 25.0):
        np.testing.assert_allclose(k.denoise_batch(x, sigma), t.denoise_batch(x, sigma), atol=1e-4)


def test_a_blind_model_is_unchanged_by_sigma_and_has_no_map():
    from zoo.weights.loader import load

    d = load("mwrcanet:awgn_small", backend="torch")
    assert not d.uses_sigma
    assert d.module.down1.conv.weight.shape[1] == 12  # 4 DWT bands x 3 colours, no map planes
    x = _image(2, 32)
    np.testing.assert_array_equal(d.denoise_batch(x, None), d.denoise_batch(x, 25.0))


def test_runtimes_leave_a_noise_map_model_on_its_own_backend():
    from registry.errors import BackendUnavailableError
    from zoo.runtimes import backends
    from registry.manager import get_registry

    arch = get_registry().get("mwrcanet")
    with pytest.raises(BackendUnavailableError, match="noise level"):
        backends.build(arch, arch.config.preset("tiny", noise_map=True), "onnx")


def test_grow_keeps_what_the_smaller_network_computes():
    from zoo.training.config import TrainConfig
    from zoo.training.grow import starting_point
    from zoo.weights.loader import load

    small = load("mwrcanet", backend="torch", weights=SMALL)
    cfg = TrainConfig(model="mwrcanet", preset="medium", data=("unused",), init=SMALL, grow=True, noise_map=True)
    big = starting_point(cfg)
    assert big.config.blocks == 4 and big.config.noise_map
    x = _image(3, 48)
    for sigma in (None, 25.0):  # the map's weights start at 0, the new blocks as identities
        np.testing.assert_allclose(big.denoise_batch(x, sigma), small.denoise_batch(x), atol=1e-5)


def test_grow_refuses_what_it_cannot_grow():
    from registry.errors import ZooError
    from zoo.training.config import TrainConfig
    from zoo.training.grow import grown, starting_point

    cfg = TrainConfig(model="mwrcanet", preset="tiny", data=("unused",), init=SMALL, grow=True)
    with pytest.raises(ZooError, match="never removes"):  # tiny has fewer blocks than small
        starting_point(cfg)
    with pytest.raises(ZooError, match="widths must match"):
        grown({"a.weight": np.zeros((4, 2))}, {"a.weight": np.zeros((2, 2))}, ())
    with pytest.raises(ZooError, match="never removes"):
        grown({"a.weight": np.zeros((2, 2))}, {"a.weight": np.zeros((2, 2)), "b.weight": np.zeros(1)}, ())
    # a residual end the small network lacks starts at zero; other new tensors keep their init
    fresh = {"blocks.1.conv1.weight": np.ones((2, 2, 3, 3)), "blocks.1.conv2.weight": np.ones((2, 2, 1, 1))}
    state = grown(fresh, {}, ("conv2",))
    assert state["blocks.1.conv1.weight"].all() and not state["blocks.1.conv2.weight"].any()


def test_the_sampler_appends_the_level_and_withholds_it_from_some_patches():
    from zoo.imaging.noise import NoiseSpec
    from zoo.training.data import PatchSampler

    photos = [np.random.default_rng(i).integers(0, 256, (64, 64, 3), dtype=np.uint8) for i in range(3)]
    spec = NoiseSpec.parse("awgn:5-50")
    noisy, clean = PatchSampler(photos, 32, spec, map_drop=0.5).batch(200, np.random.default_rng(7))
    plain, plain_clean = PatchSampler(photos, 32, spec).batch(200, np.random.default_rng(7))
    assert noisy.shape == (200, 32, 32, 5)
    np.testing.assert_array_equal(noisy[..., :3], plain)  # the patches and noise are those of a run without
    np.testing.assert_array_equal(clean, plain_clean)
    level, known = noisy[:, 0, 0, 3], noisy[:, 0, 0, 4]
    assert set(np.unique(known)) == {0.0, 1.0} and 60 < known.sum() < 140
    assert not level[known == 0].any()
    sigma = level[known == 1] * 50  # the patch's own sigma (NOISE_LEVEL_SCALE): its noise's spread agrees
    residual = (noisy[known == 1, ..., :3] - clean[known == 1]).reshape(len(sigma), -1).std(axis=1) * 255
    assert np.all((sigma >= 5) & (sigma <= 50)) and np.corrcoef(sigma, residual)[0, 1] > 0.99
    assert (noisy[..., 3:] == noisy[:, :1, :1, 3:]).all()  # constant planes


def test_zoo_train_noise_map_then_denoise_with_and_without_sigma(ramp_photos, tmp_path, rgb_image):
    out = tmp_path / "map.safetensors"
    result = runner.invoke(app, tiny_train_args(ramp_photos, out, "--steps", "2", "--noise", "awgn:10-40",
                                                "--noise-map", "--map-drop", "0.3"))
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["config"]["noise_map"] is True
    assert "--noise-map" in card["training"]["command"] and "--map-drop 0.3" in card["training"]["command"]
    assert {"val_psnr", "val_given_psnr"} <= set(card["metrics"])
    outputs = []
    for extra in ((), ("--sigma", "40")):
        target = tmp_path / f"out{len(extra)}.png"
        result = runner.invoke(app, ["denoise", str(rgb_image), "--model", "mwrcanet", "--weights", str(out),
                                     "-o", str(target), *extra])
        assert result.exit_code == 0, result.output
        from PIL import Image

        outputs.append(np.asarray(Image.open(target), dtype=np.int16))
    assert np.abs(outputs[0] - outputs[1]).max() > 0  # the level reached the network


def test_zoo_train_map_and_grow_mistakes_are_one_line(ramp_photos, tmp_path):
    out = tmp_path / "x.safetensors"
    one_line_error(runner.invoke(app, tiny_train_args(ramp_photos, out, "--noise", "camera", "--noise-map")),
                   "--noise-map needs AWGN noise")
    one_line_error(runner.invoke(app, tiny_train_args(ramp_photos, out, "--grow")), "give them with --init")
    one_line_error(runner.invoke(app, tiny_train_args(ramp_photos, out, "--map-vary", "0.5")), "add --noise-map")
    one_line_error(runner.invoke(app, tiny_train_args(ramp_photos, out, "--lr", "0")), "--lr")
    # a noise-map network does not take blind weights as they are: the error says what to add
    one_line_error(runner.invoke(app, tiny_train_args(ramp_photos, out, "--preset", "small", "--noise-map",
                                                      "--init", SMALL)), "add --grow")


def test_varying_patches_ramp_the_noise_and_the_map_holds_it_per_pixel():
    from zoo.imaging.noise import NoiseSpec
    from zoo.training.data import PatchSampler

    photos = [np.full((96, 96, 3), 128, np.uint8)]  # flat: what is left after the clean photo is noise
    sampler = PatchSampler(photos, 96, NoiseSpec.parse("awgn:0-50"), map_drop=0.0, map_vary=1.0)
    noisy, clean = sampler.batch(12, np.random.default_rng(3))
    for patch, ref in zip(noisy, clean):
        level = patch[..., 3] * 50
        assert level.max() - level.min() > 1 and (patch[..., 4] == 1).all()
        low, high = level < np.percentile(level, 25), level > np.percentile(level, 75)
        noise = (patch[..., :3] - ref) * 255
        # the noise's spread follows the map: the quarter with the lowest level against the highest
        for part in (low, high):
            assert noise[part].std() == pytest.approx(np.sqrt((level[part] ** 2).mean()), rel=0.1)
    # a run without --map-vary keeps the stream it had: uniform noise, constant planes
    uniform, _ = PatchSampler(photos, 96, NoiseSpec.parse("awgn:0-50"), map_drop=0.0).batch(4, np.random.default_rng(3))
    assert all(np.ptp(p[..., 3]) == 0 for p in uniform)


def test_zoo_list_says_a_noise_map_tag_uses_sigma():
    from zoo.cli import catalogue

    assert catalogue.purpose("awgn_blind", uses_sigma=True) == "Gaussian noise, --sigma"
    assert catalogue.purpose("awgn_blind") == "Gaussian noise"


def test_init_takes_a_pretrained_tag_as_well_as_a_file():
    from zoo.training.config import TrainConfig
    from zoo.training.grow import starting_point

    by_tag = starting_point(TrainConfig(model="mwrcanet", data=("unused",), init="mwrcanet:awgn_small"))
    by_file = starting_point(TrainConfig(model="mwrcanet", data=("unused",), init=SMALL))
    for name, tensor in by_file.state_dict().items():
        np.testing.assert_array_equal(by_tag.state_dict()[name], tensor)
    assert by_tag.config.blocks == 2 and not by_tag.config.noise_map
