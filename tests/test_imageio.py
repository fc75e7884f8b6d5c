"""Photo I/O (DESIGN section 6): bit depth, alpha, ICC, EXIF, orientation, modes, bad files, bombs."""

from __future__ import annotations

import errno
import io
import os
import struct
import zlib
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from registry.config import DenoiserConfig
from registry.errors import ImageReadError
from tests._zoo_models import Identity
from zoo.inference import engine
from zoo.photo.imageio import Photo, read_image, write_image

RNG = np.random.default_rng(7)
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(**tags: int | str) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "ZooCam"  # Make
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 12:00:00"  # DateTimeOriginal, in the EXIF IFD
    for key, value in tags.items():
        exif[int(key[1:])] = value
    return exif


def _roundtrip(src, dst) -> Photo:
    """Read, run the identity model through the tiled engine, write, read back."""
    photo = read_image(src)
    out = engine.run(Identity(DenoiserConfig()), photo.pixels, tile=32)
    write_image(dst, photo.with_pixels(out))
    return read_image(dst)


def _u16(shape) -> np.ndarray:
    return RNG.integers(0, 65536, size=shape, dtype=np.uint16)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_png_keeps_every_bit(tmp_path, channels):
    data = _u16((37, 53, channels))
    (tmp_path / "in.png").write_bytes(imagecodecs.png_encode(data if channels > 1 else data[..., 0]))
    back = _roundtrip(tmp_path / "in.png", tmp_path / "out.png")
    assert back.bit_depth == 16 and back.pixels.shape == data.shape
    assert np.array_equal(np.rint(back.pixels * 65535).astype(np.uint16), data)
    assert imagecodecs.png_decode((tmp_path / "out.png").read_bytes()).dtype == np.uint16


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_tiff_keeps_every_bit_and_icc(tmp_path, channels):
    data = _u16((41, 29, channels))
    photometric = "rgb" if channels >= 3 else "minisblack"
    extras = ["unassalpha"] if channels == 4 else None
    tifffile.imwrite(tmp_path / "in.tif", data, photometric=photometric, extrasamples=extras, iccprofile=ICC)
    back = _roundtrip(tmp_path / "in.tif", tmp_path / "out.tif")
    assert back.bit_depth == 16 and back.icc_profile == ICC
    assert np.array_equal(np.rint(back.pixels * 65535).astype(np.uint16).reshape(data.shape), data)
    assert tifffile.imread(tmp_path / "out.tif").dtype == np.uint16


@pytest.mark.parametrize("ext", ["png", "tif", "webp"])
def test_rgba_alpha_comes_back_byte_identical(tmp_path, ext):
    rgba = RNG.integers(0, 256, size=(33, 45, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / f"in.{ext}", **({"lossless": True} if ext == "webp" else {}))
    _roundtrip(tmp_path / f"in.{ext}", tmp_path / f"out.{ext}")
    assert np.array_equal(np.asarray(Image.open(tmp_path / f"out.{ext}"))[..., 3], rgba[..., 3])


def test_16bit_alpha_comes_back_identical(tmp_path):
    data = _u16((20, 30, 4))
    (tmp_path / "in.png").write_bytes(imagecodecs.png_encode(data))
    _roundtrip(tmp_path / "in.png", tmp_path / "out.png")
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "out.png").read_bytes())[..., 3], data[..., 3])


@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_icc_and_exif_bytes_are_preserved(tmp_path, ext):
    exif = _exif().tobytes()
    rgb = RNG.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / f"in.{ext}", icc_profile=ICC, exif=exif)
    back = _roundtrip(tmp_path / f"in.{ext}", tmp_path / f"out.{ext}")
    out = Image.open(tmp_path / f"out.{ext}")
    assert out.info["icc_profile"] == ICC and back.icc_profile == ICC
    assert out.info["exif"].removeprefix(b"Exif\x00\x00") == exif.removeprefix(b"Exif\x00\x00")


def test_16bit_png_keeps_icc_and_exif_bytes(tmp_path):
    exif = _exif().tobytes().removeprefix(b"Exif\x00\x00")
    write_image(tmp_path / "in.png", Photo(_u16((16, 16, 3)) / np.float32(65535), 16, "PNG", ICC, exif))
    _roundtrip(tmp_path / "in.png", tmp_path / "out.png")
    out = Image.open(tmp_path / "out.png")
    assert out.info["icc_profile"] == ICC and out.info["exif"].removeprefix(b"Exif\x00\x00") == exif


