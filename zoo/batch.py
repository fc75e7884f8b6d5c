"""Batches of files: expand inputs, name outputs safely, denoise, and keep going past bad files."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from registry.denoiser import Denoiser
from registry.errors import ImageReadError, ImageWriteError, ZooError
from zoo import engine
from zoo.imageio import FORMATS, DEFAULT_MAX_PIXELS, read_image, write_image

DEFAULT_TEMPLATE = "{stem}_denoised-{model}{ext}"


@dataclass
class Job:
    """One input and where its output goes; ``error`` is set when it cannot or did not run."""

    source: Path
    target: Path | None = None
    error: str | None = None


def expand_inputs(inputs: list[str], recursive: bool = False) -> list[Job]:
    """Files, directories (their images) and globs, in order; unmatched ones become failed jobs."""
    jobs: list[Job] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            jobs += [Job(p) for p in sorted(path.glob(pattern)) if p.suffix.lower() in FORMATS and p.is_file()]
        elif path.exists() or not glob.has_magic(item):
            jobs.append(Job(path, error=None if path.exists() else f"no such file: {item}"))
        else:
            matches = sorted(Path(p) for p in glob.glob(item, recursive=recursive))
            jobs += [Job(p) for p in matches] or [Job(path, error=f"no file matches {item}")]
    return jobs


def plan_outputs(
    jobs: list[Job], label: str, output: Path | None, out_dir: Path | None, overwrite: bool,
    template: str = DEFAULT_TEMPLATE,
) -> None:
    """Set each job's target, or its error when the target is unsafe (input, exists, unwritable)."""
    if output is not None and len(jobs) > 1:
        raise ZooError("-o/--output takes a single input; use --out-dir for several")
    if out_dir is not None:
        _make_dir(out_dir)
    for job in jobs:
        if job.error:
            continue
        job.target = output or (out_dir or job.source.parent) / _name(job.source, label, template)
        job.error = _unsafe(job.source, job.target, overwrite)


def _name(source: Path, label: str, template: str) -> str:
    return template.format(stem=source.stem, model=label, ext=source.suffix, name=source.name)


def _make_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from exc


def _unsafe(source: Path, target: Path, overwrite: bool) -> str | None:
    if target.exists() and source.exists() and os.path.samefile(source, target):
        return f"output {target} is the input; it is never overwritten, choose another output"
    if target.is_dir():
        return f"output {target} is a directory; use --out-dir for a folder"
    if target.exists() and not overwrite:
        return f"output {target} exists; pass --overwrite to replace it"
    if not target.parent.is_dir():
        return f"cannot write {target}: folder {target.parent} does not exist"
    if not os.access(target.parent, os.W_OK):
        return f"cannot write {target}: folder {target.parent} is not writable"
    return None


def run_jobs(
    denoiser: Denoiser, jobs: list[Job], sigma: float | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS, on_done: Callable[[Job], None] = lambda job: None,
) -> list[Job]:
    """Denoise every runnable job; a failing file is recorded and the batch goes on."""
    for job in jobs:
        if job.error is None:
            try:
                photo = read_image(job.source, max_pixels=max_pixels)
                write_image(job.target, photo.with_pixels(engine.run(denoiser, photo.pixels, sigma)))
            except (ImageReadError, ImageWriteError) as exc:
                job.error = str(exc)
        on_done(job)
    return [job for job in jobs if job.error]
