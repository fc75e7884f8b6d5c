"""What a noise-level map gains: one network with ``noise_map``, run blind and with the level given.

    python benchmarks/noise_map.py mwrcanet=runs/map.safetensors --dataset ../shared/datasets/CBSD68/clean \
        [--sigma 15,25,50] [--limit N] [--json out.json]

For every image and sigma (AWGN seeded as ``zoo bench quality`` seeds it, so the numbers compare
with its tables) the model runs:

- ``blind``: no sigma (the map's planes at 0);
- ``given``: the true sigma, as ``zoo denoise --sigma S``;
- ``given_low`` / ``given_high``: 0.6x and 1.5x the true sigma, the user's sigma as a strength knob
  (a network that reads the map smooths less and more; one that ignores it gives ``given``);

and on spatially varying noise (the level ramps from 5 to 45 left to right), ``ramp_blind``
against ``ramp_given`` with the level per pixel: what a per-pixel map can tell that a blind
estimate must infer locally. The ramp runs the torch module on the whole image (no tiling).
PSNR in dB (zoo.imaging.metrics), the mean over the images.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from zoo.bench.quality import _load, find_images, synthetic_noisy
from zoo.imaging.metrics import psnr
from zoo.inference import engine
from zoo.sdk.common import noise_map_planes
from zoo.training.data import read_rgb

RAMP = (5.0, 45.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="MODEL:TAG or MODEL=WEIGHTS of a noise-map model (torch backend)")
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--sigma", default="15,25,50")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    denoiser = _load(args.model, "torch")
    if not getattr(denoiser.config, "noise_map", False):
        parser.error(f"{args.model} has no noise map (its config's noise_map is not set)")
    files = find_images(args.dataset)[: args.limit]
    sigmas = [float(s) for s in args.sigma.split(",")]
    rows: dict[str, list[float]] = {}
    for index, path in enumerate(files):
        clean = read_rgb(path).astype(np.float32) / 255
        for sigma in sigmas:
            noisy = synthetic_noisy(clean, sigma, args.seed, index)
            for name, given in (("blind", None), ("given", sigma), ("given_low", 0.6 * sigma),
                                ("given_high", 1.5 * sigma)):
                rows.setdefault(f"s{sigma:g}_{name}", []).append(psnr(clean, engine.run(denoiser, noisy, given)))
        level = np.broadcast_to(np.linspace(*RAMP, clean.shape[1], dtype=np.float32), clean.shape[:2])
        rng = np.random.default_rng([args.seed, 777, index])
        noisy = clean + rng.standard_normal(clean.shape, dtype=np.float32) * (level / 255)[..., None]
        for name, planes in (("ramp_blind", None), ("ramp_given", level)):
            rows.setdefault(name, []).append(psnr(clean, _whole(denoiser, noisy, planes)))
        print(f"{index + 1}/{len(files)} {path.name}", flush=True)
    result = {"model": args.model, "dataset": str(args.dataset), "images": len(files), "seed": args.seed,
              "ramp": RAMP, "psnr": {k: round(float(np.mean(v)), 3) for k, v in rows.items()}}
    for k, v in result["psnr"].items():
        print(f"{k:>16} {v:.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


def _whole(denoiser, noisy: np.ndarray, level: np.ndarray | None) -> np.ndarray:
    """The torch module on the whole image with the map's planes for ``level`` (HxW or None),
    padded by reflection to the size multiple."""
    import torch

    m = denoiser.size_multiple
    h, w = noisy.shape[:2]
    pad = ((0, (-h) % m), (0, (-w) % m))
    image = np.pad(noisy, (*pad, (0, 0)), mode="symmetric")
    sigma = None if level is None else np.pad(level, pad, mode="symmetric")
    planes = noise_map_planes((1, *image.shape[:2]), sigma)[0]
    x = torch.from_numpy(np.concatenate([image, planes], axis=2)).permute(2, 0, 1)[None]
    with torch.inference_mode():
        y = denoiser.module(x.contiguous())[0].permute(1, 2, 0).numpy()
    return np.clip(y[:h, :w], 0, 1)


if __name__ == "__main__":
    main()
