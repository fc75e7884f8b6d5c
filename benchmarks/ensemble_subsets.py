"""What each subset of the 8 flips/rotations gains on real noisy pairs (PolyU), one run.

`zoo denoise --ensemble` averages all 8 views of the photo (x8 time). This scores the model once
per view and then every subset it names from the same outputs, so the subsets are compared on
identical work: x1 (the plain model), x2 (with the mirror image, or the photo turned 180 degrees),
x4 (the mirrors and 180 degrees, or the four rotations) and x8. Paired differences against x1 per
image, with their standard error.

    python benchmarks/ensemble_subsets.py --model mwrcanet:camera_incamera_urban_medium \\
        --dataset ../shared/datasets/PolyU/clean --noisy-dir ../shared/datasets/PolyU/noisy \\
        --out benchmarks/results/polyu_ensemble_subsets.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import zoo
from zoo.bench.quality import QualityConfig, find_pairs, read_rgb
from zoo.imaging import metrics
from zoo.inference import engine

# A view: (quarter turns, mirrored first), as engine.VIEWS; the x2/x4 subsets zoo denoise --views
# uses, and the mirror-based alternatives it does not.
SUBSETS = {
    "x1": engine.VIEWS[1],
    "x2 mirror": ((0, False), (0, True)),
    "x2 turn180": engine.VIEWS[2],
    "x4 mirrors+turn180": ((0, False), (0, True), (2, False), (2, True)),
    "x4 turns": engine.VIEWS[4],
    "x8": engine.VIEWS[8],
}


def views(denoiser, noisy: np.ndarray) -> dict[tuple[int, bool], np.ndarray]:
    return {view: engine.unseen(engine.run(denoiser, engine.seen(noisy, view)), view) for view in engine.VIEWS[8]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mwrcanet")
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    denoiser = zoo.load(args.model, backend="torch")
    pairs = find_pairs(QualityConfig(models=(args.model,), dataset=args.dataset, noisy_dir=args.noisy_dir,
                                     limit=args.limit))
    scores: dict[str, list[float]] = {name: [] for name in SUBSETS}
    start = time.perf_counter()
    for pair in pairs:
        clean, noisy = read_rgb(pair.clean), read_rgb(pair.noisy)  # as zoo bench quality reads them
        outs = views(denoiser, noisy)
        for name, subset in SUBSETS.items():
            scores[name].append(metrics.psnr(clean, np.mean([outs[v] for v in subset], axis=0)))
    base = np.array(scores["x1"])
    rows = {}
    for name, values in scores.items():
        diff = np.array(values) - base
        rows[name] = {"psnr": round(float(np.mean(values)), 4), "gain": round(float(diff.mean()), 4),
                      "gain_se": round(float(diff.std(ddof=1) / np.sqrt(len(diff))), 4) if len(diff) > 1 else None,
                      "better_pairs": int((diff > 0).sum()), "time": len(SUBSETS[name])}
        print(f"{name:20s} {rows[name]['psnr']:.3f} dB  {rows[name]['gain']:+.3f} (se {rows[name]['gain_se']})  "
              f"better on {rows[name]['better_pairs']}/{len(diff)}  x{rows[name]['time']} time")
    if args.out:
        args.out.write_text(json.dumps({"model": args.model, "dataset": str(args.dataset), "pairs": len(pairs),
                                        "wall_s": round(time.perf_counter() - start, 1), "subsets": rows}, indent=1))


if __name__ == "__main__":
    main()
