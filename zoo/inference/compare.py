"""``--compare``: the input and the output side by side, at 100%, where the photo is noisiest.

Each job gets ``NAME_compare-MODEL.png`` beside its output (NAME: the input's stem; MODEL: the
label of the output's name, strength included), an 8-bit RGB PNG: a crop of the input on the
left, the same crop of the written output on the right, each under a caption (``input`` and the
model, with the crop's place), pixels at 100% (never scaled), alpha left out.

Where: the ``CROP`` x ``CROP`` window (the whole side when the photo is smaller) whose local
high-pass energy in the input is highest, on a grid of ``CROP // 4`` steps. The energy is the
mean absolute response of Immerkaer's noise operator (the 3x3 mask ``[1 -2 1; -2 4 -2; 1 -2 1]``,
the difference of two Laplacians, which cancels flat and linearly shaded areas) on the input's
grey values; ties go to the topmost, then leftmost, window.

Planned with the outputs, under the same rules: never an input of the batch, never another
job's output or compare, never over an existing file without ``--overwrite`` (the job is then
skipped, its output too, so the two never disagree), always beside the output (the name has no
folder in it). Written atomically, published without replacing anything unless ``--overwrite``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from registry.errors import ImageWriteError
from zoo import atomic
from zoo.inference.planning import Job, file_kind

CROP = 256
GAP = 8  # pixels between the two crops
BAR = 36  # two caption lines: what each side is, then where the crop is
TEMPLATE = "{stem}_compare-{model}.png"


def name_of(source: Path, label: str) -> str:
    return TEMPLATE.format(stem=Path(source).stem, model=label)


def plan(jobs: list[Job], label: str, overwrite: bool) -> None:
    """Set each runnable job's ``compare`` path; a clash fails the job (one line), an existing
    compare file without ``overwrite`` skips it. Run after ``plan_outputs``."""
    inputs = {_where(job.source) for job in jobs} | {_identity(job.source) for job in jobs} - {None}
    outputs = {_where(job.target) for job in jobs if job.target is not None}
    seen: set[Path] = set()
    for job in jobs:
        if job.error or job.target is None:
            continue
        path = job.compare = job.target.parent / name_of(job.source, label)
        job.error = _clash(path, inputs, outputs, seen)
        seen.add(_where(path))
        if job.error is None and not job.skipped and path.exists() and not overwrite:
            job.skipped = f"compare {path} exists; pass --overwrite to replace it (its output was not written either)"


def _clash(path: Path, inputs: set, outputs: set, seen: set) -> str | None:
    where = _where(path)
    if where in inputs or _identity(path) in inputs:
        return f"compare {path} is also an input of this batch; it is never overwritten, rename that file"
    if where in outputs:
        return f"compare {path} is also an output of this batch; change --name-template"
    if where in seen:
        return f"compare {path} is also the compare of another input with the same name; use --out-dir or -o"
    if path.exists() and (kind := file_kind(path)):
        return f"compare {path} is {kind}, not a file to replace; move it away"
    return None


def drop_compares(jobs: list[Job], label: str) -> int:
    """Remove, in place, files found in folders or globs that are earlier compare images of this
    command (``*_compare-MODEL.png``): they are not photos to denoise. Named files always run."""
    own = re.compile(re.escape(TEMPLATE).replace(r"\{stem\}", ".+").replace(r"\{model\}", re.escape(label)))
    kept = [job for job in jobs if not (job.found and own.fullmatch(job.source.name))]
    dropped = len(jobs) - len(kept)
    jobs[:] = kept
    return dropped


def _where(path: Path) -> Path:
    return Path(path).parent.resolve() / Path(path).name


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return found.st_dev, found.st_ino


# -- the picture


def noisiest(pixels: np.ndarray, size: int = CROP) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the window the module docstring describes."""
    h, w = pixels.shape[:2]
    th, tw = min(size, h), min(size, w)
    colour = 1 if pixels.shape[2] in (1, 2) else 3
    grey = pixels[..., :colour].mean(axis=2, dtype=np.float32)
    energy = np.zeros((h, w), np.float32)
    if h >= 3 and w >= 3:
        energy[1:-1, 1:-1] = np.abs(_immerkaer(grey))
    table = np.zeros((h + 1, w + 1), np.float64)
    table[1:, 1:] = energy.cumsum(0, dtype=np.float64).cumsum(1)
    ys, xs = _starts(h, th), _starts(w, tw)
    y0, x0 = np.ix_(ys, xs)
    sums = table[y0 + th, x0 + tw] - table[y0, x0 + tw] - table[y0 + th, x0] + table[y0, x0]
    i, j = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(ys[i]), int(xs[j]), th, tw


