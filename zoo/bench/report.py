"""What the benchmarks write: JSON without inf/nan, CSV, the run's environment, and the chart of
a quality run."""

from __future__ import annotations

import csv
import os
import platform
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np


def finite(value: Any) -> Any:
    """JSON has no inf/nan: identical images (PSNR inf) are written as null."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def installed(*names: str) -> str | None:
    """The version of the first of ``names`` that is installed, else None."""
    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def environment() -> dict:
    """Versions, machine and date: what a reader needs to rerun a benchmark."""
    libs = {name: installed(name) for name in ("numpy", "scikit-image", "bm3d")}
    return {"zoo": installed("denoise-zoo"), "python": platform.python_version(), "machine": platform.machine(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu_count": os.cpu_count(), **libs}


def write_csv(path: Path, fields: tuple[str, ...], rows: list[dict]) -> None:
    """Rows as CSV with ``fields`` as the header; None is an empty cell, other keys are ignored."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)


def plot(rows: list[dict], path: Path, title: str = "") -> None:
    """Grouped bars of PSNR and SSIM (two panels) per noise level x model, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    fig = Figure(figsize=(12, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, key, unit in zip(fig.subplots(1, 2), ("psnr", "ssim"), ("PSNR (dB)", "SSIM")):
        _bars(ax, rows, key, unit)
    fig.suptitle(title)
    fig.savefig(path, dpi=100)


def _bars(ax, rows: list[dict], key: str, unit: str) -> None:
    levels = list(dict.fromkeys(r["sigma"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    width = 0.8 / len(models)
    values = {(r["model"], r["sigma"]): r[key] for r in rows}
    for i, model in enumerate(models):
        ys = [values.get((model, s), np.nan) for s in levels]
        bars = ax.bar(np.arange(len(levels)) + (i - (len(models) - 1) / 2) * width, ys, width, label=model)
        ax.bar_label(bars, fmt="%.2f" if key == "psnr" else "%.3f", fontsize=7)
    ax.set_xticks(np.arange(len(levels)), [_level(s) for s in levels])
    ax.set_ylabel(unit)
    finite = [v for v in values.values() if v is not None and np.isfinite(v)]
    if finite:  # bars from zero would hide dB-sized differences; start a little below the lowest
        ax.set_ylim(bottom=min(finite) - (2.0 if key == "psnr" else 0.05))
    ax.legend(fontsize=8)


def _level(sigma: float | None) -> str:
    return "real noise" if sigma is None else f"sigma {sigma:g}"