def test_tiff_keeps_icc_and_exif_tags(tmp_path):
    rgb = RNG.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.tif", icc_profile=ICC, exif=_exif().tobytes())
    _roundtrip(tmp_path / "in.tif", tmp_path / "out.tif")
    out = Image.open(tmp_path / "out.tif")
    assert out.info["icc_profile"] == ICC
    assert out.getexif()[0x010F] == "ZooCam"
    assert out.getexif().get_ifd(0x8769)[0x9003] == "2024:05:01 12:00:00"


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("ext", ["jpg", "png", "tif"])
def test_exif_orientation_is_applied_and_normalised(tmp_path, ext, orientation):
    rgb = RNG.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / f"in.{ext}", exif=_exif(t274=orientation), **_lossless(ext))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / f"in.{ext}")))
    photo = read_image(tmp_path / f"in.{ext}")
    assert photo.pixels.shape[:2] == expected.shape[:2]
    if ext != "jpg":
        assert np.array_equal(np.rint(photo.pixels * 255).astype(np.uint8), expected)
    write_image(tmp_path / f"out.{ext}", photo)
    out = Image.open(tmp_path / f"out.{ext}")
    assert out.getexif().get(0x0112, 1) == 1 and out.getexif()[0x010F] == "ZooCam"


def _lossless(ext: str) -> dict:
    return {"quality": 100} if ext == "jpg" else {}


@pytest.mark.parametrize(("mode", "ext"), [("L", "png"), ("L", "jpg"), ("L", "tif"), ("LA", "png")])
def test_grayscale_in_gives_grayscale_out(tmp_path, mode, ext):
    gray = Image.fromarray(RNG.integers(0, 256, size=(20, 24), dtype=np.uint8)).convert(mode)
    gray.save(tmp_path / f"in.{ext}")
    back = _roundtrip(tmp_path / f"in.{ext}", tmp_path / f"out.{ext}")
    assert Image.open(tmp_path / f"out.{ext}").mode == mode
    assert back.pixels.shape[2] == len(mode)


def test_palette_is_converted_to_rgb(tmp_path):
    rgb = RNG.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).quantize(16).save(tmp_path / "in.png")
    back = _roundtrip(tmp_path / "in.png", tmp_path / "out.png")
    expected = np.asarray(Image.open(tmp_path / "in.png").convert("RGB"))
    assert back.pixels.shape == (16, 16, 3)
    assert np.array_equal(np.rint(back.pixels * 255).astype(np.uint8), expected)


@pytest.mark.parametrize("ext", ["jpg", "tif"])
def test_cmyk_is_read_as_rgb(tmp_path, ext):
    """CMYK is converted (zoo.photo.cmyk; tests/test_photo_formats.py has the profile cases)."""
    Image.new("CMYK", (8, 8), (10, 20, 30, 40)).save(tmp_path / f"in.{ext}")
    photo = read_image(tmp_path / f"in.{ext}")
    assert photo.pixels.shape == (8, 8, 3) and photo.color_model == "CMYK"


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "webp"])
def test_truncated_file_gives_one_line_error(tmp_path, ext):
    Image.fromarray(RNG.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)).save(tmp_path / f"in.{ext}")
    data = (tmp_path / f"in.{ext}").read_bytes()
    (tmp_path / f"bad.{ext}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / f"bad.{ext}")
    assert str(info.value).startswith(str(tmp_path / f"bad.{ext}")) and "\n" not in str(info.value)


def test_garbage_file_is_not_an_image(tmp_path):
    (tmp_path / "x.png").write_bytes(b"this is not a png at all")
    with pytest.raises(ImageReadError, match="not a supported image file"):
        read_image(tmp_path / "x.png")


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_decompression_bomb_is_refused_unless_allowed(tmp_path, ext):
    Image.new("RGB", (100, 60)).save(tmp_path / f"big.{ext}")
    with pytest.raises(ImageReadError, match="decompression-bomb limit.*--allow-large"):
        read_image(tmp_path / f"big.{ext}", max_pixels=1000)
    assert read_image(tmp_path / f"big.{ext}", max_pixels=None).pixels.shape == (60, 100, 3)
    assert Image.MAX_IMAGE_PIXELS is not None  # the global limit is back on


@pytest.mark.parametrize(("name", "encoder"), [("out.png", "png"), ("out.jpg", "pillow")])
def test_failed_write_leaves_nothing(tmp_path, monkeypatch, name, encoder):
    import imagecodecs

    photo = Photo(np.zeros((4, 4, 3), np.float32))

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    if encoder == "png":
        monkeypatch.setattr(imagecodecs, "png_encode", boom)
    else:
        monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / name, photo)
    assert list(tmp_path.iterdir()) == []


def _u8(shape) -> np.ndarray:
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


