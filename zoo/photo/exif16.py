"""EXIF into the 16-bit TIFFs tifffile writes.

tifffile writes IFD0 tags (``extratags``) but no EXIF or GPS IFD, and Pillow, which serialises
IFDs, has no 16-bit RGB mode. So the photo's EXIF blob is parsed with Pillow's IFD reader, keeping
each tag's TIFF type: its IFD0 tags (Make, Model, DateTime, Artist, Copyright...) go to tifffile
as extra tags, with placeholders for the EXIF and GPS IFD pointers (tifffile refuses those two
codes, so the placeholders take the code just below, which keeps IFD0 sorted); after tifffile has
written the file, Pillow serialises the EXIF and GPS IFDs (and the EXIF IFD's interoperability IFD)
at the end of the file, and each placeholder, found through tifffile, gets its real code and the
offset. Tags that
describe the file's layout are the writer's own and not copied (``pillow._TIFF_LAYOUT``, the
orientation, which the pixels already carry); the resolution and Software go to tifffile's own
arguments. An EXIF blob Pillow cannot parse is left out, as the other writers do.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path

from PIL import TiffImagePlugin, TiffTags

from zoo.photo.pillow import _TIFF_LAYOUT, ORIENTATION

_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
_RESOLUTION = {282, 283, 296}
_SOFTWARE = 305
_PLACEHOLDER = {_EXIF_IFD: _EXIF_IFD - 1, _GPS_IFD: _GPS_IFD - 1}  # 34664 is unassigned, 34852
# (SpectralSensitivity) belongs in the EXIF IFD and is not taken from IFD0
_SKIP = (_TIFF_LAYOUT | _RESOLUTION | set(_PLACEHOLDER.values())
         | {_SOFTWARE, ORIENTATION, _EXIF_IFD, _GPS_IFD, _INTEROP_IFD})
_UNITS = {1: "NONE", 2: "INCH", 3: "CENTIMETER"}
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, SyntaxError, struct.error, OSError, AttributeError,
                 ZeroDivisionError)


@dataclass
class ExifTags:
    byteorder: str = "<"
    software: str = "denoise-zoo"
    ifd0: list[tuple] = field(default_factory=list)
    resolution: dict = field(default_factory=dict)
    ifds: dict[int, TiffImagePlugin.ImageFileDirectory_v2] = field(default_factory=dict)


def exif_tags(blob: bytes | None) -> ExifTags:
    """What of ``blob`` goes where in a tifffile write; empty when there is none or it is damaged."""
    if not blob:
        return ExifTags()
    try:
        return _parse(blob)
    except _PARSE_ERRORS:
        return ExifTags()


def _load(blob: bytes, offset: int, group: int | None = None) -> TiffImagePlugin.ImageFileDirectory_v2:
    ifd = TiffImagePlugin.ImageFileDirectory_v2(blob[:8], group=group)
    fp = io.BytesIO(blob)
    fp.seek(offset)
    ifd.load(fp)
    for tag in list(ifd):  # load() keeps raw values; reading each one decodes it for tobytes()
        ifd[tag]
    return ifd


def _parse(blob: bytes) -> ExifTags:
    ifd0 = _load(blob, TiffImagePlugin.ImageFileDirectory_v2(blob[:8]).next)
    tags = ExifTags(byteorder=">" if blob[:2] == b"MM" else "<")
    software = ifd0.get(_SOFTWARE)
    if isinstance(software, str) and software:
        tags.software = software
    if 282 in ifd0 and 283 in ifd0:
        tags.resolution = {"resolution": (_rational(ifd0[282]), _rational(ifd0[283])),
                           "resolutionunit": _UNITS.get(int(ifd0.get(296, 2)), "INCH")}
    for pointer in (_EXIF_IFD, _GPS_IFD):
        if pointer in ifd0:
            sub = _load(blob, int(ifd0[pointer]), group=pointer)
            if pointer == _EXIF_IFD and _INTEROP_IFD in sub:
                interop = _load(blob, int(sub[_INTEROP_IFD]), group=_INTEROP_IFD)
                sub.tagtype[_INTEROP_IFD] = TiffTags.LONG
                sub[_INTEROP_IFD] = dict(interop)
            if len(sub):
                tags.ifds[pointer] = sub
                tags.ifd0.append((_PLACEHOLDER[pointer], TiffTags.LONG, 1, 0, True))
    for tag, value in ifd0.items():
        if tag not in _SKIP:
            entry = _entry(tag, ifd0.tagtype[tag], value)
            if entry is not None:
                tags.ifd0.append(entry)
    return tags


def _rational(value) -> tuple[int, int] | float:
    value = value[0] if isinstance(value, tuple) else value
    return (int(value.numerator), int(value.denominator)) if value.denominator else 72.0


def _entry(tag: int, typ: int, value) -> tuple | None:
    """One tifffile extratag (code, dtype, count, value, writeonce) with the tag's own type."""
    if typ == 2:  # ASCII: Pillow decodes it as Latin-1
        return (tag, 2, None, str(value).encode("latin-1", "replace"), True) if value != "" else None
    if isinstance(value, bytes):  # BYTE, UNDEFINED: packed as they are
        return (tag, typ, len(value), value, True) if value else None
    values = value if isinstance(value, tuple) else (value,)
    if not values:
        return None
    if typ in (5, 10):  # RATIONAL, SRATIONAL: numerator, denominator pairs
        flat = tuple(int(n) for r in values for n in (r.numerator, r.denominator))
        return tag, typ, len(values), flat, True
    return tag, typ, len(values), values, True


def add_exif_ifds(path: Path, tags: ExifTags) -> None:
    """Append the EXIF and GPS IFDs to the file tifffile wrote and point IFD0's placeholders at them."""
    if not tags.ifds:
        return
    import tifffile

    offsets = {}
    with open(path, "r+b") as fh:
        end = fh.seek(0, io.SEEK_END)
        for pointer, ifd in tags.ifds.items():
            if end & 1:
                fh.write(b"\0")
                end += 1
            data = ifd.tobytes(end)
            fh.write(data)
            offsets[pointer], end = end, end + len(data)
    with tifffile.TiffFile(path) as tif:
        if tif.is_bigtiff:  # Pillow's serialiser writes classic TIFF IFDs
            raise ValueError("EXIF in a BigTIFF (over 4 GB) is not supported")
        entries = {pointer: tif.pages.first.tags[_PLACEHOLDER[pointer]].offset for pointer in offsets}
    order = tags.byteorder
    with open(path, "r+b") as fh:
        for pointer, entry in entries.items():  # an entry: code (H), type (H), count (I), value (I)
            fh.seek(entry)
            fh.write(struct.pack(f"{order}HHII", pointer, TiffTags.LONG, 1, offsets[pointer]))
