"""Inference engine: seamless tiled inference of any photo with bounded memory.

The image is (virtually) padded by symmetric reflection to the model's ``size_multiple`` (the same
padding ``Denoiser.denoise_batch`` applies to a whole image) and cut into equal tiles whose size
and positions are multiples of it. Adjacent tiles overlap by ``2 * receptive_field + blend``:
each tile's outputs within ``receptive_field`` of an inner edge are discarded (weight 0), and the
next ``blend`` pixels fade in with a raised-cosine ramp, so the fades of two neighbours sum to 1.
Edges on the image border keep full weight. Overlaps are then normalised by the accumulated
weight, which makes any tiling (including the last tile, shifted inwards) a convex combination of
outputs computed with their whole receptive field inside the tile: for a model whose output at a
pixel depends only on inputs within ``receptive_field``, tiled equals whole-image inference.

Memory: the whole image is held only as the input, a float32 output accumulator and a float32
HxW weight map. Tiles are sized from a budget (``max_memory``; by default a quarter of the
memory available, between 1 and 1.5 GiB) as follows: a model may declare ``bytes_per_pixel``
(peak working memory of its forward pass per input pixel); otherwise ``DEFAULT_BYTES_PER_PIXEL``
is assumed, which is conservative for 64-channel convolutional networks on CPU. Of all the ways
to split the image into rows x columns of equal tiles (multiples of ``size_multiple``, at most
``MAX_TILE`` a side, at least twice the overlap so that tiling never more than doubles the
work) whose working memory fits the budget, the one that computes the fewest pixels is used: a
12-megapixel photo with a 224-pixel overlap (MWRCANet small) costs 1.12x its pixels in three
3000x1488 tiles with a 1.5 GiB budget, where the largest square tiles of that budget cost 1.49x.
As many tiles as also fit are batched through ``denoise_batch``.

Grayscale is replicated to RGB per tile and averaged back; alpha passes through untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from registry.denoiser import Denoiser, as_float_image
from registry.errors import ZooError

DEFAULT_MAX_MEMORY = 1 << 30  # bytes for the model's working set where available memory is unknown
# "auto": a quarter of the available memory, within these bounds; the upper one keeps a 24 MP
# photo's whole run (image buffers included) under 3 GB of resident memory
AUTO_MEMORY = (1 << 30, 3 << 29)
DEFAULT_BYTES_PER_PIXEL = 4096
MAX_TILE = 4096  # bounds one call's latency (progress updates) whatever the budget
MAX_BATCH = 8
BLEND = 32  # pixels of raised-cosine fade between neighbouring tiles

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Plan:
    """Where the tiles go: tile height/width, start rows/columns on the padded canvas, batch size."""

    canvas: tuple[int, int]
    tile: tuple[int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    batch: int
    margin: int

    @property
    def count(self) -> int:
        return len(self.rows) * len(self.cols)


def run(
    denoiser: Denoiser,
    pixels: np.ndarray,
    sigma: float | None = None,
    *,
    max_memory: int | None = None,
    tile: int | None = None,
    ensemble: bool | int = False,
    progress: Progress | None = None,
) -> np.ndarray:
    """Denoise HxWxC pixels (C in 1..4) with a 3-channel model; same shape and dtype out (finite
    floats, unclipped noise allowed, or uint8/uint16: registry.denoiser.as_float_image).

    ``max_memory`` is the model's working-memory budget in bytes (None: :func:`auto_memory`);
    ``tile`` forces the tile side (rounded up to the size multiple) instead of the memory budget;
    ``ensemble`` averages the model's output over views of the photo (:data:`VIEWS`): True or 8
    for all 8 flips/rotations, 2 or 4 for fewer, at that many times the time; ``progress(done,
    total)`` is told after each batch of tiles.
    """
    ensemble = views(ensemble)
    pixels, back = as_float_image(pixels, in_range=False)
    pixels = _as_hwc(pixels)
    h, w, c = pixels.shape
    colour = 1 if c in (1, 2) else 3
    if sigma is None and denoiser.takes_sigma:
        sigma = denoiser.estimate_sigma(pixels[..., :colour])  # once per image, not per tile
        if sigma is None:  # takes_sigma without an estimator: forward never sees None
            from zoo.imaging.noise import estimate_sigma

            sigma = estimate_sigma(pixels[..., :colour])
    budget = auto_memory() if max_memory is None else max_memory
    plan = plan_tiles(denoiser, h, w, max_memory=budget, tile=tile, ensemble=ensemble)
    out = np.zeros((h, w, c), np.float32)
    weight = np.zeros((h, w), np.float32)
    done = 0
    for batch in _batches(plan):
        tiles = np.stack([_read_tile(pixels[..., :colour], plan, y, x) for y, x in batch])
        result = _infer(denoiser, tiles, sigma, ensemble)
        for (y, x), tile_out in zip(batch, result):
            _accumulate(out, weight, tile_out, plan, y, x, colour)
        done += len(batch)
        if progress is not None:
            progress(done, plan.count)
    out[..., :colour] /= weight[..., None]
    out[..., colour:] = pixels[..., colour:]  # alpha: copied, never through the model
    return back(out)


def auto_memory() -> int:
    """A quarter of the memory available now, clamped to ``AUTO_MEMORY``; ``DEFAULT_MAX_MEMORY``
    where that cannot be read."""
    available = available_memory()
    if available is None:
        return DEFAULT_MAX_MEMORY
    low, high = AUTO_MEMORY
    return int(min(high, max(low, available // 4)))


def available_memory() -> int | None:
    """Bytes of memory available without swapping (Linux MemAvailable); None elsewhere."""
    try:
        with open("/proc/meminfo") as f:
            return 1024 * next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def parse_memory(text: str) -> int:
    """'1G', '512MB', '1.5GiB' -> bytes (units are 1024-based); a bare number means MiB; 'auto'
    is :func:`auto_memory`."""
    if text.strip().lower() == "auto":
        return auto_memory()
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = value[-1] if value and value[-1] in _UNITS else ""
    try:
        size = float(value[: len(value) - len(unit)]) * _UNITS[unit]
    except ValueError:
        size = math.nan
    if not math.isfinite(size):
        raise ZooError(f"bad memory size {text!r}: use e.g. 512M, 1G or 1.5GB")
    if size < 1 << 20:
        raise ZooError(f"memory size {text!r} is too small: give at least 1M")
    return int(size)


_UNITS = {"": 1 << 20, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _as_hwc(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or 0 in pixels.shape:
        raise ZooError(f"expected an HxWxC image with C in 1..4, got shape {pixels.shape}")
    return pixels


# -- planning


def plan_tiles(
    denoiser: Denoiser, h: int, w: int, *, max_memory: int = DEFAULT_MAX_MEMORY,
    tile: int | None = None, ensemble: bool | int = False,
) -> Plan:
    """Tile layout for an HxW image: see the module docstring for the rule."""
    m = max(1, int(denoiser.size_multiple))
    margin = int(denoiser.receptive_field)
    overlap = _round_up(2 * margin + BLEND, m)
    canvas = (_round_up(h, m), _round_up(w, m))
    per_pixel = bytes_per_pixel(denoiser) * (2 if views(ensemble) > 1 else 1)  # ensemble keeps a running sum
    if tile:
        side = max(_round_up(tile, m), 2 * overlap)  # at least half of each tile is new pixels
        th, tw = min(side, canvas[0]), min(side, canvas[1])
    else:
        th, tw = _balanced_tile(canvas, overlap, m, max(max_memory, 1) // per_pixel)
    batch = int(max(1, min(MAX_BATCH, max_memory // max(th * tw * per_pixel, 1))))
    rows, cols = _starts(canvas[0], th, overlap, m), _starts(canvas[1], tw, overlap, m)
    return Plan(canvas, (th, tw), rows, cols, batch, margin)


def _balanced_tile(canvas: tuple[int, int], overlap: int, m: int, max_pixels: int) -> tuple[int, int]:
    """The tile (height, width) that computes the fewest pixels in all over the canvas.

    Splitting a side of length L into n tiles that overlap by ``overlap`` needs tiles of
    ceil((L + (n - 1) * overlap) / n), rounded up to the size multiple; every (rows, columns)
    split whose tile fits ``max_pixels`` and ``MAX_TILE`` is tried, ties going to fewer tiles.
    Tiles are at least twice the overlap, so when even those exceed the budget the smallest
    such tile is used.
    """
    floor = 2 * overlap
    heights, widths = _splits(canvas[0], overlap, m, floor), _splits(canvas[1], overlap, m, floor)
    best: tuple[int, int, int, int] | None = None
    for n_rows, th in heights:
        for n_cols, tw in widths:
            if th * tw > max_pixels:
                continue
            key = (n_rows * n_cols * th * tw, n_rows * n_cols, th, tw)
            best = key if best is None or key < best else best
    if best is None:
        return min(floor, canvas[0]), min(floor, canvas[1])
    return best[2], best[3]


def _splits(length: int, overlap: int, m: int, floor: int) -> list[tuple[int, int]]:
    """(tile count, tile side) for each way of covering ``length``, down to tiles of ``floor``."""
    out: list[tuple[int, int]] = []
    n = 1
    while True:
        side = min(length, _round_up(-(-(length + (n - 1) * overlap) // n), m))
        if side <= MAX_TILE:
            out.append((n, side))
        if side <= floor or side == length and n > 1:
            return out
        n += 1


def bytes_per_pixel(denoiser: Denoiser) -> int:
    """The working memory per input pixel the tiles are sized with: declared, or the default."""
    declared = getattr(denoiser, "bytes_per_pixel", None)
    return int(declared) if declared else DEFAULT_BYTES_PER_PIXEL


def _round_up(n: int, m: int) -> int:
    return -(-int(n) // m) * m


def _starts(length: int, tile: int, overlap: int, m: int) -> tuple[int, ...]:
    """Tile starts along one axis: stride tile - overlap; the last tile ends at the canvas edge."""
    if tile >= length:
        return (0,)
    stride = max(m, tile - overlap)
    starts = list(range(0, length - tile, stride))
    return tuple(starts + [length - tile])


def _batches(plan: Plan) -> Iterator[list[tuple[int, int]]]:
    coords = [(y, x) for y in plan.rows for x in plan.cols]
    for i in range(0, len(coords), plan.batch):
        yield coords[i:i + plan.batch]


# -- one tile


def _read_tile(colour: np.ndarray, plan: Plan, y: int, x: int) -> np.ndarray:
    """The tile at (y, x) of the padded canvas, as RGB; rows/columns past the image are mirrored."""
    th, tw = plan.tile
    rows = _mirror(np.arange(y, y + th), colour.shape[0])
    cols = _mirror(np.arange(x, x + tw), colour.shape[1])
    tile = colour[rows[0]:rows[-1] + 1] if _contiguous(rows) else colour[rows]
    tile = tile[:, cols[0]:cols[-1] + 1] if _contiguous(cols) else tile[:, cols]
    return np.repeat(tile, 3, axis=2) if tile.shape[2] == 1 else tile


def _mirror(index: np.ndarray, n: int) -> np.ndarray:
    """Symmetric reflection (edge repeated), as numpy's pad mode 'symmetric' and denoise_batch."""
    period = 2 * n
    index = np.mod(index, period)
    return np.where(index < n, index, period - 1 - index)


