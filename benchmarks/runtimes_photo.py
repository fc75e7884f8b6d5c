"""Whole-photo wall time and peak RSS of the default model per backend (issue #16's README row).

    python benchmarks/runtimes_photo.py --size 6000x4000 --threads 2 --backends torch,auto

Each backend runs in a fresh interpreter (so peak RSS is its own): load the default model, warm it
on one tile-sized call, then time ``zoo.inference.engine.run`` (the tiled engine `zoo denoise`
uses, default memory budget) on a seeded synthetic photo, and read VmHWM. The graph cache is warm
after the first run of a backend (export time is excluded from the wall time and reported apart).
Prints one JSON line per backend and a small table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, os, sys, time
import numpy as np
args = json.loads(sys.argv[1])
from zoo.inference import engine, runtime
runtime.set_threads(args["threads"])
import zoo
from zoo.imaging.samples import sample_image
t0 = time.perf_counter()
model = zoo.load(None, backend=args["backend"])
pixels = sample_image((args["h"], args["w"]), seed=0)
plan = engine.plan_tiles(model, args["h"], args["w"], max_memory=engine.auto_memory())
model.denoise_batch(np.zeros((1, *plan.tile, 3), np.float32))  # builds or loads the graph
setup = time.perf_counter() - t0
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
t0 = time.perf_counter()
engine.run(model, pixels, max_memory=engine.auto_memory())
wall = time.perf_counter() - t0
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print("RESULT " + json.dumps({"backend": args["backend"], "chosen": model.backend, "precision": model.precision,
      "wall_s": wall, "setup_s": setup, "peak_rss_mb": peak, "tiles": plan.count, "tile": list(plan.tile),
      "megapixels": args["h"] * args["w"] / 1e6}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="6000x4000", help="width x height")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backends", default="torch,auto")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    env = {**os.environ, **{k: str(args.threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    rows = []
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for backend in args.backends.split(","):
        payload = json.dumps({"backend": backend, "threads": args.threads, "h": h, "w": w})
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CHILD, payload], capture_output=True, text=True, env=env)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if not lines:
            print(f"{backend}: failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
            continue
        row = {**json.loads(lines[-1][7:]), "process_s": time.perf_counter() - started}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"load average at end: {os.getloadavg()}")
    base = next((r["wall_s"] for r in rows if r["chosen"] == "torch"), None)
    for r in rows:
        ratio = f"{base / r['wall_s']:.2f}x" if base else "-"
        print(f"{r['backend']:>8} -> {r['chosen']:<9} {r['megapixels']:.1f} MP  {r['wall_s']:7.1f} s  "
              f"{r['peak_rss_mb']:7.0f} MB peak RSS  {ratio} vs torch")


if __name__ == "__main__":
    main()
