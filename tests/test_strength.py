"""--strength and --chroma-strength (zoo.inference.strength): the identity at 0, the mean at 0.5,
chroma mixed on its own with the luma left at the strength's, recorded in names and --json, and
bad values refused in one line before any file is read."""

from __future__ import annotations

import json

import imagecodecs
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import zoo
from registry.errors import ZooError
from zoo.cli import app
from zoo.inference import strength

runner = CliRunner()


def ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.601 YCbCr (JPEG's), written out independently of the module under test."""
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
    return rgb[..., :3].astype(np.float64) @ m.T


def in_gamut(chroma: np.ndarray, luma: np.ndarray) -> np.ndarray:
    """Where Y and CbCr make an RGB colour inside [0, 1]."""
    ycc = np.concatenate([luma[..., None], chroma], axis=-1)
    rgb = ycc @ np.linalg.inv(np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                                        [0.5, -0.418688, -0.081312]])).T
    return ((rgb >= 0) & (rgb <= 1)).all(axis=-1)


def test_saturated_colours_keep_their_luma():
    before = np.array([[[0.0, 1.0, 0.0], [0.5, 0.5, 0.5]]], np.float32)  # pure green can take no more chroma
    after = np.array([[[0.3, 0.7, 0.3], [0.1, 0.9, 0.2]]], np.float32)
    mixed = strength.blend(before, after, 1.0, 0.0)
    assert mixed.min() >= 0 and mixed.max() <= 1
    assert np.abs(ycbcr(mixed)[..., 0] - ycbcr(after)[..., 0]).max() < 1e-6


@pytest.fixture
def pair():
    rng = np.random.default_rng(1)
    before = rng.uniform(0.1, 0.9, (20, 24, 4)).astype(np.float32)
    after = np.clip(before + rng.normal(0, 0.05, before.shape), 0, 1).astype(np.float32)
    after[..., 3] = rng.uniform(0, 1, (20, 24))  # an engine bug that touched alpha must not leak through
    return before, after


@pytest.fixture
def photo16(tmp_path):
    rng = np.random.default_rng(2)
    y, x = np.mgrid[:40, :48]
    clean = np.stack([x / 48, y / 40, (x + y) / 88], -1)
    pixels = np.clip(clean + rng.normal(0, 0.08, clean.shape), 0, 1)
    path = tmp_path / "p.png"
    path.write_bytes(imagecodecs.png_encode(np.round(pixels * 65535).astype(np.uint16)))
    return path


def read16(path) -> np.ndarray:
    data = imagecodecs.png_decode(path.read_bytes())
    assert data.dtype == np.uint16
    return data.astype(np.int64)


# -- the mix itself


def test_strength_zero_is_the_input_and_one_the_output(pair):
    before, after = pair
    assert np.array_equal(strength.blend(before, after, 0.0), before)
    assert np.array_equal(strength.blend(before, after, 0.0, 0.0), before)
    full = strength.blend(before, after, 1.0)
    assert np.array_equal(full[..., :3], after[..., :3]) and np.array_equal(full[..., 3], before[..., 3])


def test_strength_half_is_the_mean_and_alpha_is_the_input(pair):
    before, after = pair
    half = strength.blend(before, after, 0.5)
    assert np.abs(half[..., :3] - (before[..., :3] + after[..., :3]) / 2).max() < 1e-6
    assert np.array_equal(half[..., 3], before[..., 3])


@pytest.mark.parametrize("s, c", [(1.0, 0.0), (1.0, 0.3), (0.6, 1.0), (0.25, 0.75)])
def test_chroma_strength_keeps_the_luma_of_strength_and_mixes_chroma(pair, s, c):
    before, after = pair
    mixed = ycbcr(strength.blend(before, after, s, c))
    luma_only = ycbcr(strength.blend(before, after, s))
    yin, yout = ycbcr(before), ycbcr(after)
    assert np.abs(mixed[..., 0] - luma_only[..., 0]).max() < 1e-5  # luma: the --strength result's, everywhere
    expected = yin[..., 1:] + c * (yout[..., 1:] - yin[..., 1:])
    fits = in_gamut(expected, luma_only[..., 0])  # elsewhere the chroma is shortened to stay in [0, 1]
    assert fits.mean() > 0.5 and np.abs(mixed[..., 1:] - expected)[fits].max() < 1e-5  # chroma: its own mix
    if c != s:
        assert np.abs(mixed[..., 1:] - luma_only[..., 1:]).max() > 1e-3  # chroma_strength did something


def test_grey_has_no_chroma(pair):
    before, after = (a[..., :2] for a in pair)
    assert np.array_equal(strength.blend(before, after, 0.5, 0.0), strength.blend(before, after, 0.5))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf"), "x", True, None])
