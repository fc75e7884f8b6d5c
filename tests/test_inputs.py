"""What the Python API and the CLI take: the arrays people have (uint8, uint16, floats), and a
one-line error, never a traceback or silently wrong pixels, for everything else."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from registry.errors import WeightsError, ZooError
from tests import toyplugin
from tests.conftest import save_rgb
from zoo.cli import app
from zoo.weights.files import save_state

runner = CliRunner()


@pytest.fixture(autouse=True)
def toy_registry():
    toyplugin.install()
    yield
    from registry.manager import reset_registry

    reset_registry(None)


@pytest.fixture
def toy(tmp_path):
    import zoo

    path = tmp_path / "toy.safetensors"
    save_state(toyplugin.random_state(), path)
    return zoo.load("toynet", weights=str(path))


def one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("dtype, top", [(np.uint8, 255), (np.uint16, 65535)])
def test_integer_arrays_are_scaled_and_come_back_in_their_dtype(toy, dtype, top):
    import zoo

    rng = np.random.default_rng(0)
    as_int = rng.integers(0, top + 1, (20, 24, 3)).astype(dtype)
    as_float = as_int.astype(np.float32) / top
    for out in (zoo.denoise(as_int, toy), toy.denoise(as_int)):
        assert out.dtype == dtype and out.shape == as_int.shape
        expected = np.round(np.clip(toy.denoise(as_float), 0, 1) * top)
        assert np.abs(out.astype(np.float64) - expected).max() <= 1  # the same denoising, not 99.9% white


def test_float_arrays_keep_their_float_type(toy):
    import zoo

    image = np.random.default_rng(1).random((16, 16, 3))
    assert zoo.denoise(image, toy).dtype == np.float64
    assert toy.denoise(image.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("image, fragment", [
    (np.full((8, 8, 3), 200.0, np.float32), "must be in [0, 1]"),
    (np.where(np.eye(8)[..., None], np.nan, 0.5).repeat(3, 2).astype(np.float32), "8 non-finite"),
    (np.full((8, 8, 3), np.inf), "non-finite"),
    (np.zeros((8, 8, 3), dtype=object), "dtype object"),
    (np.full((8, 8, 3), b"x"), "dtype |S1"),
    (np.zeros((8, 8, 3), dtype=bool), "dtype bool"),
    (np.zeros((8, 8, 3), dtype=np.int16), "dtype int16"),
])
def test_bad_arrays_are_refused_with_one_line(toy, image, fragment):
    import zoo

    for call in (lambda: zoo.denoise(image, toy), lambda: toy.denoise(image)):
        with pytest.raises(ZooError, match=".*") as info:
            call()
        assert fragment in str(info.value) and "\n" not in str(info.value)


def test_things_that_are_not_images_or_models_are_refused(toy):
    import zoo

    with pytest.raises(ZooError, match="takes a path or a numpy array"):
        zoo.denoise([[0.5]], toy)
    with pytest.raises(ZooError, match="named by a string"):
        zoo.load(42)
    with pytest.raises(ZooError, match="denoise_batch takes a float NxHxWx3 batch"):
        toy.denoise_batch(np.zeros((8, 8, 3), np.float32))


def test_the_engine_takes_unclipped_noise_as_the_benchmarks_add_it(toy):
    from zoo.inference import engine

    noisy = np.random.default_rng(2).normal(0.5, 0.3, (16, 16, 3)).astype(np.float32)  # beyond [0, 1]
    assert engine.run(toy, noisy).shape == noisy.shape
    with pytest.raises(ZooError, match="non-finite"):
        engine.run(toy, np.where(noisy > 0.9, np.nan, noisy))


def test_weights_with_nan_are_refused_and_a_nan_result_is_never_returned(tmp_path, toy):
    import zoo

    state = toyplugin.random_state()
    state["mix.bias"][0] = np.nan
    path = tmp_path / "nan.safetensors"
    save_state(state, path)
    with pytest.raises(WeightsError, match="NaN or inf values in 1 tensor.*mix.bias"):
        zoo.load("toynet", weights=str(path))
    toy.load_state_dict(state)  # loaded behind the loader's back: the result is still checked
    with pytest.raises(ZooError, match="produced non-finite values"):
        toy.denoise(np.full((8, 8, 3), 0.5, np.float32))


def test_nan_weights_through_the_cli_write_nothing(tmp_path):
    state = toyplugin.random_state()
    state["out.weight"][:] = np.inf
    weights = tmp_path / "inf.safetensors"
    save_state(state, weights)
    photo = tmp_path / "p.png"
    save_rgb(photo, np.full((8, 8, 3), 0.5))
    one_line_error(runner.invoke(app, ["denoise", "--model", "toynet", "--weights", str(weights), str(photo)]),
                   "NaN or inf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inf.safetensors", "p.png"]


@pytest.mark.parametrize("args, fragment", [
    (["--weights", "hf://org/repo/../../etc/passwd"], "bad Hub reference"),
    (["--weights", "hf://o rg/repo/model.safetensors"], "bad Hub reference"),
    (["--max-memory", "nanG"], "bad memory size"),
    (["--max-memory", "infG"], "bad memory size"),
])
def test_bad_references_and_sizes_are_one_line(tmp_path, args, fragment):
    photo = tmp_path / "p.png"
    save_rgb(photo, np.full((8, 8, 3), 0.5))
    one_line_error(runner.invoke(app, ["denoise", "--model", "toynet", *args, str(photo)]), fragment)


def test_a_trusted_pickle_that_is_not_a_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    photo = tmp_path / "p.png"
    save_rgb(photo, np.full((8, 8, 3), 0.5))
    for name, payload in (("list.pt", [1, 2, 3]), ("mixed.pt", {"a": torch.zeros(2), "b": "text"})):
        torch.save(payload, tmp_path / name)
        result = runner.invoke(app, ["denoise", "--model", "toynet", "--trust-pickle", "--weights",
                                     str(tmp_path / name), str(photo)])
        one_line_error(result, "not a state dict")
