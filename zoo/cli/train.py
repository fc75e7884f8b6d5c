"""`zoo train`: a thin command over zoo.training.loop (torch) and zoo.training.keras_fit (Keras fit)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import List, Optional

import typer

from registry.errors import ZooError
from zoo.cli import console
from zoo.cli.console import reported


def train(
    model: str = typer.Argument(..., help="Architecture to train."),
    data: List[Path] = typer.Option(..., "--data", help="Folder of clean full-size training photos; repeat for "
                                    "several (each drawn in proportion to its pixels)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output weights (.safetensors); OUT.ckpt and OUT.card.json beside it."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Config preset."),
    noise: str = typer.Option("awgn:0-50", "--noise", help="awgn:SIGMA, awgn:LOW-HIGH, or camera with options isp, sharp, incamera, wide, nojpeg (camera:isp,sharp)."),
    patch: int = typer.Option(96, "--patch", help="Patch size cut from full-size photos (no resizing)."),
    batch: int = typer.Option(16, "--batch", help="Patches per step."),
    steps: int = typer.Option(10000, "--steps", help="Optimiser steps."),
    lr: float = typer.Option(1e-4, "--lr", help="Initial Adam learning rate (cosine decay)."),
    loss: str = typer.Option("l1", "--loss", help="l1 or l2."),
    channels: str = typer.Option("rgb", "--channels", help="rgb, or separate: one 1-channel net for R, G and B."),
    holdout: int = typer.Option(8, "--holdout", help="Last N photos of each --data folder held out for validation."),
    ema: Optional[float] = typer.Option(None, "--ema", help="Average the weights over the steps (exponential, this "
                                        "decay per step, e.g. 0.999); the output holds the average. May be added "
                                        "when resuming."),
    val_every: int = typer.Option(500, "--val-every", help="Validate and checkpoint every N steps."),
    seed: int = typer.Option(0, "--seed", help="Seed for patches, noise and weights."),
    init: Optional[str] = typer.Option(None, "--init", help="Start from these weights (fine-tune): a file, or ARCH:TAG for a pretrained tag."),
    grow: bool = typer.Option(False, "--grow", help="--init holds a smaller network of this architecture (fewer "
                              "blocks, no noise map): start from what it computes, new blocks as identities."),
    noise_map: bool = typer.Option(False, "--noise-map", help="Train with a noise-level map input (AWGN only), so "
                                   "`zoo denoise --sigma` is used by the result; without --sigma it runs blind."),
    map_drop: float = typer.Option(0.5, "--map-drop", help="With --noise-map: share of patches trained without "
                                   "their level, so the network also runs blind."),
    map_vary: float = typer.Option(0.0, "--map-vary", help="With --noise-map: share of patches whose noise "
                                   "level ramps across the patch (the map gives it per pixel), so the map is read."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when torch sees a GPU), cpu or cuda."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, or bf16 (autocast; torch backend)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Patch-cutting processes (default 0 on CPU, up to 8 on CUDA)."),
    backend: str = typer.Option("torch", "--backend", help="torch (custom loop) or tensorflow (Keras fit)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT.ckpt."),
    nproc: int = typer.Option(
        1, "--nproc", help="Training processes on this machine (torch DDP; gloo on the CPU), each taking an equal share "
        "of every step's batch. Several machines: torchrun ... -m zoo train ... (without --nproc).",
    ),
) -> None:
    """Train a model on patches of full-size photos with synthetic noise; writes weights and a card."""
    with reported():
        from pydantic import ValidationError

        from zoo.training.config import TrainConfig

        try:
            cfg = TrainConfig(model=model, preset=preset, channels=channels, data=tuple(str(d) for d in data),
                              holdout=holdout, noise=noise, patch=patch, batch=batch, steps=steps, lr=lr, loss=loss,
                              seed=seed, init=init, grow=grow, noise_map=noise_map, map_drop=map_drop,
                              map_vary=map_vary, ema=ema, val_every=val_every, threads=threads, device=device,
                              precision=precision, workers=workers)
        except ValidationError as exc:  # a bad option value: one line naming it, as the CLI's own checks give
            error = exc.errors()[0]
            option = f"--{str(error['loc'][0]).replace('_', '-')}: " if error["loc"] else ""  # else it names its options
            raise ZooError(option + error["msg"].removeprefix("Value error, ")) from None
        command = _command_line(cfg, out, backend)
        try:
            card = _run(cfg, out, resume, backend, command, nproc)
        except KeyboardInterrupt as exc:
            from zoo.training.loop import TrainingInterrupted

            if not isinstance(exc, TrainingInterrupted):
                raise
            console.err.print(f"interrupted at step {exc.step} of {cfg.steps}: checkpoint {exc.checkpoint} written; "
                              f"resume with: {command} --resume", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
        if card:  # ranks other than 0 of a torchrun write and say nothing
            _print_card(card, out)


def _command_line(cfg, out: Path, backend: str) -> str:
    """The full command that reproduces this run (every option spelled out, whatever the caller typed)."""
    from zoo.training.card import portable  # imported when training: it brings scipy

    options = {"preset": cfg.preset, "data": tuple(portable(d) for d in cfg.data), "out": portable(str(out)),
               "noise": cfg.noise, "patch": cfg.patch,
               "batch": cfg.batch, "steps": cfg.steps, "lr": cfg.lr, "loss": cfg.loss, "channels": cfg.channels,
               "holdout": cfg.holdout, "val-every": cfg.val_every, "seed": cfg.seed, "init": cfg.init and portable(cfg.init),
               "grow": cfg.grow or None, "noise-map": cfg.noise_map or None,
               "map-drop": cfg.map_drop if cfg.noise_map else None,
               "map-vary": cfg.map_vary if cfg.noise_map else None, "ema": cfg.ema, "device": cfg.device,
               "precision": cfg.precision, "backend": backend}
    args = [f"--{k}" if v is True else f"--{k} {shlex.quote(str(v))}" for k, values in options.items()
            if values is not None for v in (values if k == "data" else (values,))]
    return f"zoo train {cfg.model} " + " ".join(args)


def _run(cfg, out: Path, resume: bool, backend: str, command: str, nproc: int = 1) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from zoo.training import parallel

    if nproc != 1 and (backend == "tensorflow" or nproc < 1 or parallel.from_env().world > 1):
        raise ZooError(f"--nproc {nproc}: " + ("Keras fit trains in one process; use --backend torch" if backend == "tensorflow"
                       else "give at least 1" if nproc < 1 else "torchrun starts the processes here; leave --nproc out"))
    parallel.check_batch(cfg.batch, max(nproc, parallel.from_env().world))  # before the progress display starts

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=console.err, disable=not parallel.from_env().main, transient=True) as progress:
        task = progress.add_task(f"train {cfg.model}", total=cfg.steps, info="")

        def on_step(step: int, metrics: dict) -> None:
            info = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            progress.update(task, completed=step, info=info)
            if "val_psnr" in metrics:  # one log line per validation, also when stderr is a file
                progress.console.print(f"step {step}: {info}", highlight=False)

        if backend == "tensorflow":
            from zoo.training.keras_fit import train_keras

            return train_keras(cfg, out, on_step=on_step, command=command)
        from zoo.training.loop import train as train_torch

        if nproc > 1:
            return _processes(cfg, out, resume, on_step, command, nproc)
        return train_torch(cfg, out, resume=resume, on_step=on_step, command=command)


def _processes(cfg, out: Path, resume: bool, on_step, command: str, nproc: int) -> dict:
    """--nproc N: this process is rank 0 (it reports and writes), N-1 helpers train beside it."""
    from zoo.training import parallel
    from zoo.training.loop import train as train_torch

    parallel.check_batch(cfg.batch, nproc)
    group, helpers = parallel.start(nproc, train_torch, cfg, out, resume, None, command)
    failed = True
    try:
        card = train_torch(cfg, out, resume=resume, on_step=on_step, command=command, group=group)
        failed = False
        return card
    finally:
        parallel.stop(helpers, failed)


def _print_card(card: dict, out: Path) -> None:
    metrics = ", ".join(f"{k}={v}" for k, v in card["metrics"].items())
    console.out.print(f"wrote {out.with_suffix('.safetensors')} (sha256 {card['sha256'][:12]}...): {metrics}",
                  highlight=False, soft_wrap=True)


def add_commands(app: typer.Typer) -> None:
    app.command("train")(train)
