"""`zoo bench ...`: benchmark commands, a typer sub-app attached to the main `zoo` app.

Kept apart from the main commands so the benchmark options do not crowd the main commands; heavy
modules (scikit-image, matplotlib, frameworks) are imported only when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from registry.errors import ZooError
from zoo.cli.console import err, out, reported

bench = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Benchmark denoisers: quality (PSNR/SSIM) on an image set; speed.")


@bench.command()
def quality(
    models: str = typer.Option(..., "--models", "-m", help="Comma-separated MODEL or MODEL:TAG list; MODEL+x8 averages 8 flips/rotations (+x2, +x4: fewer views, as zoo denoise --views); MODEL+blind withholds the true sigma (noise-map models then run blind; FFDNet and CBM3D estimate it)."),
    dataset: Path = typer.Option(..., "--dataset", help="Folder of clean images (references in real-noise mode)."),
    noisy_dir: Optional[Path] = typer.Option(None, "--noisy-dir", help="Folder of real noisy photos: real-noise mode."),
    pair_glob: Optional[str] = typer.Option(None, "--pair-glob", help="Pairing rule NOISY:CLEAN, e.g. '*_real.JPG:*_mean.JPG'."),
    sigma: str = typer.Option("15,25,50", "--sigma", help="AWGN sigmas (0-255 scale), comma-separated."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic noise."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N images (name order)."),
    crop: Optional[int] = typer.Option(None, "--crop", help="Score N x N centre crops (faster)."),
    out_dir: Path = typer.Option(Path("bench-out"), "--out", help="Folder for quality.csv/.json/.png."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Backend for models that have it (onnx, openvino: any with torch)."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16 or int8 (onnx, openvino) for models whose backend runs it."),
) -> None:
    """PSNR and SSIM of each model (and of the noisy input) per noise level, with peers in one run."""
    from zoo.bench import quality as bench_mod

    with reported():
        config = bench_mod.QualityConfig(
            models=_split(models), dataset=dataset, noisy_dir=noisy_dir, sigmas=_sigmas(sigma),
            seed=seed, limit=limit, crop=crop, backend=backend, pair_glob=pair_glob, precision=precision,
        )
        result = _run_with_progress(bench_mod, config, err)
        out.print(_table(result.summary(), result))
        for path in bench_mod.write_outputs(result, out_dir):
            out.print(f"wrote {path}", highlight=False, soft_wrap=True)


@bench.command()
def speed(
    models: str = typer.Option(..., "--models", "-m", help="Comma-separated MODEL, MODEL@PRESET or MODEL:PRESET|TAG list."),
    size: str = typer.Option("1024x1024", "--size", help="Input size WIDTHxHEIGHT."),
    backend: str = typer.Option("torch", "--backend", help="Comma-separated backends, e.g. torch,tensorflow,onnx,openvino (auto: the --backend auto choice)."),
    dtype: str = typer.Option("fp32", "--dtype", help="Comma-separated: fp32, bf16, int8 (onnx, openvino)."),
    compile_: str = typer.Option("off", "--compile", help="off, on or off,on: torch.compile / XLA runs too."),
    repeat: int = typer.Option(3, "--repeat", help="Timed runs per case (the median is reported)."),
    warmup: int = typer.Option(1, "--warmup", help="Untimed runs before timing."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Threads per framework (default: theirs)."),
    engine: bool = typer.Option(False, "--engine", help="Also time read -> tiled engine -> write on --engine-size."),
    engine_size: str = typer.Option("4000x3000", "--engine-size", help="Synthetic photo size for --engine."),
    peers: str = typer.Option("cbm3d,ffdnet", "--peers", help="Peers run in fp32 in the same run ('' for none)."),
    classical_size: str = typer.Option("256x256", "--classical-size", help="Input size of slow classical peers (CBM3D)."),
    peak_size: int = typer.Option(2048, "--peak-size", help="Side of the peak matrix product (the conv uses a quarter)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write everything as JSON here (and a CSV beside it)."),
) -> None:
    """Megapixels/s, GFLOP/s and % of the machine's measured peak, memory and bf16 accuracy."""
    from zoo.bench import speed as speed_mod
    from zoo.bench import speed_report

    with reported():
        config = speed_mod.SpeedConfig(
            models=_split(models), size=speed_mod.parse_size(size), backends=_names(backend, "--backend"),
            dtypes=speed_mod.check_dtypes(_names(dtype, "--dtype")), compile=speed_mod.parse_compile(compile_),
            repeat=repeat, warmup=warmup,
            threads=threads, engine=engine, engine_size=speed_mod.parse_size(engine_size),
            peers=tuple(p.strip() for p in peers.split(",") if p.strip()),
            classical_size=speed_mod.parse_size(classical_size), peak_size=peak_size,
        )
        report = lambda msg: err.print(msg, highlight=False, soft_wrap=True)  # noqa: E731
        result = speed_mod.run_speed(config, report)
        for table in speed_report.tables(result):
            out.print(table)
        for path in speed_report.write_outputs(result, json_path) if json_path else ():
            out.print(f"wrote {path}", highlight=False, soft_wrap=True)


def _names(text: str, option: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ZooError(f"{option} needs at least one value")
    return names


def _split(models: str) -> tuple[str, ...]:
    names = tuple(m.strip() for m in models.split(",") if m.strip())
    if not names:
        raise ZooError("--models needs at least one model name")
    return names


def _sigmas(text: str) -> tuple[float, ...]:
    try:
        sigmas = tuple(float(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ZooError(f"--sigma takes numbers like 15,25,50, got {text!r}") from None
    if not sigmas or any(not 0 < s <= 255 for s in sigmas):
        raise ZooError(f"--sigma values must be in (0, 255], got {text!r}")
    return sigmas


def _run_with_progress(bench_mod, config, err):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("benchmarking", total=None)
        report = lambda msg: progress.console.print(msg, highlight=False, soft_wrap=True)  # noqa: E731
        n_levels = len(config.noise_levels())
        progress.update(task, total=len(bench_mod.find_pairs(config)) * n_levels)
        return bench_mod.run_quality(config, report, lambda: progress.advance(task))


def _table(rows: list[dict], result):
    from rich.table import Table

    table = Table("model", "noise", "images", "PSNR (dB)", "SSIM", "s / MP", title=_caption(result))
    for r in rows:
        noise = "real" if r["sigma"] is None else f"σ={r['sigma']:g}"
        speed = "-" if r["seconds_per_mp"] is None else f"{r['seconds_per_mp']:.1f}"
        table.add_row(r["model"], noise, str(r["images"]), f"{r['psnr']:.2f}", f"{r['ssim']:.4f}", speed)
    return table


def _caption(result) -> str:
    skipped = "; ".join(f"{k} skipped" for k in result.skipped)
    return f"{result.config.noisy_dir or result.config.dataset} ({result.images} images){'; ' + skipped if skipped else ''}"
