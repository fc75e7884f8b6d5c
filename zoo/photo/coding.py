"""How lossy outputs are compressed: a JPEG input's quantisation tables and chroma subsampling, a
WebP input's lossless or lossy coding, and ``--quality``. ``Coding`` (in ``base``) carries them.

A JPEG output keeps a JPEG input's tables and subsampling (Pillow's own ``quality="keep"``, which
works only on the image object it opened, so the tables are carried on the Photo instead); a
quality asked for replaces the tables, with the input's subsampling where it is known and 4:4:4
otherwise; any other input gets quality 95 with 4:4:4 chroma. A lossy WebP does not store its
quality, so only whether it was lossless can be kept: a WebP output is lossless for a lossless
WebP input, and for any input when no quality is asked for; otherwise lossy at that quality.
"""

from __future__ import annotations

import struct
from pathlib import Path

from PIL import Image, JpegImagePlugin

from registry.errors import ZooError
from zoo.photo.base import Coding

DEFAULT_JPEG = {"quality": 95, "subsampling": 0}
_WEBP_LOSSLESS = {"lossless": True, "exact": True}


def check_quality(value: str | int | None, flag: str = "--quality") -> int | None:
    """A whole number from 1 to 100 (or None); ZooError, one line, otherwise."""
    if value is None:
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 100:
        raise ZooError(f"{flag} takes a whole number from 1 to 100 (JPEG and WebP outputs), got {value!r}")
    return int(text)


def read_coding(img: Image.Image, fmt: str, path: Path) -> Coding:
    """What an opened JPEG or WebP tells about its compression; an empty Coding for other formats."""
    if fmt == "JPEG" and (tables := getattr(img, "quantization", None)):
        sampling = JpegImagePlugin.get_sampling(img)
        return Coding(qtables=tuple(tuple(int(v) for v in t) for _, t in sorted(tables.items())),
                      subsampling=None if sampling == -1 else sampling)
    if fmt == "WEBP":
        return Coding(lossless=webp_lossless(path))
    return Coding()


def webp_lossless(path: Path) -> bool | None:
    """Whether a WebP's image chunk is VP8L (lossless) or VP8 (lossy): the first chunk of a simple
    WebP (bytes 12-16), found past VP8X, ICCP and the like in an extended one. Pillow does not say."""
    with path.open("rb") as f:
        if f.read(12)[8:12] != b"WEBP":
            return None
        while len(header := f.read(8)) == 8:
            kind, size = header[:4], struct.unpack("<I", header[4:])[0]
            if kind in (b"VP8 ", b"VP8L"):
                return kind == b"VP8L"
            f.seek(size + (size & 1), 1)  # chunks are padded to an even size
    return None


def jpeg_options(coding: Coding, cmyk: bool = False) -> dict:
    """Pillow's JPEG save options; CMYK takes no subsampling (libjpeg never subsamples it)."""
    subsampling = 0 if coding.subsampling is None else coding.subsampling
    if coding.quality is not None:
        options = {"quality": coding.quality, "subsampling": subsampling}
    elif coding.qtables:
        options = {"qtables": [list(t) for t in coding.qtables], "subsampling": subsampling}
    else:
        options = dict(DEFAULT_JPEG)
    if cmyk:
        options.pop("subsampling")
    return options


def webp_options(coding: Coding) -> dict:
    if coding.quality is None or coding.lossless:
        return dict(_WEBP_LOSSLESS)
    return {"quality": coding.quality, "exact": True}
