"""zoo/photo beyond the four written formats: outputs for every readable input, multi-frame
inputs refused, CMYK through ICC profiles, and the one-line errors (names, errno, PNG CRCs)."""

from __future__ import annotations

import errno
import io
import struct
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from registry.errors import ImageReadError, ImageWriteError
from zoo.photo import cmyk
from zoo.photo.imageio import FORMATS, READABLE, Photo, output_suffix, read_image, write_image

RNG = np.random.default_rng(11)


def _u8(shape) -> np.ndarray:
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


def _levels(photo: Photo, top: int = 255) -> np.ndarray:
    return np.rint(photo.pixels * top).astype(np.int64)


def _one_line_with_name(exc: pytest.ExceptionInfo, path: Path) -> str:
    text = str(exc.value)
    assert "\n" not in text and str(path) in text
    return text


# -- A. every readable input has a writable output


@pytest.mark.parametrize(("name", "expected"), [
    ("photo.jpg", (".jpg", None)), ("photo.JPG", (".JPG", None)), ("a/photo.tiff", (".tiff", None)),
    ("photo.gif", (".png", "photo.gif: GIF cannot be written; the output is PNG")),
    ("photo.bmp", (".png", "photo.bmp: BMP cannot be written; the output is PNG")),
    ("photo.ico", (".png", "photo.ico: ICO cannot be written; the output is PNG")),
    ("photo.apng", (".png", "photo.apng: the output is PNG, as .png")),
    ("photo.jfif", (".jpg", "photo.jfif: the output is JPEG, as .jpg")),
    ("photo.xyz", (".png", "photo.xyz: XYZ cannot be written; the output is PNG")),
    ("photo", (".png", "photo: no image extension; the output is PNG")),
])
def test_output_suffix(name, expected):
    assert output_suffix(Path(name)) == expected


def test_every_written_suffix_is_readable():
    assert set(FORMATS) <= set(READABLE) and output_suffix(Path("x.gif"))[0] in FORMATS


@pytest.mark.parametrize(("ext", "mode"), [
    ("gif", "P"), ("gif", "L"), ("bmp", "RGB"), ("ppm", "RGB"), ("pgm", "L"), ("tga", "RGBA"),
    ("apng", "RGB"), ("jpe", "RGB"),
])
def test_each_readable_format_round_trips_through_its_output_suffix(tmp_path, ext, mode):
    src = tmp_path / f"in.{ext}"
    image = Image.fromarray(_u8((12, 17, 3))).quantize(32) if mode == "P" else Image.fromarray(
        _u8((12, 17, len(mode)))[..., 0] if mode == "L" else _u8((12, 17, len(mode))))
    image.save(src, format={"apng": "PNG", "jpe": "JPEG"}.get(ext))
    photo = read_image(src)
    suffix, _ = output_suffix(src)
    out = write_image(tmp_path / f"out{suffix}", photo)
    back = read_image(out)
    assert back.pixels.shape == photo.pixels.shape
    if suffix != ".jpg":
        assert np.array_equal(_levels(back), _levels(photo))


def test_16bit_pgm_gives_a_16bit_png(tmp_path):
    data = RNG.integers(0, 65536, size=(9, 13), dtype=np.uint16)
    (tmp_path / "in.pgm").write_bytes(b"P5 13 9 65535\n" + data.astype(">u2").tobytes())
    photo = read_image(tmp_path / "in.pgm")
    out = write_image(tmp_path / ("out" + output_suffix(tmp_path / "in.pgm")[0]), photo)
    assert photo.bit_depth == 16 and np.array_equal(imagecodecs.png_decode(out.read_bytes()), data)


def test_single_frame_gif_with_transparency_reads_as_rgba(tmp_path):
    image = Image.fromarray(_u8((10, 10, 3))).quantize(16)
    image.info["transparency"] = 0
    image.save(tmp_path / "in.gif", transparency=0)
    photo = read_image(tmp_path / "in.gif")
    assert photo.pixels.shape == (10, 10, 4) and photo.format == "GIF"
    expected = np.asarray(Image.open(tmp_path / "in.gif").convert("RGBA"))
    assert np.array_equal(_levels(photo), expected)


@pytest.mark.parametrize(("name", "fmt"), [("out.gif", None), ("out.bmp", None), ("out.png", "GIF"),
                                           ("noext", None)])
