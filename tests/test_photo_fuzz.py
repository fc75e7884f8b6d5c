"""Fuzzing read_image: mutated PNG, JPEG, TIFF, WebP (and GIF, CMYK JPEG) bytes either read or
raise ImageReadError with one line naming the file; never another exception type.

Bounded and repeatable: hypothesis with a fixed seed (derandomize), 40 to 60 examples a format,
no deadline. The bomb limit is lowered so that a mutated size field cannot make a test slow.
PNG mutations also run with their CRCs fixed up, to get past zoo.photo.png into the decoders.
What the fuzzer found, now fixed in zoo/photo/tiff.py: a damaged TIFF tag with two values where
one belongs reached tifffile's arithmetic (TypeError), a damaged zlib strip raised imagecodecs'
DeflateError (a RuntimeError), and 1-bit samples came back as numpy bool.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from registry.errors import ImageReadError
from tests.test_photo_formats import CMYK_ICC
from zoo.photo.imageio import read_image

# Pillow warns (UserWarning) about the damaged metadata it skips: expected of every mutated file
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
RNG = np.random.default_rng(5)
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
MAX_PIXELS = 1 << 20


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "ZooCam"
    exif[0x0112] = 6
    return exif.tobytes()


def _pillow(fmt: str, image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _samples() -> dict[str, bytes]:
    rgb = Image.fromarray(RNG.integers(0, 256, size=(12, 16, 3), dtype=np.uint8))
    rgba = Image.fromarray(RNG.integers(0, 256, size=(12, 16, 4), dtype=np.uint8))
    u16 = RNG.integers(0, 65536, size=(12, 16, 3), dtype=np.uint16)
    tiff16 = io.BytesIO()
    tifffile.imwrite(tiff16, u16, photometric="rgb", compression="zlib", iccprofile=ICC)
    return {
        "png": _pillow("PNG", rgba, icc_profile=ICC, exif=_exif()),
        "png16": imagecodecs.png_encode(u16),
        "jpeg": _pillow("JPEG", rgb, icc_profile=ICC, exif=_exif(), quality=90),
        "tiff": _pillow("TIFF", rgb, icc_profile=ICC, exif=_exif()),
        "tiff16": tiff16.getvalue(),
        "webp": _pillow("WEBP", rgba, lossless=True, icc_profile=ICC, exif=_exif()),
        "gif": _pillow("GIF", rgb.quantize(16)),
        "cmyk": _pillow("JPEG", rgb.convert("CMYK"), icc_profile=CMYK_ICC),
    }


SAMPLES = _samples()


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """Up to 8 edits (byte flips, random bytes, cuts, insertions, deletions, copies) of ``data``;
    most land in the first 256 bytes, where the headers are."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        head = draw(st.booleans())
        pos = draw(st.integers(0, max(0, min(len(buf), 256 if head else len(buf)) - 1)))
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete", "copy"]))
        if op == "flip" and buf:
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and buf:
            buf[pos] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        elif op == "cut":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del buf[pos:pos + draw(st.integers(1, 16))]
        elif op == "copy" and buf:
            start = draw(st.integers(0, len(buf) - 1))
            buf[pos:pos + 4] = buf[start:start + 4]
    return bytes(buf)


def _fix_crcs(data: bytes) -> bytes:
    """Rewrite each PNG chunk's CRC to match its mutated contents, so that the mutation gets past
    the CRC check (zoo.photo.png) into the decoders."""
    buf, pos = bytearray(data), 8
    while pos + 12 <= len(buf):
        length = struct.unpack(">I", buf[pos:pos + 4])[0]
        end = pos + 8 + length
        if end + 4 > len(buf):
            break
        buf[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(buf[pos + 4:end])))
        pos = end + 4
    return bytes(buf)


def _check(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        photo = read_image(path, max_pixels=MAX_PIXELS)
    except ImageReadError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
    else:
        assert photo.pixels.ndim == 3 and photo.pixels.dtype == np.float32
        assert 1 <= photo.pixels.shape[2] <= 4


FUZZ = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SMALL = settings(FUZZ, max_examples=40)


@pytest.mark.parametrize("kind", ["png", "png16", "jpeg", "tiff", "tiff16", "webp"])
def test_mutated_files_raise_only_image_read_errors(tmp_path, kind):
    ext = {"png16": "png", "tiff16": "tif", "tiff": "tif", "jpeg": "jpg"}.get(kind, kind)

    @FUZZ
    @given(mutated(SAMPLES[kind]))
    def run(data):
        _check(tmp_path / f"fuzz.{ext}", data)

    run()


@pytest.mark.parametrize("kind", ["png", "png16"])
def test_mutated_png_with_valid_crcs_raise_only_image_read_errors(tmp_path, kind):
    @FUZZ
    @given(mutated(SAMPLES[kind]))
    def run(data):
        _check(tmp_path / "fuzz.png", _fix_crcs(data))

    run()


@pytest.mark.parametrize("kind", ["gif", "cmyk"])
def test_mutated_gif_and_cmyk_raise_only_image_read_errors(tmp_path, kind):
    @SMALL
    @given(mutated(SAMPLES[kind]))
    def run(data):
        _check(tmp_path / ("fuzz.gif" if kind == "gif" else "fuzz.jpg"), data)

    run()


def test_the_unmutated_samples_read(tmp_path):
    for kind, data in SAMPLES.items():
        path = tmp_path / f"ok-{kind}"
        path.write_bytes(data)
        assert read_image(path).pixels.shape[:2] in ((12, 16), (16, 12)), kind
