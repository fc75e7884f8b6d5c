"""Read and write photos as float32 [0, 1] arrays, keeping bit depth, alpha, ICC and EXIF.

Pillow does the decoding and encoding; this module only maps modes and bit depths, applies EXIF
orientation, and writes atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from registry.errors import ImageReadError, ImageWriteError
from zoo.atomic import atomic_path

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS


@dataclass(frozen=True)
class Photo:
    """Pixels (float32 HxWxC in [0, 1], C in 1, 2, 3, 4) and what is needed to write them back."""

    pixels: np.ndarray
    bit_depth: int = 8
    format: str = "PNG"
    icc_profile: bytes | None = None
    exif: bytes | None = None

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] in (2, 4)

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        return replace(self, pixels=pixels)


def read_image(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Photo:
    """Read a photo; raise ImageReadError with a one-line reason on any failure."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"no such file: {path}")
    if path.is_dir():
        raise ImageReadError(f"{path} is a directory, not an image")
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(path) as img:
            img.load()
            return _to_photo(img)
    except Image.DecompressionBombError as exc:
        raise ImageReadError(
            f"{path}: {_pixels_of(exc)} exceeds the decompression-bomb limit; pass --allow-large to read it"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{path}: not a supported image file (PNG, JPEG, TIFF, WebP)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: corrupt or truncated image ({exc})") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS


def _pixels_of(exc: Exception) -> str:
    text = str(exc)
    return "image size" if "pixels" not in text else text.split("(")[1].split(" pixels")[0] + " pixels"


def _to_photo(img: Image.Image) -> Photo:
    fmt = img.format or "PNG"
    icc = img.info.get("icc_profile")
    img = ImageOps.exif_transpose(img)  # orientation applied, and the tag removed from the EXIF
    exif = img.info.get("exif") or (img.getexif().tobytes() if img.getexif() else None)
    pixels, depth = _pixels(img)
    return Photo(pixels, depth, fmt, icc, exif)


def _pixels(img: Image.Image) -> tuple[np.ndarray, int]:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float32) / 65535.0
        return np.clip(arr, 0, 1)[..., None], 16
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("1", "F"):
        img = img.convert("L")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in mode else "RGB")  # CMYK, YCbCr, LAB ...
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return (arr[..., None] if arr.ndim == 2 else arr), 8


def write_image(path: str | Path, photo: Photo, fmt: str | None = None) -> Path:
    """Write ``photo`` atomically in its bit depth; the format follows the file extension."""
    path = Path(path)
    fmt = fmt or FORMATS.get(path.suffix.lower()) or photo.format
    if not path.parent.is_dir():
        raise ImageWriteError(f"cannot write {path}: folder {path.parent} does not exist")
    img = _to_pil(photo, fmt)
    options = {k: v for k, v in (("icc_profile", photo.icc_profile), ("exif", photo.exif)) if v}
    if fmt == "JPEG":
        options.update(quality=95, subsampling=0)
    try:
        with atomic_path(path) as tmp:
            img.save(tmp, format=fmt, **options)
    except OSError as exc:
        raise ImageWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def _to_pil(photo: Photo, fmt: str) -> Image.Image:
    arr = np.clip(photo.pixels, 0.0, 1.0)
    channels = arr.shape[2]
    if photo.bit_depth == 16 and channels == 1 and fmt in ("PNG", "TIFF"):
        return Image.fromarray(np.round(arr[..., 0] * 65535).astype(np.uint16))
    data = np.round(arr * 255).astype(np.uint8)
    if fmt == "JPEG" and channels in (2, 4):
        data = data[..., :-1]  # JPEG has no alpha channel
    return Image.fromarray(data[..., 0] if data.shape[2] == 1 else data)
