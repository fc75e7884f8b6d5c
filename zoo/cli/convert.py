"""`zoo convert`: a thin command over zoo.weights.convert (imported when the command runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from zoo.cli.console import out, reported


def convert(
    src: Path = typer.Argument(..., help="Source weights: .safetensors, .pt/.pth or .weights.h5."),
    dst: Path = typer.Argument(..., help="Target file; its suffix picks the format."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Architecture (needed for .weights.h5; checks .pt)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Config preset the weights belong to."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing target."),
) -> None:
    """Convert canonical .safetensors weights to a backend's native format (.pt, .weights.h5) or back."""
    from zoo.weights.convert import convert as run_convert

    with reported():
        written = run_convert(src, dst, model=model, preset=preset, overwrite=overwrite)
        out.print(f"wrote {written}", highlight=False, soft_wrap=True)


def add_commands(app: Any) -> None:
    app.command("convert")(convert)
