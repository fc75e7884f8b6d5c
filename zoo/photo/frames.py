"""Multi-frame inputs (animated GIF, APNG, animated WebP, multi-page TIFF) are refused.

The choice: refuse, with one line, rather than denoise frame by frame. Writing frames back
correctly needs each format's timing, disposal, blending, loop count and per-frame offsets and
palettes (GIF), which the zoo's writers do not carry; keeping only the first frame, as it used
to, lost the rest without a word. A single-frame file of these formats reads as usual.

Not frames, so never refused: a TIFF's reduced-resolution pages (thumbnails, pyramids) and
transparency masks (NewSubfileType bits 0 and 2), an MPO's (camera JPEG's) previews and depth
maps after its primary image, and a PSD's layers (its frame 0 is the flattened image).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from registry.errors import ImageReadError

# formats whose first "frame" is the whole picture and the others are extras
_PRIMARY_FIRST = {"MPO", "PSD"}
_NOT_A_FRAME = 0b101  # NewSubfileType: reduced resolution (1), transparency mask (4)
_MAX_PAGES = 100_000  # tifffile stops at a loop in the IFD chain; this bounds a long one


def refuse(path: Path, frames: int) -> ImageReadError:
    return ImageReadError(
        f"{path} has {frames} frames (animated/multi-page); only single-frame images are supported — "
        "extract the frame you want first"
    )


def check_pillow(path: Path, img: Image.Image) -> None:
    """Refuse an image Pillow opened with more than one frame."""
    if img.format in _PRIMARY_FIRST:
        return
    frames = int(getattr(img, "n_frames", 1) or 1)
    if frames > 1:
        raise refuse(path, frames)


def check_tiff(path: Path, tif) -> None:
    """Refuse a TIFF (a ``tifffile.TiffFile``) with more than one full-size page."""
    pages = tif.pages
    if len(pages) < 2:
        return
    frames = 0
    for index in range(min(len(pages), _MAX_PAGES)):
        page = pages[index]
        if not int(getattr(page, "subfiletype", 0) or 0) & _NOT_A_FRAME:
            frames += 1
    if frames > 1:
        raise refuse(path, frames)
