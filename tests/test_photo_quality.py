"""JPEG outputs keep a JPEG input's quantisation tables and chroma subsampling unless --quality
says otherwise; WebP outputs keep a lossless input lossless; --quality is checked before any file
is read. Through the real CLI with an identity model, so only the writer's choices show."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms, JpegImagePlugin
from typer.testing import CliRunner

from tests.conftest import one_line_error, write_plugin_dist
from zoo.cli import app
from zoo.photo.coding import webp_lossless
from zoo.photo.imageio import read_image, write_image

PLUGIN = '''
from zoo import Architecture, DenoiserConfig, hookimpl

@hookimpl
def register_architectures(register):
    register(Architecture(name="ident", config=DenoiserConfig, backends={"numpy": "tests._zoo_models:build_identity"},
                          needs_weights=False))
'''
RGB = np.random.default_rng(3).integers(0, 256, (40, 48, 3), dtype=np.uint8)


@pytest.fixture(autouse=True)
def ident(plugin_dir, monkeypatch):
    write_plugin_dist(plugin_dir, "zoo-ident", {"ident": "zoo_ident"}, {"zoo_ident": PLUGIN})
    monkeypatch.setenv("ZOO_PLUGINS", "ident")


def zoo(*args: str):
    return CliRunner().invoke(app, ["denoise", "-m", "ident", *args])


def _saved(path, **options):
    Image.fromarray(RGB).save(path, **options)
    return path


def _pillow_jpeg(**options) -> Image.Image:
    """What Pillow itself writes with these options: the reference tables."""
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, "JPEG", **options)
    return Image.open(buf)


def _coding(path) -> tuple[dict, int]:
    with Image.open(path) as img:
        return img.quantization, JpegImagePlugin.get_sampling(img)


def test_a_jpeg_comes_out_with_its_own_tables_and_subsampling(tmp_path):
    src = _saved(tmp_path / "in.jpg", quality=60, subsampling=2)
    result = zoo(str(src), "-o", str(tmp_path / "out.jpg"))
    assert result.exit_code == 0, result.output
    assert _coding(tmp_path / "out.jpg") == _coding(src)
    assert _coding(src)[1] == 2 and _coding(src)[0] != _pillow_jpeg(quality=95).quantization


def test_quality_replaces_the_tables_and_keeps_the_subsampling(tmp_path):
    src = _saved(tmp_path / "in.jpg", quality=60, subsampling=2)
    result = zoo(str(src), "-o", str(tmp_path / "out.jpg"), "--quality", "80")
    assert result.exit_code == 0, result.output
    tables, sampling = _coding(tmp_path / "out.jpg")
    assert tables != _coding(src)[0]
    assert tables == _pillow_jpeg(quality=80).quantization and sampling == 2


def test_a_png_written_as_jpeg_is_quality_95_444_as_before(tmp_path):
    src = _saved(tmp_path / "in.png")
    result = zoo(str(src), "-o", str(tmp_path / "x.jpg"))
    assert result.exit_code == 0, result.output
    assert _coding(tmp_path / "x.jpg") == (_pillow_jpeg(quality=95).quantization, 0)
    result = zoo(str(src), "-o", str(tmp_path / "y.jpg"), "--quality", "70")
    assert result.exit_code == 0, result.output
    assert _coding(tmp_path / "y.jpg") == (_pillow_jpeg(quality=70).quantization, 0)


@pytest.mark.parametrize("quality", [None, "30"])
def test_a_lossless_webp_stays_lossless(tmp_path, quality):
    src = _saved(tmp_path / "in.webp", lossless=True)
    result = zoo(str(src), "-o", str(tmp_path / "out.webp"), *(["--quality", quality] if quality else []))
    assert result.exit_code == 0, result.output
    assert webp_lossless(tmp_path / "out.webp") is True
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.webp").convert("RGB")), RGB)


def test_a_lossy_webp_honours_quality(tmp_path):
    src = _saved(tmp_path / "in.webp", quality=90)
    assert webp_lossless(src) is False
    result = zoo(str(src), "-o", str(tmp_path / "out.webp"), "--quality", "30")
    assert result.exit_code == 0, result.output
    assert webp_lossless(tmp_path / "out.webp") is False
    decoded = Image.open(src).convert("RGB")
    expected = io.BytesIO()
    decoded.save(expected, "WEBP", quality=30, exact=True)  # what the identity model's output gives at 30
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.webp").convert("RGB")),
                          np.asarray(Image.open(expected).convert("RGB")))
    result = zoo(str(src), "-o", str(tmp_path / "default.webp"))  # no --quality: lossless, as before
    assert result.exit_code == 0, result.output
    assert webp_lossless(tmp_path / "default.webp") is True


def test_an_extended_webp_is_told_lossless_past_its_vp8x_chunk(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = _saved(tmp_path / "icc.webp", lossless=True, icc_profile=icc)
    assert path.read_bytes()[12:16] == b"VP8X"
    assert webp_lossless(path) is True
    assert webp_lossless(_saved(tmp_path / "lossy.webp", quality=50, icc_profile=icc)) is False
    assert webp_lossless(_saved(tmp_path / "x.png")) is None


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_grayscale_and_cmyk_jpegs_keep_their_tables(tmp_path, mode):
    src = tmp_path / "in.jpg"
    Image.fromarray(RGB).convert(mode).save(src, quality=50)
    write_image(tmp_path / "out.jpg", read_image(src))
    assert Image.open(tmp_path / "out.jpg").mode == mode
    assert _coding(tmp_path / "out.jpg")[0] == _coding(src)[0]


@pytest.mark.parametrize("value", ["0", "101", "abc", "80.5", "-5", ""])
def test_a_bad_quality_is_one_line_before_any_file_is_read(tmp_path, value):
    missing = tmp_path / "never-read.jpg"  # a file read first would fail on this name instead
    result = zoo(str(missing), f"--quality={value}")
    one_line_error(result, "--quality takes a whole number from 1 to 100")
    assert "Traceback" not in result.output
