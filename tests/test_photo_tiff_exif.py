"""16-bit TIFF keeps EXIF (issue #20, item 3).

What "byte for byte" means here: every EXIF tag of the source blob -- IFD0's photo tags (Make,
Model, DateTime, Artist, Copyright, Software, resolution), the whole EXIF IFD (maker note
included), its interoperability IFD and the GPS IFD -- is in the written TIFF with the same TIFF
type, the same count and the same value bytes, as Pillow's IFD reader decodes them (so offsets,
which move, are not compared). Excepted, as for every writer: the tags describing the file's
own layout (size, strips, compression...) and the orientation, which the pixels carry.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import tifffile
from PIL import Image, TiffImagePlugin

from zoo.photo.imageio import Photo, read_image, write_image
from zoo.photo.pillow import _TIFF_LAYOUT

POINTERS = {0x8769: "exif", 0x8825: "gps", 0xA005: "interop"}


def _source_exif() -> bytes:
    exif = Image.Exif()
    exif.update({0x010F: "ZooCam", 0x0110: "Z1", 0x0132: "2024:05:01 12:00:01", 0x013B: "A. Photographer",
                 0x8298: "(c) 2024", 0x0131: "ZooCam firmware 1.2", 0x011A: 300.0, 0x011B: 300.0, 0x0128: 2})
    inner = exif.get_ifd(0x8769)
    inner.update({0x8827: 800, 0x829A: 1 / 125, 0x829D: 4.0, 0x9003: "2024:05:01 12:00:00",
                  0xA434: "Zoo 24-70mm", 0x920A: 35.0, 0x927C: b"ZOO\x00\x01\x02maker-note\xff" * 3,
                  0x9286: b"ASCII\x00\x00\x00a comment", 0xA002: 64, 0xA003: 48})
    inner[0xA005] = {0x0001: "R98"}  # the interoperability IFD, nested
    exif.get_ifd(0x8825).update({0x0001: "N", 0x0002: (52.0, 22.0, 3.5), 0x0005: b"\x00", 0x0006: 12.5})
    return exif.tobytes().removeprefix(b"Exif\x00\x00")


def _tags(data: bytes) -> dict[tuple[str, int], tuple[int, int, bytes]]:
    """(IFD, tag) -> (TIFF type, count, value bytes) for every tag, sub-IFDs followed."""
    fp, found = io.BytesIO(data), {}

    def walk(name: str, offset: int) -> None:
        ifd = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
        fp.seek(offset)
        ifd.load(fp)
        for tag in list(ifd):
            value = ifd[tag]
            if tag in POINTERS:
                walk(POINTERS[tag], int(value))
            elif not (name == "ifd0" and (tag in _TIFF_LAYOUT or tag == 0x0112)):
                values = value if isinstance(value, tuple) else (value,)
                typ = ifd.tagtype[tag]
                packed = value if isinstance(value, bytes) else ifd._write_dispatch[typ](ifd, *values)
                found[name, tag] = typ, len(values) if not isinstance(value, (bytes, str)) else len(packed), packed

    walk("ifd0", TiffImagePlugin.ImageFileDirectory_v2(data[:8]).next)
    return found


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_tiff_keeps_exif_byte_for_byte(tmp_path, channels):
    blob = _source_exif()
    pixels = np.random.default_rng(0).random((12, 20, channels), np.float32)
    out = write_image(tmp_path / "out.tif", Photo(pixels, 16, "TIFF", None, blob))
    assert tifffile.imread(out).dtype == np.uint16
    expected, written = _tags(blob), _tags(out.read_bytes())
    assert {key for key in expected if key[0] != "ifd0"} >= {("exif", 0x927C), ("gps", 2), ("interop", 1)}
    assert written == expected
    again = read_image(out)  # and read back into the Photo, for the next write
    assert again.bit_depth == 16 and _tags(again.exif) == expected


def test_16bit_tiff_read_back_keeps_exif_through_a_second_write(tmp_path):
    blob = _source_exif()
    first = write_image(tmp_path / "a.tif", Photo(np.full((8, 8, 3), 0.5, np.float32), 16, "TIFF", None, blob))
    second = write_image(tmp_path / "b.tif", read_image(first))
    assert _tags(second.read_bytes()) == _tags(blob)


def test_a_big_endian_exif_blob_is_written_in_its_byte_order(tmp_path):
    be = TiffImagePlugin.ImageFileDirectory_v2(b"MM\x00*\x00\x00\x00\x08")
    be[0x010F] = "BigEndianCam"
    be[0x8769] = {0x8827: 100}
    blob = b"MM\x00*\x00\x00\x00\x08" + be.tobytes(8)
    out = write_image(tmp_path / "out.tif", Photo(np.full((8, 8, 3), 0.25, np.float32), 16, "TIFF", None, blob))
    expected, written = _tags(blob), _tags(out.read_bytes())
    assert out.read_bytes()[:2] == b"MM" and {key: written.get(key) for key in expected} == expected


def test_damaged_exif_is_left_out_of_a_16bit_tiff_not_a_failure(tmp_path):
    out = write_image(tmp_path / "out.tif", Photo(np.zeros((4, 4, 3), np.float32), 16, "TIFF", None, b"II*\0"))
    assert tifffile.imread(out).shape == (4, 4, 3)
