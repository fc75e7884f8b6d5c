"""The machine's own peak, the reference of every speed figure: dense fp32 (and bf16) matrix
products and a 64-channel channels-last 3x3 convolution, in GFLOP/s; and what the CPU offers."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``fn`` took, and what it returned."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure_peaks(dtypes: tuple[str, ...] = ("fp32",), size: int = 2048, repeat: int = 3) -> dict[str, float]:
    """GFLOP/s of a size^3 matrix product (torch, numpy) and of a 64-channel channels-last 3x3
    convolution on a (size/4)^2 image (torch), best of ``repeat``; bf16 variants when asked."""
    peaks = {"matmul_torch_fp32": _torch_matmul(size, "fp32", repeat),
             "matmul_numpy_fp32": _numpy_matmul(size, repeat),
             "conv3x3_torch_fp32": _torch_conv(max(8, size // 4), "fp32", repeat)}
    if "bf16" in dtypes:
        peaks["matmul_torch_bf16"] = _torch_matmul(size, "bf16", repeat)
        peaks["conv3x3_torch_bf16"] = _torch_conv(max(8, size // 4), "bf16", repeat)
    return peaks


def _best_gflops(fn: Callable[[], Any], flops: float, repeat: int) -> float:
    fn()  # warm-up: first calls pick kernels and fault in memory
    best = min(timed(fn)[0] for _ in range(max(1, repeat)))
    return flops / best / 1e9


def _torch_matmul(n: int, dtype: str, repeat: int) -> float:
    import torch

    a, b = (torch.randn(n, n).to(_torch_dtype(dtype)) for _ in range(2))
    with torch.inference_mode():
        return _best_gflops(lambda: torch.matmul(a, b), 2.0 * n**3, repeat)


def _numpy_matmul(n: int, repeat: int) -> float:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    return _best_gflops(lambda: a @ b, 2.0 * n**3, repeat)


def _torch_conv(side: int, dtype: str, repeat: int, channels: int = 64) -> float:
    import torch
    import torch.nn.functional as F

    t = _torch_dtype(dtype)
    x = torch.randn(1, channels, side, side).to(t).contiguous(memory_format=torch.channels_last)
    w = torch.randn(channels, channels, 3, 3).to(t).contiguous(memory_format=torch.channels_last)
    flops = 2.0 * channels * channels * 9 * side * side
    with torch.inference_mode():
        return _best_gflops(lambda: F.conv2d(x, w, padding=1), flops, repeat)


def _torch_dtype(dtype: str) -> Any:
    import torch

    return torch.bfloat16 if dtype == "bf16" else torch.float32


def max_peaks(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: max(before[k], after.get(k, 0.0)) for k in before}


def cpu_info(path: Path = Path("/proc/cpuinfo")) -> dict:
    """CPU model, the SIMD flags that matter here, and whether bf16 / AMX instructions exist."""
    text = path.read_text() if path.exists() else ""
    model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "")
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    flags = set(line.split(":", 1)[1].split()) if line else set()
    present = [f for f in CPU_FLAGS if f in flags]
    return {"cpu_model": model, "cpu_count": os.cpu_count(), "cpu_flags": present,
            "bf16": bool({"avx512_bf16", "amx_bf16"} & flags), "amx": "amx_bf16" in flags}


def peaks_child(dtypes: list[str], size: int, threads: int | None) -> dict:
    """What the peak child returns: the peaks and torch's threading as the cases see it."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    return {"peaks": measure_peaks(tuple(dtypes), size), "torch_threads": torch.get_num_threads(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}
