"""HEIC/HEIF through pillow-heif (libheif with libde265 to decode, x265 to encode).

pillow-heif registers a Pillow opener, so a HEIF reads as any Pillow image does: EXIF and ICC
from ``img.info``, 8 bits per sample (a 10-bit HEIF is scaled to 8, pillow-heif's default). libheif
applies the image's own transforms (irot/imir) while decoding and pillow-heif then sets the EXIF
orientation to 1, so the pixels are upright and the tag needs no second turn. Output: HEIC at
quality 95 with 4:4:4 chroma (no chroma subsampling, as JPEG outputs use), EXIF and ICC copied.
Where the wheel has no HEVC encoder, ``output_suffix`` gives a PNG output with a note.

Needs the ``heif`` extra; without pillow-heif a HEIF input is one line naming it.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from registry.errors import ImageReadError

SUFFIXES = {".heic": "HEIF", ".heif": "HEIF", ".hif": "HEIF"}
HINT = "HEIC/HEIF files need: pip install 'denoise-zoo[heif]'"
# ISO BMFF brands of HEIF still images and sequences (AVIF is Pillow's own)
_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
OPTIONS = {"quality": 95, "chroma": 444}


def installed() -> bool:
    return importlib.util.find_spec("pillow_heif") is not None


def is_heif(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in SUFFIXES or (head[4:8] == b"ftyp" and head[8:12] in _BRANDS)


@functools.cache
def _register():
    import pillow_heif

    pillow_heif.register_heif_opener()
    return pillow_heif


def require(path: Path) -> None:
    """Register pillow-heif's opener, or refuse with the one line that names the extra."""
    try:
        _register()
    except ImportError:
        raise ImageReadError(f"{path}: {HINT}") from None


@functools.cache
def can_encode() -> bool:
    """Whether pillow-heif is installed with an HEVC encoder (its wheels ship x265)."""
    try:
        info = _register().libheif_info()
    except (ImportError, AttributeError, OSError):
        return False
    return bool(info.get("HEIF"))
