"""CMYK photos (print and stock workflows): converted to RGB to be denoised, and back on output.

Colour management is LittleCMS through Pillow's ImageCms. A CMYK JPEG or TIFF with an embedded
CMYK profile is converted through it to sRGB (ImageCms's built-in sRGB profile), relative
colorimetric with black-point compensation, as Photoshop and GIMP do by default; the Photo
remembers both profiles (``icc_profile`` = sRGB, ``cmyk_profile`` = the embedded one). A JPEG or
TIFF output converts back through the same pair and embeds the CMYK profile; a PNG or WebP
output stays RGB and embeds sRGB.

With no embedded profile there is no standard one to fall back on: Pillow and ImageCms ship no
CMYK profile (``createProfile`` makes sRGB, Lab and XYZ only), and no well-kept PyPI package
carries one (the usual SWOP and FOGRA profiles are not freely redistributable). Such a file is
converted with Pillow's plain formula, R = (1 - C)(1 - K) and so on, which is what viewers
without colour management show; the output goes back with C = 1 - R, M = 1 - G, Y = 1 - B,
K = 0 (the RGB values survive exactly, the ink split does not) and no profile.

Adobe's inverted CMYK JPEGs need nothing here: Pillow reads the Adobe marker and inverts them.
Supported: 8-bit CMYK (JPEG, TIFF), without alpha; 16-bit CMYK is refused, since ImageCms
converts 8-bit images only.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

from registry.errors import ImageReadError, ImageWriteError, one_line

INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC
FLAGS = ImageCms.Flags.BLACKPOINTCOMPENSATION
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
SRGB = _SRGB.tobytes()


def to_rgb(img: Image.Image, icc: bytes | None, path: Path) -> tuple[Image.Image, bytes | None, bytes | None]:
    """A CMYK image -> (RGB image, the RGB profile of its pixels, the CMYK profile used)."""
    if not icc:
        return img.convert("RGB"), None, None
    profile = _profile(icc)
    if profile is None or _space(profile) != "CMYK":
        what = "is damaged" if profile is None else f"is for {_space(profile)}, not CMYK"
        raise ImageReadError(f"{path}: its embedded ICC profile {what}; re-export it with a CMYK profile "
                             "(or without one) and try again")
    try:
        return ImageCms.applyTransform(img, _transform(icc, to_cmyk=False)), SRGB, icc
    except ImageCms.PyCMSError as exc:
        raise ImageReadError(f"{path}: its CMYK profile cannot convert to RGB ({one_line(exc)}); "
                             "re-export it with another profile") from exc


def from_rgb(data: np.ndarray, rgb_icc: bytes | None, cmyk_icc: bytes | None, path: Path) -> Image.Image:
    """uint8 HxWxC pixels (RGB, or gray repeated to RGB; alpha already dropped) -> a CMYK image."""
    if data.shape[2] == 1:
        data = np.repeat(data, 3, axis=2)
    img = Image.fromarray(np.ascontiguousarray(data[..., :3]))
    if not cmyk_icc:
        return img.convert("CMYK")
    try:
        if _profile(cmyk_icc) is None or (rgb_icc and _profile(rgb_icc) is None):
            raise ImageCms.PyCMSError("the profile cannot be parsed")
        return ImageCms.applyTransform(img, _transform(cmyk_icc, to_cmyk=True, rgb=rgb_icc or SRGB))
    except ImageCms.PyCMSError as exc:
        raise ImageWriteError(f"cannot write {path}: its CMYK profile cannot convert from RGB "
                              f"({one_line(exc)}); write a PNG or TIFF in RGB instead") from exc


@functools.lru_cache(maxsize=16)
def _profile(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return None


def _space(profile: ImageCms.ImageCmsProfile) -> str:
    return str(profile.profile.xcolor_space).strip()


@functools.lru_cache(maxsize=16)
def _transform(cmyk_icc: bytes, to_cmyk: bool, rgb: bytes = SRGB) -> ImageCms.ImageCmsTransform:
    """A cached LittleCMS transform (building one costs milliseconds; a batch reuses it)."""
    cmyk, rgb_profile = _profile(cmyk_icc), (_SRGB if rgb == SRGB else _profile(rgb))
    if to_cmyk:
        return ImageCms.buildTransform(rgb_profile, cmyk, "RGB", "CMYK", renderingIntent=INTENT, flags=FLAGS)
    return ImageCms.buildTransform(cmyk, rgb_profile, "CMYK", "RGB", renderingIntent=INTENT, flags=FLAGS)
