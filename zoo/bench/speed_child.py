"""The child side of `zoo bench speed`: one case measured in a fresh interpreter.

``python -m zoo.bench.speed_child`` reads a :class:`zoo.bench.speed.Case` as JSON on stdin and
prints one line, ``RESULT_MARK`` + its row as JSON (or ``{"error": ...}``). A process per case
keeps each case's peak resident set (``ru_maxrss``) its own, and lets each case pick its threads
and Keras' dtype policy before a framework starts. See zoo.bench.speed for what is measured.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from registry.errors import one_line
from registry.manager import get_registry
from zoo.bench.peaks import peaks_child, timed
from zoo.bench.report import finite
from zoo.bench.speed import RESULT_MARK, SIGMA, Case
from zoo.imaging.samples import sample_image
from zoo.inference import engine, runtime
from zoo.weights.loader import load


def measure(case: Case) -> dict:
    """Time one case in this process (see the module docstring); a JSON-able row."""
    _set_threads(case)
    fast, reference = _denoisers(case)
    pixels = sample_image(case.size, seed=0)
    build_peak, exact = _peak_mb(), _reset_peak()
    rss_before = _rss_mb()
    warm, times, out = _time_calls(lambda: fast.denoise_batch(pixels[None], _sigma(fast))[0], case.warmup, case.repeat)
    peak = _peak_mb()
    seconds = statistics.median(times)
    row = {**asdict(case), **_pixels(case.size, fast.size_multiple), "seconds": seconds, "seconds_all": times,
           "mp_per_s": case.size[0] * case.size[1] / 1e6 / seconds, "peak_rss_mb": max(build_peak, peak),
           "rss_before_mb": rss_before, "mem_growth_mb": peak - rss_before,
           "mem_growth_exact": exact,
           "threads_used": _threads(case), "weights": _weights(case), "first_call_s": warm[0] if warm else None,
           "allocator_tuned": runtime.allocator_tuned()}
    if reference is not None:
        row.update(_bf16_accuracy(fast, reference, case, pixels, out))
    if case.engine_size:
        row.update(_engine(fast, case, row["mp_per_s"]))
    return row


def _pixels(size: tuple[int, int], multiple: int) -> dict:
    """Requested megapixels, and those the model computes on after padding to its size multiple."""
    m = max(1, int(multiple))
    padded = (-(-size[0] // m) * m) * (-(-size[1] // m) * m)
    return {"megapixels": size[0] * size[1] / 1e6, "padded_megapixels": padded / 1e6}


def _sigma(denoiser: Any) -> float | None:
    """A fixed noise level for models that take one, so that no estimate is timed."""
    return SIGMA if denoiser.takes_sigma else None


def _weights(case: Case) -> str:
    if case.tag:
        return f"pretrained:{case.tag}"
    return "random" if get_registry().get(case.arch).needs_weights else "built-in"


def _set_threads(case: Case) -> None:
    """The case's threads, set before its framework starts (what `zoo denoise --threads` does)."""
    if case.threads:
        runtime.set_threads(case.threads)


def _threads(case: Case) -> int | None:
    if case.backend in ("onnx", "openvino"):  # their sessions' intra-op pools (None: every core)
        from zoo.runtimes.backends import threads

        return threads()
    if case.backend == "torch":
        import torch

        return torch.get_num_threads()
    return case.threads


def _load(case: Case, precision: str = "fp32", compile: bool = False) -> Any:
    if case.backend in ("torch", "onnx", "openvino"):  # the runtimes export the torch module
        import torch

        torch.manual_seed(0)  # the same random weights in every case of one model
    elif case.backend == "tensorflow":
        import keras

        keras.utils.set_random_seed(0)
    options = {"backend": case.backend, "precision": precision, "compile": compile}
    if case.tag:
        return load(f"{case.arch}:{case.tag}", **options)
    return load(case.arch, preset=case.preset, pretrained=False, **options)


def _denoisers(case: Case) -> tuple[Any, Any | None]:
    """(the denoiser to time, the plain fp32 one bf16 is compared with: None for fp32 cases)."""
    fast = _load(case, case.dtype, case.compile)
    if case.dtype == "fp32":
        return fast, None
    reference = _load(case)
    reference.load_state_dict(fast.state_dict())
    return fast, reference


def _time_calls(fn: Callable[[], np.ndarray], warmup: int, repeat: int) -> tuple[list[float], list[float], np.ndarray]:
    """Seconds of each warm-up call (the first includes compiling), of each timed call, last output."""
    warm, times, out = [], [], None
    for n in range(warmup + repeat):
        seconds, out = timed(fn)
        (warm if n < warmup else times).append(seconds)
    return warm, times, out