def test_writing_a_format_without_encoder_is_one_line(tmp_path, name, fmt):
    photo = Photo(np.zeros((4, 4, 3), np.float32), format="GIF")
    with pytest.raises(ImageWriteError, match="cannot be written; use .png") as info:
        write_image(tmp_path / name, photo, fmt)
    _one_line_with_name(info, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_a_name_without_suffix_takes_the_photos_writable_format(tmp_path):
    write_image(tmp_path / "noext", Photo(np.zeros((4, 4, 3), np.float32), format="JPEG"))
    assert Image.open(tmp_path / "noext").format == "JPEG"


@pytest.mark.parametrize("pixels", [np.zeros((4, 4, 5), np.float32), np.zeros((4, 4), np.float32),
                                    np.zeros((0, 4, 3), np.float32)])
def test_bad_pixels_are_a_write_error_not_a_crash(tmp_path, pixels):
    with pytest.raises(ImageWriteError, match="HxWxC"):
        write_image(tmp_path / "out.png", Photo(pixels))


def test_encoder_failures_are_write_errors(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise imagecodecs.PngError("boom")

    monkeypatch.setattr(imagecodecs, "png_encode", broken)
    with pytest.raises(ImageWriteError, match="PNG encoder failed"):
        write_image(tmp_path / "out.png", Photo(np.zeros((4, 4, 3), np.float32)))
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_and_system_errors_on_write_are_one_line(tmp_path, monkeypatch):
    photo = Photo(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageWriteError, match="folder .* does not exist"):
        write_image(tmp_path / "nowhere" / "out.png", photo)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(ImageWriteError, match="cannot write .*out.png: No space left on device"):
        write_image(tmp_path / "out.png", photo)
    assert list(tmp_path.iterdir()) == []


# -- B. multi-frame inputs


def _frames(n: int) -> list[Image.Image]:
    return [Image.fromarray(_u8((8, 8, 3))) for _ in range(n)]


@pytest.mark.parametrize(("ext", "fmt"), [("gif", "GIF"), ("png", "PNG"), ("webp", "WEBP"), ("tif", "TIFF")])
def test_animated_and_multipage_files_are_refused(tmp_path, ext, fmt):
    first, *rest = _frames(3)
    first.save(tmp_path / f"anim.{ext}", format=fmt, save_all=True, append_images=rest)
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / f"anim.{ext}")
    assert str(info.value) == (f"{tmp_path / f'anim.{ext}'} has 3 frames (animated/multi-page); only "
                               "single-frame images are supported — extract the frame you want first")


def test_a_tiff_thumbnail_page_is_not_a_frame(tmp_path):
    main, thumb = _u8((16, 16, 3)), _u8((4, 4, 3))
    with tifffile.TiffWriter(tmp_path / "in.tif") as tif:
        tif.write(main, photometric="rgb")
        tif.write(thumb, photometric="rgb", subfiletype=1)
    assert np.array_equal(_levels(read_image(tmp_path / "in.tif")), main)


def test_an_mpo_reads_its_primary_image(tmp_path):
    red, blue = Image.new("RGB", (8, 8), (250, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 250))
    red.save(tmp_path / "in.jpg", format="MPO", save_all=True, append_images=[blue])  # a camera's MPO
    assert Image.open(tmp_path / "in.jpg").n_frames == 2
    photo = read_image(tmp_path / "in.jpg")
    assert photo.format == "JPEG" and photo.pixels.shape == (8, 8, 3)
    assert np.abs(_levels(photo) - np.array([250, 0, 0])).max() <= 3


# -- C. CMYK


def _lab(rgb):
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    t = (lin @ _SRGB_TO_XYZ.T) / _D50
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _rgb(lab):
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    t = np.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29))
    lin = np.clip((t * _D50) @ np.linalg.inv(_SRGB_TO_XYZ).T, 0, 1)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


_D50 = np.array([0.9642, 1.0, 0.8249])
_SRGB_TO_XYZ = np.array([[0.4360747, 0.3850649, 0.1430804], [0.2225045, 0.7168786, 0.0606169],
                         [0.0139322, 0.0971045, 0.7141733]])
_LAB_SCALE = np.array([652.80 / 65535, 256 / 65535, 256 / 65535])  # ICC v2 16-bit Lab
_LAB_OFFSET = np.array([0, 128, 128])


def _lut16(grid: int, n_in: int, n_out: int, func) -> bytes:
    """An ICC lut16Type (mft2) tag: identity curves around a grid^n_in CLUT of ``func``."""
    axis = np.linspace(0, 1, grid)
    points = np.stack(np.meshgrid(*[axis] * n_in, indexing="ij"), -1).reshape(-1, n_in)
    clut = np.clip(np.rint(func(points) * 65535), 0, 65535).astype(">u2")
    ramp = np.array([0, 65535], ">u2")
    head = b"mft2" + bytes(4) + struct.pack(">BBBx", n_in, n_out, grid)
    head += struct.pack(">9i", 65536, 0, 0, 0, 65536, 0, 0, 0, 65536) + struct.pack(">HH", 2, 2)
    return head + np.tile(ramp, n_in).tobytes() + clut.tobytes() + np.tile(ramp, n_out).tobytes()


