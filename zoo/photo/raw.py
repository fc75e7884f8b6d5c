"""Camera RAW files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2...) developed by LibRaw (rawpy).

Development: LibRaw's AHD demosaic (its default, well tested on every Bayer camera; DHT is
sharper on some edges but slower and less tested), the camera's as-shot white balance, no
automatic brightening, highlights clipped, 16 bits per sample, converted to sRGB primaries with
the sRGB tone curve (gamma 2.4, toe slope 12.92), and LibRaw's orientation (the raw's flip)
applied, so the Photo is upright 16-bit RGB. Its ICC profile is sRGB (ImageCms's built-in one).

EXIF: LibRaw exposes only some of it, so the raw file's own TIFF structure is read with Pillow's
IFD parser where the file is TIFF-based (DNG, CR2, NEF, ARW, ORF, RW2, PEF, SRW...), and the
JPEG preview's EXIF in a Fuji RAF. Make, model, date and the like are kept from IFD0; exposure
tags (ISO, exposure time, aperture, lens, date taken...) from the EXIF IFD or, as TIFF/EP allows,
from IFD0; GPS as it is. Maker notes (offsets into the raw file) and raw-only tags (DNG colour
matrices, CFA layout) are dropped. Where a tag is missing (CR3, which is not TIFF-based) LibRaw's
own values fill in ISO, exposure, aperture, focal length, date and lens.

Needs the ``raw`` extra; without rawpy a RAW input is one line naming it.
"""

from __future__ import annotations

import datetime
import io
import struct
from fractions import Fraction
from pathlib import Path

from PIL import ExifTags, Image

from registry.errors import ImageReadError, one_line
from zoo.photo.base import Photo, check_size, to_float

SUFFIXES = {".dng": "DNG", ".cr2": "CR2", ".cr3": "CR3", ".crw": "CRW", ".nef": "NEF", ".nrw": "NRW",
            ".arw": "ARW", ".srf": "SRF", ".sr2": "SR2", ".raf": "RAF", ".orf": "ORF", ".rw2": "RW2",
            ".pef": "PEF", ".srw": "SRW", ".3fr": "3FR", ".iiq": "IIQ", ".erf": "ERF", ".mrw": "MRW",
            ".kdc": "KDC", ".x3f": "X3F", ".rwl": "RWL"}
HINT = "RAW files need: pip install 'denoise-zoo[raw]'"
DEMOSAIC = "AHD"
SRGB_GAMMA = (2.4, 12.92)
# TIFF-like headers of raw formats: Olympus ORF and Panasonic RW2 change the magic number only
_TIFF_LIKE = {b"IIRO": b"II*\x00", b"IIRS": b"II*\x00", b"MMOR": b"MM\x00*", b"IIU\x00": b"II*\x00",
              b"II*\x00": b"II*\x00", b"MM\x00*": b"MM\x00*"}
_RAF_MAGIC = b"FUJIFILMCCD-RAW"
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD, _MAKER_NOTE = 0x8769, 0x8825, 0xA005, 0x927C
# IFD0 tags describing the photo, not the file's layout
_IFD0_KEEP = {0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298}
_IFD0_MOVED = range(0x829A, 0xA500)  # EXIF-numbered tags TIFF/EP lets a raw keep in IFD0


def is_raw(path: Path, head: bytes) -> bool:
    """By suffix, or by a content signature no other reader takes (CR3's ftyp brand, RAF, ORF, RW2)."""
    if path.suffix.lower() in SUFFIXES:
        return True
    return head[4:12] == b"ftypcrx " or head.startswith(_RAF_MAGIC[:8]) or head[:4] in (b"IIRO", b"IIRS",
                                                                                         b"MMOR", b"IIU\x00")


def read_raw(path: Path, max_pixels: int | None) -> Photo:
    try:
        import rawpy
    except ImportError:
        raise ImageReadError(f"{path}: {HINT}") from None
    from zoo.photo.cmyk import SRGB

    try:
        with rawpy.imread(str(path)) as raw:
            sizes = raw.sizes
            check_size(path, int(sizes.width) * int(sizes.height), max_pixels)
            data = raw.postprocess(
                demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, DEMOSAIC), use_camera_wb=True,
                no_auto_bright=True, output_bps=16, output_color=rawpy.ColorSpace.sRGB, gamma=SRGB_GAMMA)
            facts = _libraw_facts(raw)
    except ImageReadError:
        raise
    except (rawpy.LibRawError, rawpy.NotSupportedError) as exc:
        raise ImageReadError(f"{path}: RAW file LibRaw cannot develop ({_reason(exc)}); export it "
                             "as a 16-bit TIFF from the camera maker's software and try again") from exc
    if data.ndim != 3 or data.shape[2] != 3 or data.dtype.kind != "u":
        raise ImageReadError(f"{path}: RAW file that does not develop to RGB ({data.shape} {data.dtype})")
    return Photo(to_float(data, path), 16, "TIFF", SRGB, exif_of_raw(path, facts))


