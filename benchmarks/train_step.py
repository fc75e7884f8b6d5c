"""Seconds per `zoo train` step, fp32 against bf16 autocast, in one run on this machine's CPU.

One training step as `zoo train` takes it (forward under autocast, L1 loss in fp32, backward, Adam),
on random patches, alternating the precisions so that both see the same machine load; the median
of the timed steps after a warm-up. A CPU with AVX-512 BF16 or AMX runs bf16 convolutions faster.

    python benchmarks/train_step.py --model mwrcanet --preset medium --batch 16 --patch 96 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from zoo.sdk import movable
from zoo.training.config import TrainConfig
from zoo.training.grow import starting_point
from zoo.training.loop import gradients


def step_seconds(module, batch: int, patch: int, precision: str, steps: int) -> list[float]:
    optim = torch.optim.Adam(module.parameters(), lr=1e-6)
    noisy = torch.rand(batch, 3, patch, patch).contiguous(memory_format=torch.channels_last)
    clean = noisy.clone()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optim.zero_grad(set_to_none=True)
        gradients(module, torch.nn.L1Loss(), noisy, clean,
                  torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"))
        optim.step()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mwrcanet")
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per precision and round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = TrainConfig(model=args.model, preset=args.preset, data=("unused",))
    module = movable(starting_point(cfg), "train_step").module.train().to(memory_format=torch.channels_last)
    step_seconds(module, args.batch, args.patch, "fp32", 2)  # warm-up
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(args.rounds):
        for precision in times:
            times[precision] += step_seconds(module, args.batch, args.patch, precision, args.steps)[1:]
    median = {p: statistics.median(t) for p, t in times.items()}
    print(json.dumps({"model": args.model, "preset": args.preset, "batch": args.batch, "patch": args.patch,
                      "threads": args.threads, "seconds_per_step": {p: round(s, 3) for p, s in median.items()},
                      "bf16_speedup": round(median["fp32"] / median["bf16"], 2)}))


if __name__ == "__main__":
    main()