def _contiguous(index: np.ndarray) -> bool:
    return bool(index[-1] - index[0] == len(index) - 1 and np.all(np.diff(index) == 1))


# The self-ensemble's views: (quarter turns, mirrored first), by how many are averaged. Two: the
# photo and the photo turned 180 degrees, which on PolyU gains more than the mirror image does
# (benchmarks/ensemble_subsets.py); four: the four turns; eight: each turn mirrored too.
VIEWS: dict[int, tuple[tuple[int, bool], ...]] = {
    1: ((0, False),),
    2: ((0, False), (2, False)),
    4: tuple((k, False) for k in range(4)),
    8: tuple((k, flip) for k in range(4) for flip in (False, True)),
}


def views(ensemble: bool | int) -> int:
    """How many views an ``ensemble`` value averages: False 1, True 8, else 1, 2, 4 or 8."""
    count = 8 if ensemble is True else 1 if ensemble is False else ensemble
    if count not in VIEWS:
        raise ZooError(f"an ensemble averages {', '.join(map(str, VIEWS))} views of the photo, not {ensemble}")
    return int(count)


def seen(pixels: np.ndarray, view: tuple[int, bool]) -> np.ndarray:
    """``pixels`` (...xHxWxC) as ``view`` shows them: mirrored first, then turned k quarters."""
    k, flip = view
    return np.ascontiguousarray(np.rot90(pixels[..., ::-1, :] if flip else pixels, k, axes=(-3, -2)))


