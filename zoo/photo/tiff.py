"""TIFF through tifffile: 8/16-bit gray, RGB, YCbCr and CMYK in, 16-bit out (8-bit goes
through Pillow). EXIF is read with Pillow's IFD parser, and written into a 16-bit TIFF as
``exif16`` says: tifffile has no EXIF IFD writer, Pillow no 16-bit RGB mode."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from registry.errors import ImageReadError, one_line
from zoo.photo import cmyk, frames, raw
from zoo.photo.base import Photo, check_size, orient, to_float
from zoo.photo.exif16 import add_exif_ifds, exif_tags
from zoo.photo.pillow import tiff_exif

SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# tifffile logs every damaged tag it skips; with no handler anywhere Python's last-resort handler
# would print each as a line of its own under the zoo's one-line error. A NullHandler stops that
# and still lets an application that configures logging see them.
logging.getLogger("tifffile").addHandler(logging.NullHandler())
_SEPARATED, _MIN_IS_WHITE = 5, 0
_CFA, _LINEAR_RAW = 32803, 34892  # a camera RAW (DNG) under a .tif name
_HINT = "convert it to RGB and try again"


def read_tiff(path: Path, max_pixels: int | None) -> Photo:
    try:
        return _read_tiff(path, max_pixels)
    except NotImplementedError as exc:  # tifffile: a compression or layout it cannot decode
        raise ImageReadError(f"{path}: TIFF the decoder cannot read ({one_line(exc)}); convert it to an "
                             "uncompressed or zlib-compressed TIFF and try again") from exc
    except (TypeError, RuntimeError) as exc:
        # a damaged tag (say, two values where one belongs) reaches tifffile's arithmetic as a
        # tuple, and imagecodecs' codec errors (DeflateError, LzwError...) are RuntimeErrors
        raise ImageReadError(f"{path}: corrupt or truncated TIFF ({one_line(exc)})") from exc


def _read_tiff(path: Path, max_pixels: int | None) -> Photo:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        if tif.is_dng or int(page.photometric) in (_CFA, _LINEAR_RAW):
            return raw.read_raw(path, max_pixels)
        check_size(path, page.imagelength * page.imagewidth, max_pixels)
        frames.check_tiff(path, tif)
        _check_kind(path, page)
        data = page.asarray()
        if page.axes.startswith("S"):  # planar (separate) layout
            data = np.moveaxis(data, 0, -1)
        icc, orientation = page.tags.valueof(34675), int(page.tags.valueof(274, 1) or 1)
        is_cmyk = int(page.photometric) == _SEPARATED
        data = _full_range(data, int(page.bitspersample), int(page.photometric) == _MIN_IS_WHITE)
    if data.ndim not in (2, 3) or (is_cmyk and data.ndim != 3):
        raise ImageReadError(f"{path}: its pixel layout ({data.shape}) is not a single image; {_HINT}")
    exif = tiff_exif(path, max_pixels)
    if is_cmyk:
        rgb, rgb_icc, cmyk_icc = cmyk.to_rgb(_cmyk_image(data, path), icc or None, path)
        pixels = orient(to_float(np.asarray(rgb), path), orientation)
        return Photo(pixels, 8, "TIFF", rgb_icc, exif, color_model="CMYK", cmyk_profile=cmyk_icc)
    depth = 16 if data.dtype == np.uint16 else 8
    return Photo(orient(to_float(data, path), orientation), depth, "TIFF", icc or None, exif)


def _full_range(data: np.ndarray, bits: int, min_is_white: bool) -> np.ndarray:
    """tifffile gives samples as stored: 1-bit as bool, 2 to 15 bits unscaled, min-is-white
    unflipped. Scale them to the full 8- or 16-bit range, black at 0, as Pillow does."""
    if data.dtype == np.bool_:
        data = data.view(np.uint8)
    if data.dtype in (np.uint8, np.uint16) and 0 < bits < data.dtype.itemsize * 8:
        top, stored = np.iinfo(data.dtype).max, (1 << bits) - 1
        data = ((data.astype(np.uint32) * top + stored // 2) // stored).astype(data.dtype)
    if min_is_white and data.dtype in (np.uint8, np.uint16):
        data = data.copy()
        gray = data if data.ndim == 2 else data[..., 0]  # not the alpha
        np.subtract(np.iinfo(data.dtype).max, gray, out=gray)
    return data


def _check_kind(path: Path, page) -> None:
    photometric = int(page.photometric)
    if photometric == _SEPARATED:
        _check_cmyk(path, page)
    elif photometric not in (0, 1, 2, 6):  # min-is-white, min-is-black, RGB, YCbCr
        name = getattr(page.photometric, "name", photometric)
        raise ImageReadError(f"{path}: TIFF with {name} photometric interpretation is not supported; {_HINT}")
    elif page.samplesperpixel > 4:
        raise ImageReadError(f"{path}: {page.samplesperpixel} samples per pixel; 1 to 4 are supported")


def _check_cmyk(path: Path, page) -> None:
    inks = int(page.tags.valueof(332, 1) or 1)  # InkSet: 1 is CMYK, 2 any other inks
    if inks != 1 or page.samplesperpixel != 4:
        what = "other inks than CMYK" if inks != 1 else f"{page.samplesperpixel} samples per pixel"
        raise ImageReadError(f"{path}: separated TIFF with {what}; only 8-bit CMYK without alpha is "
                             f"supported: {_HINT}")
    if page.bitspersample != 8:
        raise ImageReadError(f"{path}: {page.bitspersample}-bit CMYK is not supported (colour management "
                             "here is 8-bit); convert it to 8-bit CMYK or to 16-bit RGB and try again")


def _cmyk_image(data: np.ndarray, path: Path) -> Image.Image:
    if data.dtype != np.uint8 or data.shape[2] != 4:
        raise ImageReadError(f"{path}: its CMYK samples are not 8-bit C, M, Y, K; {_HINT}")
    height, width = data.shape[:2]
    return Image.frombuffer("CMYK", (width, height), np.ascontiguousarray(data), "raw", "CMYK", 0, 1)


def save_tiff16(tmp: Path, data: np.ndarray, photo: Photo) -> None:
    import tifffile

    colour = data.shape[2] >= 3
    tags = exif_tags(photo.exif)
    tifffile.imwrite(
        tmp, data if data.shape[2] > 1 else data[..., 0], photometric="rgb" if colour else "minisblack",
        extrasamples=["unassalpha"] if data.shape[2] in (2, 4) else None, byteorder=tags.byteorder,
        iccprofile=photo.icc_profile, compression="zlib", metadata=None, software=tags.software,
        extratags=tags.ifd0, **tags.resolution,
    )
    add_exif_ifds(tmp, tags)