def _reason(exc: BaseException) -> str:
    names = {"LibRawFileUnsupportedError": "unsupported file or layout", "LibRawIOError": "truncated or corrupt",
             "LibRawDataError": "corrupt data", "LibRawTooBigError": "too big"}
    return names.get(type(exc).__name__) or one_line(exc) or type(exc).__name__


def _libraw_facts(raw) -> dict[int, object]:
    """EXIF tags (in the EXIF IFD) from what LibRaw parsed, for the formats Pillow cannot read."""
    facts: dict[int, object] = {}
    try:
        other, lens = raw.other, raw.lens
    except (AttributeError, ValueError):  # rawpy before 0.26 has neither
        return facts
    if other.iso_speed > 0:
        facts[ExifTags.Base.ISOSpeedRatings] = round(other.iso_speed)
    if other.shutter_speed > 0:
        facts[ExifTags.Base.ExposureTime] = Fraction(other.shutter_speed).limit_denominator(100000)
    if other.aperture > 0:
        facts[ExifTags.Base.FNumber] = Fraction(other.aperture).limit_denominator(100)
    if other.focal_length > 0:
        facts[ExifTags.Base.FocalLength] = Fraction(other.focal_length).limit_denominator(100)
    stamp = other.timestamp
    if isinstance(stamp, datetime.datetime) and stamp.year > 1970:
        facts[ExifTags.Base.DateTimeOriginal] = stamp.strftime("%Y:%m:%d %H:%M:%S")
    if lens.model:
        facts[ExifTags.Base.LensModel] = lens.model
    if lens.make:
        facts[ExifTags.Base.LensMake] = lens.make
    return facts


def exif_of_raw(path: Path, facts: dict[int, object] | None = None) -> bytes | None:
    """The camera's EXIF as a blob (no orientation: the pixels are upright), or None."""
    source = _file_exif(path)
    exif = Image.Exif()
    if source is not None:
        for tag, value in source.items():
            if tag in _IFD0_KEEP:
                exif[tag] = value
        moved = {tag: value for tag, value in source.items() if tag in _IFD0_MOVED and tag not in
                 (_EXIF_IFD, _GPS_IFD, _INTEROP_IFD, _MAKER_NOTE, 0x8773)}  # 0x8773: ICC
        found = {**moved, **_safe_ifd(source, _EXIF_IFD)}
        for tag in (_MAKER_NOTE, _INTEROP_IFD):
            found.pop(tag, None)
        gps = _safe_ifd(source, _GPS_IFD)
    else:
        found, gps = {}, {}
    for tag, value in (facts or {}).items():
        found.setdefault(tag, value)
    if found:
        exif.get_ifd(_EXIF_IFD).update(found)
    if gps:
        exif.get_ifd(_GPS_IFD).update(gps)
    if not len(exif) and not found and not gps:
        return None
    try:
        blob = exif.tobytes()
    except (ValueError, TypeError, struct.error):  # a tag Pillow cannot write back: keep what LibRaw read
        return None
    return blob[6:] if blob.startswith(b"Exif\x00\x00") else blob


def _safe_ifd(exif: Image.Exif, tag: int) -> dict:
    try:
        return dict(exif.get_ifd(tag))
    except (ValueError, TypeError, KeyError, IndexError, SyntaxError, struct.error, OSError):
        return {}


def _file_exif(path: Path) -> Image.Exif | None:
    """Pillow's EXIF of the raw's TIFF structure (or of a RAF's JPEG preview); None if it has none."""
    try:
        data = path.read_bytes()
        if data.startswith(_RAF_MAGIC) and len(data) >= 92:
            start, length = struct.unpack(">II", data[84:92])
            with Image.open(io.BytesIO(data[start:start + length])) as preview:
                return preview.getexif()
        magic = _TIFF_LIKE.get(data[:4])
        if magic is None:
            return None
        exif = Image.Exif()
        exif.load(magic + data[4:])
        return exif
    except (OSError, ValueError, TypeError, KeyError, IndexError, SyntaxError, struct.error, EOFError):
        return None
