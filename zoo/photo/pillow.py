"""Pillow's side: opening with the bomb limit, EXIF in and out, and modes to the zoo's four.

Pillow's limits are module globals, so they are set for one ``Image.open`` (which parses the
header, and a PNG's chunks up to the pixels) under a lock: two threads reading at once cannot see
each other's limit. The PNG text limit is raised from 1 MB to ``png.MAX_ICC`` (32 MB) so that an
ICC profile the zoo wrote, however large, reads back; ``zoo.photo.png`` refuses a larger one.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from registry.errors import ImageReadError
from zoo.photo import png
from zoo.photo.base import DEFAULT_MAX_PIXELS, check_size, to_float

ORIENTATION = 0x0112
# TIFF tags that describe the pixel layout of the file they sit in: never copied as metadata.
_TIFF_LAYOUT = {254, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320, 322, 323, 324,
                325, 332, 338, 339, 340, 341, 530, 531, 532, 34675}
MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
# modes Pillow may give that map onto the four without loss of meaning
_CONVERT = {"1": "L", "PA": "RGBA", "La": "LA", "RGBa": "RGBA", "RGBX": "RGB"}
_LIMITS = threading.Lock()
# Pillow logs some damaged headers (logger.error) before raising; the raise is what the zoo
# reports, in one line. As for tifffile (zoo.photo.tiff), a NullHandler keeps Python's last-resort
# handler from printing the log line too, and configured logging still receives it.
logging.getLogger("PIL").addHandler(logging.NullHandler())


def open_pillow(path: Path, max_pixels: int | None) -> Image.Image:
    """Open lazily (header only) and refuse more than ``max_pixels`` pixels before any decoding.

    Pillow's own check is off for the open: it only warns between its limit and twice that, and
    turning that warning into an error takes ``warnings.catch_warnings``, which is not thread-safe.
    """
    with _LIMITS:
        text_chunk = PngImagePlugin.MAX_TEXT_CHUNK
        Image.MAX_IMAGE_PIXELS, PngImagePlugin.MAX_TEXT_CHUNK = None, max(text_chunk, png.MAX_ICC)
        try:
            img = Image.open(path)
        except UnidentifiedImageError as exc:
            raise ImageReadError(f"{path}: not a supported image file (PNG, JPEG, TIFF, WebP, GIF)") from exc
        finally:
            Image.MAX_IMAGE_PIXELS, PngImagePlugin.MAX_TEXT_CHUNK = DEFAULT_MAX_PIXELS, text_chunk
    try:
        check_size(path, img.width * img.height, max_pixels)
    except ImageReadError:
        img.close()
        raise
    return img


def exif_of(img: Image.Image) -> tuple[int, bytes | None]:
    """(orientation, EXIF blob without the orientation tag); the raw blob when nothing changes."""
    exif = img.getexif()
    orientation = int(exif.get(ORIENTATION, 1) or 1)
    raw = img.info.get("exif")
    if img.format == "TIFF":
        for tag in _TIFF_LAYOUT & set(exif):
            del exif[tag]
        raw = None
    if orientation != 1 or raw is None:
        exif.pop(ORIENTATION, None)
        raw = exif.tobytes() if len(exif) or exif.get_ifd(0x8769) else None
    return orientation, strip_exif_header(raw)


def strip_exif_header(blob: bytes | None) -> bytes | None:
    """JPEG and WebP carry "Exif\\0\\0" before the TIFF header; PNG's eXIf chunk does not."""
    if blob and blob.startswith(b"Exif\x00\x00"):
        return blob[6:]
    return blob or None


def exif_for(fmt: str, exif: bytes | None) -> bytes | None:
    """Pillow wants the "Exif\\0\\0" header for JPEG, WebP and HEIF (pillow-heif), and a bare TIFF
    blob elsewhere."""
    if exif and fmt in ("JPEG", "WEBP", "HEIF"):
        return b"Exif\x00\x00" + exif
    return exif


def tiff_exif(path: Path, max_pixels: int | None) -> bytes | None:
    """EXIF of a TIFF via Pillow's IFD parser; None where Pillow cannot parse this layout."""
    try:
        with open_pillow(path, max_pixels) as img:
            return exif_of(img)[1]
    except (ImageReadError, OSError, ValueError, SyntaxError, KeyError, IndexError, TypeError):
        return None


def pixels(img: Image.Image, path: Path) -> tuple[np.ndarray, int]:
    """(float pixels, bit depth) of a loaded single-frame image that is not CMYK."""
    img.load()
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return to_float(np.asarray(img), path), 16
    if img.mode == "I":  # 32-bit integers: Pillow's mode for 16-bit PGM, among others
        data = np.asarray(img)
        if data.size and (data.min() < 0 or data.max() > 65535):
            raise ImageReadError(f"{path}: 32-bit integer samples are not supported; 8- or 16-bit "
                                 "integer images only (save it as a 16-bit TIFF or PNG and try again)")
        return to_float(data.astype(np.uint16), path), 16
    return to_float(np.asarray(normalise_mode(img, path)), path), 8


def normalise_mode(img: Image.Image, path: Path) -> Image.Image:
    """Expand palette and bilevel images; refuse colour models a photo denoiser cannot serve."""
    if img.mode == "P":
        return img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in _CONVERT:
        return img.convert(_CONVERT[img.mode])
    if img.mode not in MODES:
        raise ImageReadError(f"{path}: {img.mode} images are not supported; convert it to RGB, "
                             "grayscale or 8/16-bit and try again")
    return img