def _one_line_with_name(exc: pytest.ExceptionInfo, path: Path) -> str:
    text = str(exc.value)
    assert "\n" not in text and str(path) in text
    return text


# -- E. one-line errors that name the file and say what went wrong


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_float_and_wide_tiff_errors_name_the_file(tmp_path, dtype):
    tifffile.imwrite(tmp_path / "in.tif", np.zeros((8, 8, 3), dtype), photometric="rgb")
    with pytest.raises(ImageReadError, match="8- or 16-bit integer") as info:
        read_image(tmp_path / "in.tif")
    assert _one_line_with_name(info, tmp_path / "in.tif").startswith(str(tmp_path / "in.tif"))


@pytest.mark.parametrize("ext", ["png", "tif", "jpg"])
def test_permission_error_is_not_called_corrupt(tmp_path, monkeypatch, ext):
    Image.fromarray(_u8((8, 8, 3))).save(tmp_path / f"in.{ext}")
    real_open = Path.open

    def denied(self, *args, **kwargs):
        if self.name == f"in.{ext}":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / f"in.{ext}")
    assert str(info.value).startswith(f"cannot read {tmp_path / f'in.{ext}'}: permission denied")
    assert "corrupt" not in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_says_permission_denied(tmp_path):
    Image.fromarray(_u8((8, 8, 3))).save(tmp_path / "in.png")
    (tmp_path / "in.png").chmod(0)
    with pytest.raises(ImageReadError, match="permission denied"):
        read_image(tmp_path / "in.png")


@pytest.mark.parametrize("depth", [8, 16])
def test_png_with_an_icc_profile_over_1mb_reads_back(tmp_path, depth):
    icc = ICC + RNG.integers(0, 256, size=3 << 20, dtype=np.uint8).tobytes()  # 3 MB, incompressible
    pixels = _u8((8, 8, 3)).astype(np.float32) / 255
    write_image(tmp_path / "out.png", Photo(pixels, depth, "PNG", icc))
    back = read_image(tmp_path / "out.png")
    assert back.icc_profile == icc and back.bit_depth == depth


def test_png_with_an_icc_profile_past_the_bound_is_refused(tmp_path):
    pixels = np.zeros((4, 4, 3), np.float32)
    write_image(tmp_path / "out.png", Photo(pixels, 8, "PNG", bytes(40 << 20)))  # 40 MB of zeros
    with pytest.raises(ImageReadError, match="ICC profile is over 32 MB"):
        read_image(tmp_path / "out.png")


def _png_chunks(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, type) of each chunk of a PNG."""
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((pos, kind))
        pos += 12 + length
    return chunks


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("kind", [b"IDAT", b"IEND", b"tEXt"])
def test_png_with_a_bad_crc_is_refused_as_corrupt(tmp_path, depth, kind):
    image = Image.fromarray(_u8((16, 16, 3))) if depth == 8 else Image.fromarray(
        RNG.integers(0, 65536, size=(16, 16), dtype=np.uint16))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=_text_chunk() if kind == b"tEXt" else None)
    data = bytearray(buffer.getvalue())
    pos = next(p for p, k in _png_chunks(bytes(data)) if k == kind)
    length = struct.unpack(">I", data[pos:pos + 4])[0]
    data[pos + 8 + length] ^= 0xFF  # the stored CRC
    (tmp_path / "bad.png").write_bytes(bytes(data))
    why = f"corrupt or truncated image \\(PNG {kind.decode()} chunk fails its CRC check"
    with pytest.raises(ImageReadError, match=why) as info:
        read_image(tmp_path / "bad.png")
    assert str(info.value).startswith(str(tmp_path / "bad.png"))


def _text_chunk():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("note", "hello", zip=False)
    return info


def test_png_cut_after_its_pixels_is_refused(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(_u8((16, 16, 3))).save(buffer, format="PNG")
    data = buffer.getvalue()
    (tmp_path / "cut.png").write_bytes(data[:-12])  # IEND gone
    with pytest.raises(ImageReadError, match="corrupt or truncated image .PNG file ends before its IEND"):
        read_image(tmp_path / "cut.png")
    (tmp_path / "tail.png").write_bytes(data + b"trailing bytes some tools add")
    assert read_image(tmp_path / "tail.png").pixels.shape == (16, 16, 3)


def test_png_chunk_crcs_match_zlib(tmp_path):
    write_image(tmp_path / "out.png", Photo(np.zeros((4, 4, 3), np.float32), icc_profile=ICC, exif=b"II*\0"))
    data = (tmp_path / "out.png").read_bytes()
    for pos, kind in _png_chunks(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        stored = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert zlib.crc32(data[pos + 4:pos + 8 + length]) == stored, kind
