"""Which suffixes the zoo reads and writes, and the output suffix for an input.

``FORMATS`` (suffix -> format) is what the zoo *writes*: PNG, JPEG, TIFF and WebP, and HEIC with
the ``heif`` extra. It reads more: ``READABLE`` adds GIF, APNG, BMP, PNM, TGA, HEIF and camera RAW
(and ``read_image`` reads anything Pillow opens, whatever its name). A RAW input's output is a
16-bit TIFF (``.dng`` -> ``.tif``), or PNG when the user names one. Every readable input has a
writable output: its own suffix where the zoo writes that format, else the format's usual suffix
(``.apng`` -> ``.png``, ``.jfif`` -> ``.jpg``), else PNG (8 or 16 bit as the pixels need), which keeps every pixel, alpha, ICC and EXIF.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from zoo.photo import heif, raw

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
if heif.installed():  # the heif extra: HEIC in and out (the encoder is checked when first needed)
    FORMATS.update({".heic": "HEIF", ".heif": "HEIF"})
# the usual suffix of each written format, for inputs whose own suffix the zoo does not write
SUFFIX_OF = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "HEIF": ".heic"}
# RAW and HEIF are readable whether or not their extra is installed: reading one without it is
# the one line that names the extra, not a file silently left out of a folder
READABLE = {
    **FORMATS, ".gif": "GIF", ".apng": "PNG", ".jpe": "JPEG", ".jfif": "JPEG", ".bmp": "BMP",
    ".pbm": "PPM", ".pgm": "PPM", ".ppm": "PPM", ".pnm": "PPM", ".tga": "TGA", **heif.SUFFIXES, **raw.SUFFIXES,
}
FALLBACK = ".png"
RAW_OUTPUT = ".tif"


def output_suffix(source: Path) -> tuple[str, str | None]:
    """The suffix to give the output of ``source``, and a one-line note when it is not the input's.

    ``photo.jpg`` -> (".jpg", None); ``photo.gif`` -> (".png", "photo.gif: GIF cannot be written;
    the output is PNG"); ``photo.jfif`` -> (".jpg", "photo.jfif: the output is JPEG, as .jpg").
    Decided by the suffix alone, as ``write_image`` is; the input's case is kept (``.JPG``).
    """
    source = Path(source)
    suffix = source.suffix
    if suffix.lower() in raw.SUFFIXES:
        kind = raw.SUFFIXES[suffix.lower()]
        return RAW_OUTPUT, f"{source}: RAW ({kind}) is not written back; the output is a 16-bit TIFF"
    if suffix.lower() in heif.SUFFIXES and not heif.can_encode():
        return FALLBACK, f"{source}: HEIF cannot be written here (no HEVC encoder); the output is PNG"
    if suffix.lower() in FORMATS:
        return suffix, None
    fmt = pillow_format(suffix)
    if fmt in SUFFIX_OF:
        return SUFFIX_OF[fmt], f"{source}: the output is {fmt}, as {SUFFIX_OF[fmt]}"
    if fmt or suffix:
        return FALLBACK, f"{source}: {fmt or suffix[1:].upper()} cannot be written; the output is PNG"
    return FALLBACK, f"{source}: no image extension; the output is PNG"


def pillow_format(suffix: str) -> str | None:
    """The format Pillow reads for a suffix (".gif" -> "GIF"), or None when it has none."""
    suffix = suffix.lower()
    if suffix in READABLE:
        return READABLE[suffix]
    fmt = Image.registered_extensions().get(suffix)
    return fmt if fmt in Image.OPEN else None


def write_format(path: Path, fmt: str | None, photo_format: str) -> str | None:
    """The format to write ``path`` in: ``fmt`` when given, else the suffix's, else (a name without
    a suffix) the photo's own; None when that is not a format the zoo writes."""
    if fmt:
        fmt = {"JPG": "JPEG", "TIF": "TIFF", "HEIC": "HEIF"}.get(fmt.upper(), fmt.upper())
    elif path.suffix:
        fmt = FORMATS.get(path.suffix.lower())
    else:
        fmt = {"MPO": "JPEG"}.get(photo_format, photo_format)
    return fmt if fmt in SUFFIX_OF else None


def unwritable(path: Path, fmt: str | None) -> str:
    """The one-line reason ``path`` cannot be written in ``fmt``."""
    if fmt:
        what = fmt.upper()
    elif path.suffix:
        what = pillow_format(path.suffix) or f"'{path.suffix}'"
    else:
        what = "a name without an extension"
    return f"cannot write {path}: {what} cannot be written; use .png, .jpg, .tif or .webp"
