"""What every reader and writer in zoo/photo shares: the Photo, the pixel conversions, the
decompression-bomb check and EXIF orientation. Imports nothing else of zoo/photo."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from registry.errors import ImageReadError

DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS


@dataclass(frozen=True)
class Coding:
    """How a JPEG or WebP output is compressed: what the input file told (``zoo.photo.coding`` reads
    it), and the quality asked for (``--quality``), which overrides the input's tables.

    A JPEG output keeps a JPEG input's quantisation tables and chroma subsampling, so its quality
    is the input's (what Pillow's ``quality="keep"`` does); any other input gives quality 95 with
    4:4:4 chroma. A WebP output is lossless unless a quality is asked for and the input was not a
    lossless WebP (a lossy WebP's quality is not stored in the file, so it cannot be kept).
    """

    # -- read from the input
    qtables: tuple[tuple[int, ...], ...] | None = None  # a JPEG's, in natural order (Pillow's quantization)
    subsampling: int | None = None  # a JPEG's, Pillow's numbers (0 4:4:4, 1 4:2:2, 2 4:2:0); None: unknown
    lossless: bool | None = None  # a WebP's: True for VP8L, False for VP8; None: not a WebP
    # -- asked for
    quality: int | None = None  # 1-100 for JPEG and WebP outputs; None: kept as above


@dataclass(frozen=True)
class Photo:
    """Pixels (float32 HxWxC in [0, 1], C in 1, 2, 3, 4) and what is needed to write them back.

    ``exif`` is an EXIF blob (TIFF header and IFDs, as in a JPEG APP1 segment without "Exif\\0\\0")
    with the orientation already applied to the pixels and removed.

    ``icc_profile`` always describes ``pixels``. For a CMYK input (``color_model="CMYK"``) the
    pixels are RGB: ``icc_profile`` is then the RGB profile they were converted to (sRGB) and
    ``cmyk_profile`` the CMYK profile they came from (embedded in the input), which a JPEG or TIFF
    output converts back through and embeds. Both are None where the input had no CMYK profile and
    Pillow's plain formula was used instead (see ``zoo.photo.cmyk``).

    ``coding`` is how a JPEG or WebP output is compressed (see ``Coding``).
    """

    pixels: np.ndarray
    bit_depth: int = 8
    format: str = "PNG"
    icc_profile: bytes | None = None
    exif: bytes | None = None
    color_model: str = "RGB"
    cmyk_profile: bytes | None = None
    coding: Coding = Coding()

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] in (2, 4)

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        return replace(self, pixels=pixels)


def to_float(data: np.ndarray, path: Path) -> np.ndarray:
    """uint8/uint16 HxW[xC] -> float32 HxWxC in [0, 1], without extra full-size copies."""
    if data.dtype not in (np.uint8, np.uint16):
        kind = "floating-point" if data.dtype.kind == "f" else f"{data.dtype.itemsize * 8}-bit {data.dtype}"
        raise ImageReadError(f"{path}: {kind} samples are not supported; 8- or 16-bit integer images only "
                             "(save it as a 16-bit TIFF or PNG and try again)")
    scale = np.float32(1.0 / np.iinfo(data.dtype).max)
    out = data.astype(np.float32)
    out *= scale
    return out[..., None] if out.ndim == 2 else out


def to_int(pixels: np.ndarray, depth: int, drop_alpha: bool) -> np.ndarray:
    """float [0, 1] -> uint8/uint16 HxWxC, a band of rows at a time so the float temporary
    stays in cache (three times faster than whole-image passes on a 12 MP photo)."""
    if drop_alpha and pixels.shape[2] in (2, 4):
        pixels = pixels[..., :-1]
    top = 65535.0 if depth == 16 else 255.0
    out = np.empty(pixels.shape, np.uint16 if depth == 16 else np.uint8)
    rows = max(1, _BAND_BYTES // max(1, pixels[0].nbytes))
    for y in range(0, pixels.shape[0], rows):
        scaled = np.multiply(pixels[y:y + rows], np.float32(top), dtype=np.float32)
        np.clip(scaled, 0.0, top, out=scaled)
        np.rint(scaled, out=scaled)
        out[y:y + rows] = scaled
    return out


_BAND_BYTES = 1 << 20


def bomb(path: Path, max_pixels: int | None, size: int | None = None) -> ImageReadError:
    what = f"{size} pixels" if size else "its size"
    return ImageReadError(
        f"{path}: {what} exceeds the decompression-bomb limit of {max_pixels} pixels; "
        "pass --allow-large if you trust this file"
    )


def check_size(path: Path, size: int, max_pixels: int | None) -> None:
    if max_pixels is not None and size > max_pixels:
        raise bomb(path, max_pixels, size)


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) so the array is upright, as Pillow's exif_transpose does."""
    ops = {
        2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1], 8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return pixels if op is None else np.ascontiguousarray(op(pixels))