def _press_to_lab(cmyk_values):  # a made-up press: R = (1 - C)(1 - K)..., colours as sRGB
    return (_lab((1 - cmyk_values[:, :3]) * (1 - cmyk_values[:, 3:])) + _LAB_OFFSET) * _LAB_SCALE


def _lab_to_press(encoded):  # its inverse, with half the grey in K
    rgb = np.clip(_rgb(encoded / _LAB_SCALE - _LAB_OFFSET), 0, 1)
    k = 0.5 * (1 - rgb.max(axis=1, keepdims=True))
    return np.concatenate([1 - rgb / (1 - k), k], 1)


def cmyk_profile() -> bytes:
    """A small ICC v2 CMYK output profile (A2B0 and B2A0 lookup tables over Lab), made here
    because no CMYK profile can be shipped or installed (see zoo.photo.cmyk)."""
    d50 = struct.pack(">3i", *[round(v * 65536) for v in _D50])
    desc = b"zoo test CMYK\0"
    tags = [(b"desc", b"desc" + bytes(4) + struct.pack(">I", len(desc)) + desc + bytes(78)),
            (b"cprt", b"text" + bytes(4) + b"public domain\0"), (b"wtpt", b"XYZ " + bytes(4) + d50),
            (b"A2B0", _lut16(9, 4, 3, _press_to_lab)), (b"B2A0", _lut16(33, 3, 4, _lab_to_press))]
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = struct.pack(">I4sI4s4s4s", offset + len(body), b"lcms", 0x02100000, b"prtr", b"CMYK", b"Lab ")
    header += bytes(12) + b"acsp" + bytes(28) + d50
    return header + bytes(128 - len(header)) + table + body


CMYK_ICC = cmyk_profile()


def _smooth_cmyk(height: int = 48, width: int = 64) -> np.ndarray:
    """A noise-free CMYK picture: gradients at moderate ink (at most 260% in all)."""
    y, x = np.mgrid[0:height, 0:width] / np.array([[[height - 1]], [[width - 1]]])
    planes = [0.7 * x, 0.6 * y, 0.5 * (1 - x) * y + 0.1, 0.3 * x * (1 - y)]
    return np.rint(np.stack(planes, -1) * 255).astype(np.uint8)


def _cmyk_file(path: Path, data: np.ndarray, icc: bytes | None) -> Path:
    image = Image.frombytes("CMYK", data.shape[1::-1], data.tobytes())
    image.save(path, **({"icc_profile": icc} if icc else {}), **({"quality": 95} if path.suffix == ".jpg" else {}))
    return path


def _littlecms_rgb(data: np.ndarray, icc: bytes) -> np.ndarray:
    transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"),
                                        "CMYK", "RGB", renderingIntent=cmyk.INTENT, flags=cmyk.FLAGS)
    image = Image.frombytes("CMYK", data.shape[1::-1], data.tobytes())
    return np.asarray(ImageCms.applyTransform(image, transform), np.int64)


@pytest.mark.parametrize("ext", ["tif", "jpg"])
def test_cmyk_with_profile_reads_as_srgb_through_it(tmp_path, ext):
    data = _smooth_cmyk()
    src = _cmyk_file(tmp_path / f"in.{ext}", data, CMYK_ICC)
    photo = read_image(src)
    assert photo.color_model == "CMYK" and photo.cmyk_profile == CMYK_ICC and photo.icc_profile == cmyk.SRGB
    assert photo.pixels.shape == (48, 64, 3) and photo.bit_depth == 8
    error = np.abs(_levels(photo) - _littlecms_rgb(data, CMYK_ICC))
    assert error.max() <= (0 if ext == "tif" else 6)