def unseen(pixels: np.ndarray, view: tuple[int, bool]) -> np.ndarray:
    """Undo :func:`seen`: turn back, then mirror back."""
    k, flip = view
    back = np.rot90(pixels, -k, axes=(-3, -2))
    return back[..., ::-1, :] if flip else back


def _infer(denoiser: Denoiser, tiles: np.ndarray, sigma: float | None, ensemble: int) -> np.ndarray:
    if denoiser.channels == 1 and tiles.shape[3] == 3:
        # a single-channel model denoises R, G and B as three grayscale images of one batch
        n, h, w, _ = tiles.shape
        planes = np.ascontiguousarray(np.moveaxis(tiles, 3, 1).reshape(n * 3, h, w, 1))
        out = _infer(denoiser, planes, sigma, ensemble)
        return np.moveaxis(out.reshape(n, 3, h, w), 1, 3)
    if ensemble == 1:
        return denoiser.denoise_batch(tiles, sigma)
    total = np.zeros_like(tiles)
    for view in VIEWS[ensemble]:
        total += unseen(denoiser.denoise_batch(seen(tiles, view), sigma), view)
    return total / ensemble


def _accumulate(
    out: np.ndarray, weight: np.ndarray, tile_out: np.ndarray, plan: Plan, y: int, x: int, colour: int,
) -> None:
    h, w = out.shape[:2]
    th, tw = min(plan.tile[0], h - y), min(plan.tile[1], w - x)  # the canvas may pass the image
    if th <= 0 or tw <= 0:
        return
    wy = _window(plan.tile[0], y, plan.canvas[0], plan.margin)[:th]
    wx = _window(plan.tile[1], x, plan.canvas[1], plan.margin)[:tw]
    win = np.outer(wy, wx)
    values = tile_out[:th, :tw]
    if colour == 1:
        values = values.mean(axis=2, keepdims=True)
    out[y:y + th, x:x + tw, :colour] += values * win[..., None]
    weight[y:y + th, x:x + tw] += win


def _window(size: int, start: int, length: int, margin: int) -> np.ndarray:
    """1-D weights of a tile: 0 on the discarded margin, raised-cosine fade, 1 inside.

    Edges on the canvas border keep weight 1. sin^2 fades of two neighbours sum to exactly 1.
    """
    win = np.ones(size, np.float32)
    fade = np.sin(0.5 * np.pi * (np.arange(BLEND, dtype=np.float64) + 0.5) / BLEND) ** 2
    ramp = np.concatenate([np.zeros(margin), fade]).astype(np.float32)[:size]
    if start > 0:
        win[:len(ramp)] = np.minimum(win[:len(ramp)], ramp)
    if start + size < length:
        win[size - len(ramp):] = np.minimum(win[size - len(ramp):], ramp[::-1])
    return win
