"""Pick a real-noise default without looking at real test photos: PSNR/SSIM on synthetic held-out sets.

    python benchmarks/heldout_real.py --data ../shared/datasets/CBSD432/clean \
        mwrcanet:camera_isp_small mwrcanet=/path/to/run.safetensors ...

Each model denoises the photos ``zoo train`` holds out (the last ``--holdout`` by name, never
trained on) with each noise spec in ``--noise`` (';'-separated; default ``camera:sharp`` and
``camera:isp,sharp``), seeded exactly as the training runs' validation sets, so a run's card
``val_psnr`` for its own noise is reproduced here. The rule the shipped defaults follow: the higher
mean PSNR over the default specs wins; PolyU (real camera noise) is only ever reported, so the
choice is not tuned to the evaluation set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from zoo.inference import engine
from zoo.bench.quality import _load
from zoo.imaging.noise import NoiseSpec
from zoo.training.data import evaluate, list_images, read_rgb, split, validation_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="MODEL, MODEL:TAG or MODEL=WEIGHTS")
    parser.add_argument("--data", type=Path, required=True, help="The training folder (CBSD432/clean).")
    parser.add_argument("--holdout", type=int, default=8)
    parser.add_argument("--noise", default="camera:sharp;camera:isp,sharp", help="Noise specs separated by ';'.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()

    _, held = split(list_images(args.data), args.holdout)
    images = [read_rgb(p) for p in held]
    specs = [s.strip() for s in args.noise.split(";") if s.strip()]
    denoisers = {model: _load(model, "torch") for model in args.models}
    rows = []
    for spec in specs:
        pairs = validation_set(images, NoiseSpec.parse(spec), 25.0, args.seed)
        for model, denoiser in denoisers.items():
            scores = evaluate(lambda noisy: engine.run(denoiser, noisy), pairs)
            rows.append({"model": model, "noise": spec, **scores})
            print(f"{model:60s} {spec:12s} {scores['psnr']:.3f} dB  {scores['ssim']:.4f}", flush=True)
    print("mean PSNR over", " and ".join(specs))
    for model in args.models:
        mean = np.mean([r["psnr"] for r in rows if r["model"] == model])
        print(f"{model:60s} {mean:.3f} dB")
    if args.json:
        args.json.write_text(json.dumps({"photos": [p.name for p in held], "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
