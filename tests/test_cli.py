"""`zoo denoise` and friends: results, naming, and one-line errors for every kind of bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.conftest import DATASETS, save_rgb
from zoo.cli import app

runner = CliRunner()


def zoo(*args: str):
    return runner.invoke(app, list(args))


def assert_one_line_error(result, fragment: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_denoise_writes_beside_input_and_says_where(rgb_image):
    result = zoo("denoise", "--model", "cbm3d", "--sigma", "10", str(rgb_image))
    target = rgb_image.parent / "photo_denoised-cbm3d.png"
    assert result.exit_code == 0, result.output
    assert str(target) in result.stdout
    out = np.asarray(Image.open(target))
    assert out.shape == (24, 20, 3) and out.dtype == np.uint8


def test_existing_output_needs_overwrite(rgb_image):
    assert zoo("denoise", "--model", "cbm3d", "--sigma", "10", str(rgb_image)).exit_code == 0
    target = rgb_image.parent / "photo_denoised-cbm3d.png"
    before = target.read_bytes()
    assert_one_line_error(zoo("denoise", "--model", "cbm3d", "--sigma", "10", str(rgb_image)), "exists; pass --overwrite")
    assert target.read_bytes() == before
    assert zoo("denoise", "--model", "cbm3d", "--sigma", "20", "--overwrite", str(rgb_image)).exit_code == 0
    assert target.read_bytes() != before


def test_unknown_model(rgb_image):
    assert_one_line_error(zoo("denoise", "--model", "cbm3x", str(rgb_image)), "did you mean 'cbm3d'")


def test_missing_input(tmp_path):
    assert_one_line_error(zoo("denoise", str(tmp_path / "nope.png")), "no such file")


def test_corrupt_image(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    assert_one_line_error(zoo("denoise", str(bad)), "bad.png")


def test_truncated_image(tmp_path, rgb_image):
    data = rgb_image.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    assert_one_line_error(zoo("denoise", str(cut)), "cut.png")


def test_unwritable_output(rgb_image, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert_one_line_error(zoo("denoise", "-o", str(blocker / "out.png"), str(rgb_image)), "cannot write")


def test_output_equal_to_input_is_refused_even_with_overwrite(rgb_image):
    before = rgb_image.read_bytes()
    result = zoo("denoise", "--overwrite", "-o", str(rgb_image), str(rgb_image))
    assert_one_line_error(result, "is the input")
    assert rgb_image.read_bytes() == before


def test_batch_goes_on_past_a_bad_file(tmp_path, rgb_image):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    out_dir = tmp_path / "out"
    result = zoo("denoise", "--model", "cbm3d", "--sigma", "10", "--out-dir", str(out_dir), str(bad), str(rgb_image))
    assert result.exit_code == 1
    assert (out_dir / "photo_denoised-cbm3d.png").is_file()
    assert "bad.jpg" in result.stderr and "1 of 2 images denoised, 1 failed" in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = zoo("--debug", "denoise", str(tmp_path / "nope.png"))
    assert result.exit_code != 0 and result.exception is not None


def test_list_info_plugins_json():
    models = {m["name"]: m for m in json.loads(zoo("list", "--json").stdout)}
    assert models["cbm3d"]["backends"] == {"numpy": True}
    info = json.loads(zoo("info", "bm3d", "--json").stdout)
    assert info["name"] == "cbm3d" and "profile" in info["config_schema"]["properties"]
    plugins = json.loads(zoo("plugins", "--json").stdout)
    assert {"name": "classical", "loaded": True} .items() <= next(p for p in plugins if p["name"] == "classical").items()


@pytest.mark.skipif(not (DATASETS / "CBSD68").is_dir(), reason="needs ../shared/datasets/CBSD68")
def test_cbm3d_gains_8_db_on_cbsd68_at_sigma_25(tmp_path):
    from skimage.metrics import peak_signal_noise_ratio as psnr

    clean = np.asarray(Image.open(DATASETS / "CBSD68" / "clean" / "102061.png"), dtype=np.float32) / 255
    noisy = clean + np.random.default_rng(25).normal(0, 25 / 255, clean.shape)
    path = save_rgb(tmp_path / "noisy.png", noisy)
    assert zoo("denoise", "--model", "cbm3d", "--sigma", "25", str(path)).exit_code == 0
    noisy8 = np.asarray(Image.open(path), dtype=np.float32) / 255
    out = np.asarray(Image.open(tmp_path / "noisy_denoised-cbm3d.png"), dtype=np.float32) / 255
    gain = psnr(clean, out, data_range=1) - psnr(clean, noisy8, data_range=1)
    assert gain >= 8.0, f"CBM3D gained only {gain:.2f} dB"


def test_rerunning_on_a_folder_does_not_denoise_the_earlier_outputs(rgb_image):
    folder = str(rgb_image.parent)
    assert zoo("denoise", "--model", "cbm3d", "--sigma", "10", folder).exit_code == 0
    again = zoo("denoise", "--model", "cbm3d", "--sigma", "10", "--overwrite", folder)
    assert again.exit_code == 0, again.output
    assert "ignored 1 earlier output" in again.stderr
    assert sorted(p.name for p in rgb_image.parent.iterdir()) == ["photo.png", "photo_denoised-cbm3d.png"]
