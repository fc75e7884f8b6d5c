"""HEIC/HEIF in and out through pillow-heif (issue #20, item 2): EXIF, ICC and orientation kept
as for JPEG (orientation applied to the pixels, the tag not carried on), HEIC out for HEIC in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from registry.errors import ImageReadError
from zoo.photo import heif
from zoo.photo.formats import FORMATS, output_suffix
from zoo.photo.imageio import Photo, read_image, write_image

pytest.importorskip("pillow_heif")

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _smooth(height: int = 40, width: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height) + 64], -1).astype(np.uint8)


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "ZooCam", orientation
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 12:00:00"
    return exif.tobytes()


def test_heic_round_trip_keeps_exif_icc_and_orientation(tmp_path):
    heif.require(tmp_path)  # registers the opener for Pillow's save below
    rgb = _smooth()
    Image.fromarray(rgb).save(tmp_path / "in.heic", exif=_exif(6), icc_profile=ICC, quality=95, chroma=444)
    photo = read_image(tmp_path / "in.heic")
    upright = np.rot90(rgb, -1)  # orientation 6: turn 90 degrees clockwise
    assert photo.format == "HEIF" and photo.pixels.shape == (64, 40, 3) and photo.icc_profile == ICC
    assert np.abs(photo.pixels * 255 - upright).mean() < 3
    assert output_suffix(tmp_path / "in.heic") == (".heic", None)
    out = write_image(tmp_path / "out.heic", photo)
    with Image.open(out) as img:
        assert img.format == "HEIF" and img.size == (40, 64) and img.info["icc_profile"] == ICC
        exif = img.getexif()
        assert exif.get(0x0112, 1) == 1 and exif[0x010F] == "ZooCam"
        assert exif.get_ifd(0x8769)[0x9003] == "2024:05:01 12:00:00"
    again = read_image(out)  # not turned a second time
    assert again.pixels.shape == (64, 40, 3) and np.abs(again.pixels * 255 - upright).mean() < 4


@pytest.mark.parametrize("channels", [1, 2, 4])
def test_gray_and_alpha_photos_write_as_heic(tmp_path, channels):
    pixels = np.random.default_rng(0).random((16, 24, channels), np.float32)
    back = read_image(write_image(tmp_path / "x.heic", Photo(pixels, 8, "HEIF")))
    assert back.pixels.shape[:2] == (16, 24) and back.has_alpha == (channels in (2, 4))


def test_heic_suffixes_are_written_formats():
    assert FORMATS[".heic"] == FORMATS[".heif"] == "HEIF"
    assert output_suffix(Path("x.hif"))[0] == ".heic"


def test_without_an_encoder_the_output_of_a_heic_is_png(monkeypatch):
    monkeypatch.setattr(heif, "can_encode", lambda: False)
    suffix, note = output_suffix(Path("x.heic"))
    assert suffix == ".png" and "the output is PNG" in note


def test_without_pillow_heif_a_heic_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "x.heic"
    path.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic")

    def missing():
        raise ImportError("no pillow_heif")

    monkeypatch.setattr(heif, "_register", missing)
    with pytest.raises(ImageReadError, match=r"HEIC/HEIF files need: pip install 'denoise-zoo\[heif\]'"):
        read_image(path)


def test_a_damaged_heic_is_one_line(tmp_path):
    heif.require(tmp_path)
    Image.fromarray(_smooth()).save(tmp_path / "whole.heic")
    cut = tmp_path / "cut.heic"
    cut.write_bytes((tmp_path / "whole.heic").read_bytes()[:200])
    with pytest.raises(ImageReadError) as exc:
        read_image(cut)
    assert "\n" not in str(exc.value) and str(cut) in str(exc.value) and "corrupt or truncated HEIF" in str(exc.value)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on the damaged EXIF it skips
def test_mutated_heics_raise_only_image_read_errors(tmp_path):
    from hypothesis import given

    from tests.test_photo_fuzz import SMALL, _check, mutated

    heif.require(tmp_path)
    Image.fromarray(_smooth(12, 16)).save(tmp_path / "sample.heic", exif=_exif(6), icc_profile=ICC)
    sample = (tmp_path / "sample.heic").read_bytes()

    @SMALL
    @given(mutated(sample))
    def run(data):
        _check(tmp_path / "fuzz.heic", data)

    run()
