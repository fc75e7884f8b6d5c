"""Camera RAW in (issue #20, item 1): a synthetic CFA DNG, made here with tifffile, developed by
LibRaw to upright 16-bit sRGB with the camera's EXIF; its output is a 16-bit TIFF."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from registry.errors import ImageReadError
from tests.conftest import run_zoo
from zoo.photo import cmyk
from zoo.photo.formats import output_suffix
from zoo.photo.imageio import read_image, write_image

rawpy = pytest.importorskip("rawpy")

H, W = 32, 48
EXIF_TAGS = {0x8827: 400, 0x829A: 1 / 250, 0x829D: 2.8, 0x9003: "2024:05:06 07:08:09", 0xA434: "Zoo 50mm F1.8"}


def make_dng(path: Path, orientation: int = 1, exif: bool = True) -> Path:
    """A 48x32 Bayer (RGGB) DNG with 12-bit samples, as-shot white balance and, in IFD0 as TIFF/EP
    allows, ISO, exposure time, f-number, date taken and lens."""
    y, x = np.mgrid[0:H, 0:W]
    cfa = (200 + 8 * x + 4 * y + np.random.default_rng(1).integers(0, 40, (H, W))).astype(np.uint16)
    identity = (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1)
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True), (50707, "B", 4, (1, 1, 0, 0), True),  # DNG(Backward)Version
        (50708, "s", 0, "Zoo Cam 1", True),  # UniqueCameraModel
        (33421, "H", 2, (2, 2), True), (33422, "B", 4, (0, 1, 1, 2), True),  # CFA repeat, pattern RGGB
        (50710, "B", 3, (0, 1, 2), True), (50711, "H", 1, 1, True),  # CFAPlaneColor, CFALayout
        (50714, "H", 1, 64, True), (50717, "H", 1, 4095, True),  # BlackLevel, WhiteLevel
        (50721, "2i", 9, identity, True), (50778, "H", 1, 21, True),  # ColorMatrix1, D65
        (50728, "2I", 3, (1, 2, 1, 1, 2, 3), True),  # AsShotNeutral
        (274, "H", 1, orientation, True), (271, "s", 0, "ZooMake", True), (272, "s", 0, "Zoo Cam 1", True),
    ]
    if exif:
        tags += [(34855, "H", 1, 400, True), (33434, "2I", 1, (1, 250), True), (33437, "2I", 1, (28, 10), True),
                 (36867, "s", 0, "2024:05:06 07:08:09", True), (42036, "s", 0, "Zoo 50mm F1.8", True)]
    tifffile.imwrite(path, cfa, photometric=32803, extratags=tags, subfiletype=0, metadata=None)
    return path


def test_a_synthetic_dng_comes_out_as_a_16bit_tiff_with_its_exif(tmp_path):
    photo = read_image(make_dng(tmp_path / "shot.dng"))
    assert photo.pixels.shape == (H, W, 3) and photo.bit_depth == 16 and photo.icc_profile == cmyk.SRGB
    assert 0.05 < float(photo.pixels.mean()) < 0.95  # developed, not black or blown out
    suffix, note = output_suffix(tmp_path / "shot.dng")
    assert suffix == ".tif" and "the output is a 16-bit TIFF" in note
    out = write_image(tmp_path / f"shot{suffix}", photo)
    data = tifffile.imread(out)
    assert data.dtype == np.uint16 and data.shape == (H, W, 3)
    with Image.open(out) as img:
        exif, inner = img.getexif(), img.getexif().get_ifd(0x8769)
        assert img.info["icc_profile"] == cmyk.SRGB
    assert exif[0x010F] == "ZooMake" and exif[0x0110] == "Zoo Cam 1" and exif.get(0x0112, 1) == 1
    assert {tag: inner.get(tag) for tag in EXIF_TAGS} == EXIF_TAGS
    png = write_image(tmp_path / "shot.png", photo)  # -o out.png: a 16-bit PNG
    assert read_image(png).bit_depth == 16


@pytest.mark.parametrize("orientation, turn", [(3, lambda a: a[::-1, ::-1]), (6, lambda a: np.rot90(a, -1)),
                                               (8, lambda a: np.rot90(a, 1))])
def test_the_raws_flip_is_applied_so_the_output_is_upright(tmp_path, orientation, turn):
    upright = read_image(make_dng(tmp_path / "a.dng")).pixels
    turned = read_image(make_dng(tmp_path / "b.dng", orientation)).pixels
    np.testing.assert_array_equal(turned, turn(upright))


def test_a_dng_with_an_unsupported_layout_is_one_line(tmp_path):
    linear = tmp_path / "linear.dng"  # a linear DNG with floating-point samples
    tifffile.imwrite(linear, np.random.default_rng(0).random((16, 16, 3), np.float32), photometric=34892,
                     extratags=[(50706, "B", 4, (1, 4, 0, 0), True), (271, "s", 0, "Z", True)], metadata=None)
    cut = tmp_path / "cut.dng"
    cut.write_bytes(make_dng(tmp_path / "whole.dng").read_bytes()[:300])
    for path in (linear, cut):
        with pytest.raises(ImageReadError) as exc:
            read_image(path)
        message = str(exc.value)
        assert "\n" not in message and str(path) in message and "LibRaw cannot develop" in message


def test_without_rawpy_a_raw_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    path = make_dng(tmp_path / "shot.dng")
    monkeypatch.setitem(sys.modules, "rawpy", None)
    with pytest.raises(ImageReadError, match=r"RAW files need: pip install 'denoise-zoo\[raw\]'"):
        read_image(path)


@pytest.mark.parametrize("name", ["x.CR2", "x.cr3", "x.nef", "x.arw", "x.raf", "x.orf", "x.rw2"])
def test_every_raw_suffix_gives_a_tiff_output(name):
    assert output_suffix(Path(name))[0] == ".tif"


def test_zoo_denoise_a_dng(tmp_path):
    out = tmp_path / "out.tif"
    proc = run_zoo("denoise", "--model", "mwrcanet:awgn_small", "-o", str(out), str(make_dng(tmp_path / "x.dng")))
    assert proc.returncode == 0, proc.stderr
    data = tifffile.imread(out)
    assert data.dtype == np.uint16 and data.shape == (H, W, 3)
    with Image.open(out) as img:
        assert img.getexif().get_ifd(0x8769)[0x8827] == 400


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on the damaged EXIF it skips
def test_mutated_dngs_raise_only_image_read_errors(tmp_path):
    from hypothesis import given

    from tests.test_photo_fuzz import FUZZ, _check, mutated

    sample = make_dng(tmp_path / "sample.dng").read_bytes()

    @FUZZ
    @given(mutated(sample))
    def run(data):
        _check(tmp_path / "fuzz.dng", data)

    run()
