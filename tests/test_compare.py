"""--compare (zoo.inference.compare): NAME_compare-MODEL.png beside the output, input and output
crops at 100% where the input is noisiest, never over a file without --overwrite, never an input,
earlier compares never taken for photos, and every failure one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from registry.errors import ImageWriteError
from tests.conftest import save_rgb
from zoo.cli import app
from zoo.inference import compare

runner = CliRunner()


@pytest.fixture
def photo(tmp_path):
    """A flat grey photo, faintly noisy, with a strongly noisy patch at rows 300-400, columns 200-330."""
    rng = np.random.default_rng(3)
    pixels = np.full((420, 360, 3), 0.5) + rng.normal(0, 0.01, (420, 360, 3))
    pixels[300:400, 200:330] += rng.normal(0, 0.15, (100, 130, 3))
    return save_rgb(tmp_path / "shot.png", pixels)


def one_line(result, fragment: str) -> None:
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr


def test_the_crop_is_where_the_noise_is(photo):
    pixels = np.asarray(Image.open(photo), np.float32) / 255
    y, x, h, w = compare.noisiest(pixels, 128)
    assert (h, w) == (128, 128)
    assert 300 - 64 <= y + h // 2 <= 400 + 64 and 200 - 64 <= x + w // 2 <= 330 + 64
    assert compare.noisiest(pixels[:50, :40], 128)[2:] == (50, 40)  # a small photo: all of it
    flat = np.zeros((20, 30, 4), np.float32)
    assert compare.noisiest(flat, 8)[:2] == (0, 0)  # ties: the top-left window


def test_compare_is_written_beside_the_output_with_both_crops(photo, tmp_path):
    result = runner.invoke(app, ["denoise", "--compare", "--strength", "0.8", "--out-dir", str(tmp_path / "out"),
                                 "--json", str(photo)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "shot_denoised-mwrcanet-strength0.8.png"
    made = tmp_path / "out" / "shot_compare-mwrcanet-strength0.8.png"
    record = json.loads(result.stdout)
    assert out.is_file() and made.is_file() and (record["output"], record["compare"]) == (str(out), str(made))
    picture = np.asarray(Image.open(made))
    assert picture.shape == (compare.BAR + 256, 2 * 256 + compare.GAP, 3)
    before, after = np.asarray(Image.open(photo)), np.asarray(Image.open(out))
    y, x, h, w = compare.noisiest(before.astype(np.float32) / 255)
    assert np.array_equal(picture[compare.BAR:, :w], before[y:y + h, x:x + w])  # 100%: the pixels themselves
    assert np.array_equal(picture[compare.BAR:, w + compare.GAP:], after[y:y + h, x:x + w])
    assert not np.array_equal(before[y:y + h, x:x + w], after[y:y + h, x:x + w])
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_an_existing_compare_is_never_replaced_without_overwrite(photo, tmp_path):
    made = tmp_path / "shot_compare-mwrcanet.png"
    made.write_bytes(b"mine")
    result = runner.invoke(app, ["denoise", "--compare", str(photo)])
    one_line(result, f"compare {made} exists; pass --overwrite")
    assert made.read_bytes() == b"mine" and not (tmp_path / "shot_denoised-mwrcanet.png").exists()
    result = runner.invoke(app, ["denoise", "--compare", "--overwrite", str(photo)])
    assert result.exit_code == 0, result.output
    assert Image.open(made).size == (2 * 256 + compare.GAP, compare.BAR + 256)


def test_a_compare_that_appears_meanwhile_is_left_alone(tmp_path):
    target = tmp_path / "x_compare-m.png"
    target.write_bytes(b"theirs")
    pixels = np.full((16, 16, 3), 0.5, np.float32)
    with pytest.raises(ImageWriteError, match="appeared while this file was being denoised"):
        compare.write(target, pixels, pixels, "m")
    assert target.read_bytes() == b"theirs" and sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_a_compare_that_is_a_folder_fails_in_one_line(photo, tmp_path):
    (tmp_path / "shot_compare-mwrcanet.png").mkdir()
    one_line(runner.invoke(app, ["denoise", "--compare", str(photo)]), "is a directory, not a file to replace")
    assert not (tmp_path / "shot_denoised-mwrcanet.png").exists()


def test_a_compare_is_never_an_input(photo, tmp_path):
    other = tmp_path / "shot_compare-mwrcanet.png"
    other.write_bytes(photo.read_bytes())
    result = runner.invoke(app, ["denoise", "--compare", str(photo), str(other)])
    assert result.exit_code == 1
    assert f"failed: compare {other} is also an input of this batch" in result.stderr
    assert other.read_bytes() == photo.read_bytes()


def test_earlier_compares_in_a_folder_are_not_photos(photo, tmp_path):
    first = runner.invoke(app, ["denoise", "--compare", str(tmp_path)])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["denoise", "--compare", "--dry-run", str(tmp_path)])
    assert again.exit_code == 0 and "ignored 2 earlier output(s)" in again.stderr
    assert "would skip: output" in again.stdout and "shot_compare" not in again.stdout.split("would skip")[0]


def test_two_inputs_with_one_stem_get_no_shared_compare(photo, tmp_path):
    twin = tmp_path / "shot.tif"
    Image.open(photo).save(twin)
    result = runner.invoke(app, ["denoise", "--compare", "--dry-run", str(photo), str(twin)])
    assert "would fail: compare" in result.stdout and "also the compare of another input" in result.stdout