def _immerkaer(g: np.ndarray) -> np.ndarray:
    c = g[1:-1, 1:-1]
    edges = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    corners = g[:-2, :-2] + g[:-2, 2:] + g[2:, :-2] + g[2:, 2:]
    return 4 * c - 2 * edges + corners


def _starts(length: int, window: int) -> np.ndarray:
    step = max(1, window // 4)
    starts = list(range(0, length - window + 1, step))
    if starts[-1] != length - window:
        starts.append(length - window)
    return np.array(starts)


def render(before: np.ndarray, after: np.ndarray, caption: str) -> np.ndarray:
    """The compare image as uint8 HxWx3: captions over the two crops, side by side."""
    from PIL import Image, ImageDraw, ImageFont

    y, x, h, w = noisiest(before)
    crops = [_rgb8(img[y:y + h, x:x + w]) for img in (before, after)]
    canvas = np.full((BAR + h, 2 * w + GAP, 3), 32, np.uint8)
    canvas[BAR:, :w], canvas[BAR:, w + GAP:] = crops
    image = Image.fromarray(canvas)
    draw, font = ImageDraw.Draw(image), _font(ImageFont)
    draw.text((4, 3), _fit(draw, "input", font, w - 8), fill=(240, 240, 240), font=font)
    draw.text((w + GAP + 4, 3), _fit(draw, caption, font, w - 8), fill=(240, 240, 240), font=font)
    where = f"{w}x{h} at x={x}, y={y}, 100%"
    draw.text((4, BAR // 2 + 1), _fit(draw, where, font, 2 * w + GAP - 8), fill=(170, 170, 170), font=font)
    return np.asarray(image)


def _fit(draw, text: str, font, width: int) -> str:
    """``text``, cut short with an ellipsis where it would run past ``width`` pixels."""
    while len(text) > 1 and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…"
    return text


def _font(image_font):
    try:
        return image_font.load_default(size=13)
    except TypeError:  # Pillow before 10.1: the bitmap font, fixed size
        return image_font.load_default()


def _rgb8(pixels: np.ndarray) -> np.ndarray:
    colour = pixels[..., :1].repeat(3, axis=2) if pixels.shape[2] in (1, 2) else pixels[..., :3]
    return np.rint(np.clip(colour, 0.0, 1.0) * 255).astype(np.uint8)


def write(path: Path, before: np.ndarray, after: np.ndarray, caption: str, overwrite: bool = False) -> Path:
    """Render and publish the compare image atomically; without ``overwrite`` never over a file
    (one that appeared since planning fails with one line, and is left as it is)."""
    from PIL import Image

    picture = Image.fromarray(render(before, after, caption))
    try:
        with atomic.atomic_path(path, replace=overwrite) as tmp:
            picture.save(tmp, format="PNG")
    except FileExistsError:
        raise ImageWriteError(f"compare {path} appeared while this file was being denoised (another run?); "
                              "it was left as it is, pass --overwrite to replace it") from None
    except OSError as exc:
        raise ImageWriteError(f"cannot write compare {path}: {exc.strerror or exc}") from exc
    return path
