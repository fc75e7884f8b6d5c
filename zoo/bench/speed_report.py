"""What `zoo bench speed` shows and writes: the terminal tables, a JSON of everything and a CSV of
the main columns."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.bench.report import finite, write_csv

if TYPE_CHECKING:
    from zoo.bench.speed import SpeedResult


CSV_FIELDS = ("label", "backend", "dtype", "compile", "peer", "size", "weights", "mp_per_s", "seconds",
              "first_call_s", "gflops",
              "pct_of_conv_peak", "mem_growth_mb", "peak_rss_mb", "bf16_psnr_vs_fp32", "bf16_psnr_loss",
              "engine_overhead", "engine_overhead_vs_rate", "threads_used")


def as_json(result: SpeedResult) -> dict:
    config = asdict(result.config)
    return finite({"benchmark": "speed", "config": config, "environment": result.environment,
                    "peaks": result.peaks, "rows": result.rows, "skipped": result.skipped})


def write_outputs(result: SpeedResult, json_path: Path) -> list[Path]:
    """The JSON (everything) at ``json_path`` and a CSV of the main columns beside it."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(as_json(result), indent=2) + "\n")
    csv_path = json_path.with_suffix(".csv")
    sizes = [{**row, "size": _wxh(row["size"])} for row in result.rows]
    write_csv(csv_path, CSV_FIELDS, sizes)
    return [json_path, csv_path]


def tables(result: SpeedResult) -> list:
    """Rich renderables: the peaks (before, after, max), one row per case, then notes."""
    from rich import box
    from rich.table import Column, Table
    from rich.text import Text

    peaks = Table("peak GFLOP/s", "before", "after", "used (max)", title=_cpu_line(result.environment),
                  box=box.SIMPLE_HEAD)
    for key, value in result.peaks.get("max", {}).items():
        peaks.add_row(key, *(f"{result.peaks[k][key]:.0f}" for k in ("before", "after")), f"{value:.0f}")
    engine = ["eng +%"] if result.config.engine else []
    notes = ["% peak: of the conv peak measured in this run, same dtype. jit: torch.compile / XLA, "
             "timed after its first (compiling) call.",
             *(["eng +%: engine (read, tiles, write) over the model alone on the whole photo / over "
                "the --size rate."] if result.config.engine else []),
             *(["* peer (fp32, its own backend)."] if any(r["peer"] for r in result.rows) else []),
             *(["bf16 dB: PSNR of bf16 vs fp32 / PSNR lost vs clean (trained weights only)."]
               if "bf16" in result.config.dtypes else []),
             *(f"{k} skipped: {v}" for k, v in result.skipped.items())]
    labels = [r["label"] + (" *" if r["peer"] else "") for r in result.rows]
    fixed = [Column(h, min_width=max(map(len, [h, *cells]))) for h, cells in
             (("model", labels), ("backend", [r["backend"] for r in result.rows]))]
    rows = Table(*fixed, "dtype", "MP/s", "GFLOP/s", "% peak", "MB", "bf16 dB", *engine,
                 title=_sizes_line(result), box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                 collapse_padding=True)
    for label, r in zip(labels, result.rows):
        cells = [label, r["backend"], r["dtype"] + (" jit" if r.get("compile") else ""),
                 f"{r['mp_per_s']:.3g}", _num(r["gflops"]), _num(r["pct_of_conv_peak"]),
                 f"{r['mem_growth_mb']:.0f}", _bf16_cell(r)]
        rows.add_row(*cells, *([_engine_cell(r)] if engine else []))
    return [peaks, rows, Text("\n".join(notes))]


def _sizes_line(result: SpeedResult) -> str:
    sizes = {_wxh(r["size"]) for r in result.rows if r["size"] != list(result.config.size)}
    other = f" ({', '.join(sorted(sizes))} for classical peers)" if sizes else ""
    engine = f"; engine on {_wxh(result.config.engine_size)}" if result.config.engine else ""
    return f"{_wxh(result.config.size)} input{other}{engine}"


def _cpu_line(env: dict) -> str:
    yes = {True: "yes", False: "no"}
    return (f"{env.get('cpu_model') or 'CPU'}: {env.get('torch_threads')} torch threads, "
            f"bf16 {yes[bool(env.get('bf16'))]}, AMX {yes[bool(env.get('amx'))]}")


def _wxh(size: tuple[int, int] | list[int]) -> str:
    return f"{size[1]}x{size[0]}"


def _num(value: float | None, fmt: str = ".3g") -> str:
    return "-" if value is None else format(value, fmt)


def _engine_cell(row: dict) -> str:
    """Engine overhead in %: over the whole-photo model call / over the --size rate."""
    whole, rate = row.get("engine_overhead"), row.get("engine_overhead_vs_rate")
    if rate is None:
        return "-"
    return f"{_num(whole and 100 * whole, '.0f') if whole is not None else '-'} / {100 * rate:.0f}"


def _bf16_cell(row: dict) -> str:
    if row["dtype"] != "bf16":
        return "-"
    vs, loss = row.get("bf16_psnr_vs_fp32"), row.get("bf16_psnr_loss")
    text = "identical" if vs is None else f"{vs:.1f}"
    return text if loss is None else f"{text} / {loss:.3f}"