# Memory comes from /proc/self: ru_maxrss would not do, because Linux carries the high-water mark
# of the forked parent (which may hold torch and a model) across exec into the child.
def _rss_mb() -> float:
    """Resident set now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """Peak resident set of this process image (VmHWM), since start or the last reset."""
    with open("/proc/self/status") as f:
        line = next(ln for ln in f if ln.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024  # kB


def _reset_peak() -> bool:
    """Reset VmHWM to the current resident set (Linux 4.0+), so the next peak is the forward's
    own; False where not allowed: the growth is then an upper bound (building may have peaked)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _bf16_accuracy(fast: Any, reference: Any, case: Case, pixels: np.ndarray, out: np.ndarray) -> dict:
    """PSNR of bf16 vs fp32 on the timed input; PSNR lost vs clean when the weights are trained."""
    from zoo.imaging.metrics import psnr
    from zoo.imaging.samples import golden_pair

    row = {"bf16_psnr_vs_fp32": psnr(reference.denoise_batch(pixels[None], _sigma(reference))[0], out),
           "bf16_psnr_loss": None}
    if case.tag:
        noise = get_registry().get(case.arch).weights_for(case.tag).noise
        noisy, clean = golden_pair(noise)
        sigma = _sigma(reference) if noise != "real" else None
        row["bf16_psnr_loss"] = psnr(clean, reference.denoise_batch(noisy[None], sigma)[0]) - psnr(
            clean, fast.denoise_batch(noisy[None], sigma)[0])  # the raw batch call: noisy is unclipped
    return row


def _engine(fast: Any, case: Case, model_mp_per_s: float) -> dict:
    """Time read -> engine.run -> write of a synthetic PNG photo of ``case.engine_size``, then the
    model alone on the whole photo in one call (twice, the second timed) when its working memory
    fits in half the memory available: the engine's overhead is its time over that call's. The
    overhead over the ``--size`` rate (``engine_overhead_vs_rate``) is reported too; it also counts
    the model's own slowdown on bigger inputs (feature maps outgrow the caches)."""
    from zoo.photo.imageio import Photo, read_image, write_image

    budget = engine.auto_memory()
    plan = engine.plan_tiles(fast, *case.engine_size, max_memory=budget)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.png"
        write_image(src, Photo(sample_image(case.engine_size, seed=0)))
        _warm_tile(fast, case, plan.tile)
        _reset_peak()
        read_s, photo = timed(lambda: read_image(src))
        run_s, pixels = timed(lambda: engine.run(fast, photo.pixels, _sigma(fast), max_memory=budget))
        write_s, _ = timed(lambda: write_image(dst, photo.with_pixels(pixels)))
        peak = _peak_mb()
    mp = case.engine_size[0] * case.engine_size[1] / 1e6
    total, by_rate = read_s + run_s + write_s, mp / model_mp_per_s
    whole = _whole_image_seconds(fast, photo.pixels[..., :3])
    return {"engine_megapixels": mp, "engine_seconds": total, "engine_read_s": read_s, "engine_run_s": run_s,
            "engine_write_s": write_s, "engine_budget_mb": budget / 2**20,
            "engine_model_whole_s": whole, "engine_overhead": None if whole is None else (total - whole) / whole,
            "engine_model_seconds": by_rate, "engine_overhead_vs_rate": (total - by_rate) / by_rate,
            "engine_tiles": plan.count, "engine_tile": list(plan.tile),
            "engine_tiled_megapixels": plan.count * plan.tile[0] * plan.tile[1] / 1e6, "engine_peak_rss_mb": peak}


def _whole_image_seconds(fast: Any, pixels: np.ndarray) -> float | None:
    need = pixels.shape[0] * pixels.shape[1] * engine.bytes_per_pixel(fast)
    if need > (engine.available_memory() or 0) // 2:
        return None
    fast.denoise_batch(pixels[None], _sigma(fast))  # first call: compiling, heap growth
    return timed(lambda: fast.denoise_batch(pixels[None], _sigma(fast)))[0]


def _warm_tile(fast: Any, case: Case, tile: tuple[int, int]) -> None:
    """One call at the engine's tile shape, so first-call set-up (kernel selection for a new
    shape, compiling, graph tracing) is not counted as engine overhead: the model's run was warmed too."""
    if case.warmup:
        fast.denoise_batch(np.zeros((1, *tile, 3), np.float32), _sigma(fast))


def _child() -> None:
    data = json.loads(sys.stdin.read())
    try:
        row = peaks_child(**data["peaks"]) if "peaks" in data else measure(_case(data))
    except Exception as exc:  # reported to the parent as one line; the run goes on
        row = {"error": one_line(exc)}
    print(RESULT_MARK + json.dumps(finite(row)), flush=True)


def _case(data: dict) -> Case:
    for key in ("size", "engine_size"):
        data[key] = tuple(data[key]) if data[key] else None
    return Case(**data)


if __name__ == "__main__":
    _child()