@pytest.mark.parametrize("ext", ["tif", "jpg"])
def test_cmyk_round_trip_error_is_small(tmp_path, ext):
    """Read a noise-free CMYK file, write the same pixels, read back: measured mean abs error
    0.29 levels for TIFF and 0.45 for JPEG (quality 95), in 8-bit RGB levels; 99% of samples
    within 2 levels, the worst 6 (in the darkest corner, where the test profile's 33-point
    Lab -> CMYK table is coarsest)."""
    src = _cmyk_file(tmp_path / f"in.{ext}", _smooth_cmyk(), CMYK_ICC)
    photo = read_image(src)
    out = write_image(tmp_path / f"out.{ext}", photo)
    with Image.open(out) as written:
        assert written.mode == "CMYK" and written.info["icc_profile"] == CMYK_ICC
    back = read_image(out)
    error = np.abs(_levels(back) - _levels(photo))
    assert back.color_model == "CMYK" and error.mean() < (0.4 if ext == "tif" else 0.6)
    assert np.percentile(error, 99) <= 2 and error.max() <= 8


@pytest.mark.parametrize("ext", ["tif", "jpg"])
def test_cmyk_without_profile_uses_pillows_formula_both_ways(tmp_path, ext):
    data = _smooth_cmyk()
    src = _cmyk_file(tmp_path / f"in.{ext}", data, None)
    photo = read_image(src)
    naive = np.asarray(Image.frombytes("CMYK", (64, 48), data.tobytes()).convert("RGB"), np.int64)
    assert photo.color_model == "CMYK" and photo.cmyk_profile is None and photo.icc_profile is None
    assert np.abs(_levels(photo) - naive).max() <= (0 if ext == "tif" else 4)
    back = read_image(write_image(tmp_path / f"out.{ext}", photo))
    assert np.abs(_levels(back) - _levels(photo)).max() <= (0 if ext == "tif" else 4)


def test_adobe_inverted_cmyk_jpeg_from_pillow_reads_right(tmp_path):
    src = _cmyk_file(tmp_path / "in.jpg", np.full((16, 16, 4), (200, 10, 10, 0), np.uint8), None)
    assert b"Adobe" in src.read_bytes()  # Pillow writes inverted CMYK with the Adobe marker
    photo = read_image(src)
    assert np.abs(_levels(photo) - np.array([55, 245, 245])).max() <= 2  # cyan ink: no red


def test_cmyk_photo_written_as_png_is_rgb_tagged_srgb(tmp_path):
    photo = read_image(_cmyk_file(tmp_path / "in.tif", _smooth_cmyk(), CMYK_ICC))
    suffix, note = output_suffix(tmp_path / "in.tif")
    assert (suffix, note) == (".tif", None)
    out = write_image(tmp_path / "out.png", photo)
    with Image.open(out) as written:
        assert written.mode == "RGB" and written.info["icc_profile"] == cmyk.SRGB
    assert np.array_equal(_levels(read_image(out)), _levels(photo))


def test_16bit_cmyk_tiff_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "in.tif", np.zeros((8, 8, 4), np.uint16), photometric="separated")
    with pytest.raises(ImageReadError, match="16-bit CMYK is not supported") as info:
        read_image(tmp_path / "in.tif")
    _one_line_with_name(info, tmp_path / "in.tif")


@pytest.mark.parametrize(("icc", "why"), [(b"not a profile at all" * 10, "is damaged"),
                                          (cmyk.SRGB, "is for RGB, not CMYK")])
def test_cmyk_with_a_wrong_profile_is_refused(tmp_path, icc, why):
    src = _cmyk_file(tmp_path / "in.jpg", _smooth_cmyk(8, 8), icc)
    with pytest.raises(ImageReadError, match=why) as info:
        read_image(src)
    _one_line_with_name(info, src)


def test_other_colour_models_are_refused_with_a_clear_message(tmp_path):
    tifffile.imwrite(tmp_path / "in.tif", np.zeros((8, 8, 3), np.uint8), photometric="cielab")
    with pytest.raises(ImageReadError, match="CIELAB.*convert it to RGB") as info:
        read_image(tmp_path / "in.tif")
    _one_line_with_name(info, tmp_path / "in.tif")


@pytest.mark.parametrize(("bits", "photometric"), [(1, "minisblack"), (4, "minisblack"), (8, "miniswhite"),
                                                   (1, "miniswhite")])
def test_low_bit_and_min_is_white_tiffs_read_as_pillow_reads_them(tmp_path, bits, photometric):
    stored = RNG.integers(0, 1 << bits, size=(6, 10), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", stored.astype(bool) if bits == 1 else stored, photometric=photometric,
                     **({"bitspersample": bits} if bits not in (1, 8) else {}))
    expected = np.asarray(Image.open(tmp_path / "in.tif").convert("L"), np.int64)
    photo = read_image(tmp_path / "in.tif")
    assert photo.pixels.shape == (6, 10, 1) and np.array_equal(_levels(photo)[..., 0], expected)
