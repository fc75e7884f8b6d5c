"""`zoo convert`: a thin command over zoo.weights.convert (imported when the command runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from zoo.cli.console import out, reported

TARGETS = {"onnx": ".onnx", "pt": ".pt", "keras": ".weights.h5", "safetensors": ".safetensors"}


def convert(
    src: Path = typer.Argument(..., help="Source weights: .safetensors, .pt/.pth or .weights.h5."),
    dst: Optional[Path] = typer.Argument(None, help="Target file; its suffix picks the format (or use --to)."),
    to: Optional[str] = typer.Option(None, "--to", help="Target format when DST is left out: onnx, pt, keras or "
                                     "safetensors (written beside SRC)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Architecture (needed for .weights.h5; checks .pt)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Config preset the weights belong to."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing target."),
) -> None:
    """Convert canonical .safetensors weights to a backend's native format (.pt, .weights.h5), an
    ONNX graph (.onnx, `--to onnx`), or back."""
    from registry.errors import ZooError
    from zoo.weights.convert import convert as run_convert

    with reported():
        if dst is None:
            if to not in TARGETS:
                raise ZooError(f"name a target file or --to {'|'.join(TARGETS)}, got {to or 'neither'}")
            stem = src.name[: -len(".weights.h5")] if src.name.endswith(".weights.h5") else src.stem
            dst = src.with_name(stem + TARGETS[to])
        elif to is not None and not dst.name.lower().endswith(TARGETS.get(to, "\0")):
            raise ZooError(f"--to {to} does not match the target {dst.name}")
        written = run_convert(src, dst, model=model, preset=preset, overwrite=overwrite)
        out.print(f"wrote {written}", highlight=False, soft_wrap=True)


def add_commands(app: Any) -> None:
    app.command("convert")(convert)
