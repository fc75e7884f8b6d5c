"""The allocator setting's effect, measured in one run: the same model and input timed in two fresh
child processes, one with zoo.inference.runtime's malloc tuning (the default) and one with ZOO_MALLOC=system.

    python benchmarks/allocator.py [--model mwrcanet:awgn_small] [--sizes 768,1024,2048] [--threads 2]

Prints MP/s per size for both and their ratio; writes JSON with --json PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
import numpy as np
import torch
from zoo import api
from zoo.inference import runtime
spec, sizes, threads = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3])
torch.set_num_threads(threads)
name, _, preset = spec.partition("@")
d = api.load(name, preset=preset, pretrained=False) if preset else api.load(name)
rates = {}
for s in sizes:
    x = np.random.default_rng(0).random((1, s, s, 3), dtype=np.float32)
    d.denoise_batch(x)  # warm-up: kernel selection, heap growth
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        d.denoise_batch(x)
        times.append(time.perf_counter() - t0)
    rates[s] = s * s / 1e6 / min(times)
print(json.dumps({"tuned": runtime.allocator_tuned(), "mp_per_s": rates}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mwrcanet:awgn_small", help="MODEL[:TAG] or MODEL@PRESET (random weights)")
    parser.add_argument("--sizes", default="768,1024,2048")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for setting in ("tuned", "system"):
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TF_CPP_MIN_LOG_LEVEL": "2"}
        if setting == "system":
            env["ZOO_MALLOC"] = "system"
        else:
            env.pop("ZOO_MALLOC", None)
        proc = subprocess.run([sys.executable, "-c", CHILD, args.model, args.sizes, str(args.threads)],
                              capture_output=True, text=True, env=env, check=True)
        results[setting] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{args.model}, {args.threads} threads: MP/s with zoo's malloc tuning / with the C library's defaults")
    for size, tuned in results["tuned"]["mp_per_s"].items():
        system = results["system"]["mp_per_s"][size]
        print(f"  {size}x{size}: {tuned:.3f} / {system:.3f} = {tuned / system:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "threads": args.threads, **results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
