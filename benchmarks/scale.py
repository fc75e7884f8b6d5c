"""Scale-out benchmark: the same files through the local engine, Ray with 1 worker and Ray with 2
workers, then a plan for 1 M photos of 24 MP from the measured per-worker rate.

    python benchmarks/scale.py                       # 32 synthetic 2 MP photos, mwrcanet tiny (random weights)
    python benchmarks/scale.py --files 8 --megapixels 0.5 --json scale.json

The photos are made in a temp folder (smooth gradients plus noise, PNG) and removed afterwards.
The model is built from its preset with random weights (the speed is the architecture's, not the
weights'), on the torch backend in fp32. Ray runs on a local instance started once (its start is
reported apart); every engine plans the batch the same way and writes every output atomically.

What it prints, per engine: wall time, MP/s, the summed per-file time (read, denoise, write) and
the rest of the wall time per file (start-up, model loads, scheduling): Ray's overhead per file is
the 1-worker run's rest minus that of the local engine on one thread (what a 1-CPU worker gets).
With several workers the files overlap, so their rest is not an overhead (it goes negative).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo import distributed  # noqa: E402
from zoo.inference import batch  # noqa: E402

LIBRARY = {"photos": 1_000_000, "megapixels": 24.0}  # the plan's library
NODE = {"cores": 64, "memory_gb": 256}  # the plan's node: a common cloud CPU node


def make_photos(folder: Path, count: int, megapixels: float) -> list[Path]:
    """``count`` PNG photos of about ``megapixels`` (4:3): gradients with Gaussian noise, each different."""
    from PIL import Image

    height = int(round((megapixels * 1e6 * 3 / 4) ** 0.5))
    width = int(round(height * 4 / 3))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    paths = []
    for i in range(count):
        rng = np.random.default_rng(i)
        base = np.stack([xs / width, ys / height, (xs + ys) / (width + height)], axis=-1) * rng.uniform(0.5, 1, 3)
        noisy = np.clip(base + rng.normal(0, 0.08, base.shape).astype(np.float32), 0, 1)
        path = folder / f"photo{i:03d}.png"
        Image.fromarray((noisy * 255 + 0.5).astype(np.uint8)).save(path, compress_level=1)
        paths.append(path)
    return paths


def plan(paths: list[Path], out_dir: Path, label: str) -> list[batch.Job]:
    jobs = batch.expand_inputs([str(p) for p in paths])
    batch.plan_outputs(jobs, label, None, out_dir, False)
    return jobs


def measure(name: str, run, jobs: list[batch.Job], megapixels: float) -> dict:
    start = time.perf_counter()
    run(jobs)
    wall = time.perf_counter() - start
    failed = [j.error for j in jobs if j.error]
    if failed:
        raise SystemExit(f"{name}: {len(failed)} file(s) failed, e.g. {failed[0]}")
    work = sum(j.seconds or 0.0 for j in jobs)
    return {"engine": name, "files": len(jobs), "wall_s": round(wall, 2), "mp_per_s": round(megapixels / wall, 3),
            "file_seconds_sum": round(work, 2), "rest_per_file_s": round((wall - work) / len(jobs), 3),
            "mp_per_s_per_worker_busy": round(megapixels / work, 3)}


def library_plan(rate: float, ray_overhead: float, memory_gb_per_worker: float) -> dict:
    """Workers per node, nodes and hours for LIBRARY at ``rate`` MP/s per one-CPU worker."""
    per_photo = LIBRARY["megapixels"] / rate + max(ray_overhead, 0.0)  # seconds of one worker per photo
    workers = int(min(NODE["cores"], NODE["memory_gb"] * 0.8 // memory_gb_per_worker))
    plans = []
    for nodes in (1, 10, 50, 100):
        hours = LIBRARY["photos"] * per_photo / (workers * nodes) / 3600
        photos_per_s = workers * nodes / per_photo
        plans.append({"nodes": nodes, "hours": round(hours, 1), "photos_per_s": round(photos_per_s, 1),
                      "storage_mb_per_s": round(photos_per_s * 60)})  # ~10 MB JPEG in, ~50 MB PNG out
    return {"seconds_per_photo_per_worker": round(per_photo, 1), "workers_per_node": workers, "plans": plans}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--megapixels", type=float, default=2.0)
    parser.add_argument("--model", default="mwrcanet")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--workers", default="1,2", help="Ray pool sizes to run, comma-separated")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    spec = distributed.ModelSpec(args.model, {"backend": "torch", "preset": args.preset, "pretrained": False,
                                              "precision": "fp32"})
    label = f"{args.model}-{args.preset}"
    options = batch.make_options()
    results = []
    with tempfile.TemporaryDirectory(prefix="zoo-scale-") as tmp:
        folder = Path(tmp)
        paths = make_photos(folder, args.files, args.megapixels)
        megapixels = sum(batch.megapixels(p) for p in paths)
        local = lambda jobs: batch.run_jobs(spec(), jobs, options)  # noqa: E731  (the model load is counted)
        results.append(measure("local", local, plan(paths, folder / "local", label), megapixels))
        print(json.dumps(results[-1]), flush=True)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # what one Ray worker (one CPU) gets: the same work per thread
        results.append(measure("local, 1 thread", local, plan(paths, folder / "local1", label), megapixels))
        torch.set_num_threads(threads)
        print(json.dumps(results[-1]), flush=True)
        start = time.perf_counter()
        with distributed.session(None) as resources:
            ray_start = time.perf_counter() - start
            print(json.dumps({"ray_start_s": round(ray_start, 2), "cpus": resources.get("CPU")}), flush=True)
            for workers in [int(w) for w in args.workers.split(",")]:
                on_ray = lambda jobs, n=workers: distributed.run_jobs(  # noqa: E731
                    jobs, spec, options, label, resources, workers=n, local=True)
                results.append(measure(f"ray, {workers} worker(s)", on_ray, plan(paths, folder / f"ray{workers}", label),
                                       megapixels))
                print(json.dumps(results[-1]), flush=True)
    one = next(r for r in results if r["engine"].startswith("ray, 1 "))
    overhead = one["rest_per_file_s"] - results[1]["rest_per_file_s"]  # against the local engine on one thread
    report = {"files": args.files, "megapixels_each": args.megapixels, "model": label, "cpus": os.cpu_count(),
              "ray_start_s": round(ray_start, 2), "results": results, "ray_overhead_per_file_s": round(overhead, 3),
              "plan_1M_24MP": library_plan(one["mp_per_s_per_worker_busy"], overhead, 2.0)}
    print(json.dumps(report["plan_1M_24MP"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
