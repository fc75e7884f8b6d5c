"""Seams: tiled versus whole-image output of MWRCANet (random or trained weights), local and global pooling.

Channel attention pools over its input, so a tile sees other statistics than the whole image:
with global pooling tiled and whole-image outputs differ; test-time local pooling (TLC) keeps the
attention local and the two agree closely. Prints a table and, with --json, writes the numbers.

    python benchmarks/seams.py [--size 2000x1500] [--preset tiny | --tag camera_small] [--tile N] [--json seams.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def synthetic_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A photo-like float32 image: smooth gradients, hard-edged shapes and sensor-like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 97.0) * np.cos(y / 131.0)], axis=2)
    for _ in range(40):
        cy, cx, r = rng.integers(0, height), rng.integers(0, width), rng.integers(10, max(11, height // 6))
        img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.random(3)
    img += rng.normal(0, 0.08, img.shape).astype(np.float32)
    return np.clip(img, 0, 1, out=img)


def measure(pooling: str, image: np.ndarray, preset: str, tile: int | None, seed: int = 0, tag: str | None = None) -> dict:
    """Max and mean abs difference between tiled and whole-image output for one pooling mode."""
    import torch

    import zoo
    from zoo.inference import engine

    torch.manual_seed(seed)
    if tag:  # trained weights: their card fixes the preset and the training patch size
        net = zoo.load(f"mwrcanet:{tag}", backend="torch", attention_pooling=pooling)
    else:
        net = zoo.load("mwrcanet", preset=preset, pretrained=False, attention_pooling=pooling)
    plan = engine.plan_tiles(net, *image.shape[:2], tile=tile)
    start = time.perf_counter()
    tiled = engine.run(net, image, tile=tile)
    whole = net.denoise(image)
    diff = np.abs(tiled - whole)
    return {
        "pooling": pooling, "preset": net.config.channels if tag else preset, "weights": tag or "random", "size": f"{image.shape[1]}x{image.shape[0]}",
        "tile": plan.tile[0], "tiles": plan.count, "receptive_field": net.receptive_field,
        "max_abs": float(diff.max()), "mean_abs": float(diff.mean()),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2000x1500", help="WIDTHxHEIGHT of the synthetic photo")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--tag", default=None, help="pretrained tag (e.g. awgn_small) instead of random weights")
    parser.add_argument("--tile", type=int, default=None, help="tile side (default: from the memory budget)")
    parser.add_argument("--pooling", nargs="+", default=["local", "global"])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    image = synthetic_photo(width, height)
    rows = [measure(p, image, args.preset, args.tile, tag=args.tag) for p in args.pooling]
    for row in rows:
        print(" ".join(f"{k}={v}" for k, v in row.items()))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