def test_check_refuses_bad_values(bad):
    if bad is None:
        with pytest.raises(ZooError, match="strength takes a number from 0"):
            strength.check(None)
        return
    with pytest.raises(ZooError, match="--strength takes a number from 0"):
        strength.check(bad)
    with pytest.raises(ZooError, match="--chroma-strength takes a number from 0"):
        strength.check(0.5, bad)


# -- the command and the API


def test_cli_strength_zero_writes_the_input_bit_for_bit(photo16, tmp_path):
    result = runner.invoke(app, ["denoise", "--strength", "0", "--json", str(photo16)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    assert record["strength"] == 0.0 and record["chroma_strength"] == 0.0
    assert record["model"] == "mwrcanet-strength0"
    out = tmp_path / "p_denoised-mwrcanet-strength0.png"
    assert record["output"] == str(out) and np.array_equal(read16(out), read16(photo16))


def test_cli_strength_zero_keeps_8_bit_values_and_alpha(tmp_path):
    rng = np.random.default_rng(4)
    source = tmp_path / "rgba.png"
    Image.fromarray(rng.integers(0, 256, (24, 20, 4), dtype=np.uint8)).save(source)
    result = runner.invoke(app, ["denoise", "--strength", "0.0", "--chroma-strength", "0", str(source)])
    assert result.exit_code == 0, result.output
    out = np.asarray(Image.open(tmp_path / "rgba_denoised-mwrcanet-strength0-chroma0.png"))
    assert out.dtype == np.uint8 and np.array_equal(out, np.asarray(Image.open(source)))


def test_cli_strength_half_is_the_mean_of_input_and_output(photo16, tmp_path):
    for value in ("1", "0.5"):
        result = runner.invoke(app, ["denoise", "--strength", value, str(photo16)])
        assert result.exit_code == 0, result.output
    noisy, full = read16(photo16), read16(tmp_path / "p_denoised-mwrcanet.png")
    half = read16(tmp_path / "p_denoised-mwrcanet-strength0.5.png")
    assert np.abs(full - noisy).max() > 100  # the model did change the photo
    assert np.abs(half - (noisy + full) / 2).max() <= 1  # to 1/65535


def test_cli_chroma_strength_is_recorded_and_keeps_the_luma(photo16, tmp_path):
    result = runner.invoke(app, ["denoise", "--chroma-strength", "0.2", "--json", str(photo16)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    assert (record["strength"], record["chroma_strength"], record["model"]) == (1.0, 0.2, "mwrcanet-strength1-chroma0.2")
    runner.invoke(app, ["denoise", str(photo16)])
    noisy, full = ycbcr(read16(photo16) / 65535), ycbcr(read16(tmp_path / "p_denoised-mwrcanet.png") / 65535)
    mixed = ycbcr(read16(tmp_path / "p_denoised-mwrcanet-strength1-chroma0.2.png") / 65535)
    expected = noisy[..., 1:] + 0.2 * (full[..., 1:] - noisy[..., 1:])
    fits = in_gamut(expected, full[..., 0])
    assert np.abs(mixed[..., 0] - full[..., 0]).max() < 3 / 65535
    assert fits.mean() > 0.5 and np.abs(mixed[..., 1:] - expected)[fits].max() < 3 / 65535
    assert np.abs(mixed[..., 1:] - full[..., 1:]).max() > 0.01  # and differs from the full denoise's


@pytest.mark.parametrize("args, name", [
    (["--strength", "1.01"], "--strength"), (["--strength", "-0"], None), (["--strength", "abc"], "--strength"),
    (["--strength", "nan"], "--strength"), (["--strength", ""], "--strength"),
    (["--chroma-strength", "2"], "--chroma-strength"), (["--chroma-strength", "inf"], "--chroma-strength"),
])
def test_bad_values_are_one_line_before_any_file_is_read(tmp_path, args, name):
    result = runner.invoke(app, ["denoise", *args, str(tmp_path / "missing.png")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    if name is None:  # -0 is a valid 0: the error is then the missing file's
        assert "no such file" in lines[0]
    else:
        assert f"{name} takes a number from 0" in lines[0] and "missing.png" not in lines[0]


def test_api_strength(photo16):
    pixels = imagecodecs.png_decode(photo16.read_bytes())
    assert np.array_equal(zoo.denoise(pixels, strength=0), pixels)
    full = zoo.denoise(pixels).astype(np.int64)
    half = zoo.denoise(pixels, strength=0.5)
    assert half.dtype == np.uint16 and np.abs(half.astype(np.int64) - (pixels + full) / 2).max() <= 1
    with pytest.raises(ZooError, match="^strength takes a number from 0"):
        zoo.denoise(pixels, model="no-such-model", strength=1.5)  # refused before the model is looked up
    with pytest.raises(ZooError, match="^chroma_strength takes"):
        zoo.denoise(pixels, chroma_strength=-1)
