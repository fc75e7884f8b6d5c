"""Batches of files: expand inputs, name outputs safely, denoise, and keep going past bad files.

A job ends in one of three states: written (``target`` set, no ``error``/``skipped``), skipped
(its output exists and ``--overwrite`` was not given) or failed (``error``: one line). A bad file
never stops the batch; :func:`summary` gives the closing lines and the exit code.
"""

from __future__ import annotations

import glob
import os
import re
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from registry.denoiser import Denoiser
from registry.errors import ImageWriteError, ZooError
from zoo.inference import engine
from zoo.photo.imageio import DEFAULT_MAX_PIXELS, FORMATS, read_image, write_image

DEFAULT_TEMPLATE = "{stem}_denoised-{model}{ext}"
TEMPLATE_FIELDS = ("stem", "name", "ext", "model")


@dataclass
class Job:
    """One input and where its output goes; ``error`` is set when it cannot or did not run.

    ``base`` is the folder the input was found in when a directory was given, so that outputs of
    a recursive walk keep their sub-folders under ``--out-dir``.
    """

    source: Path
    target: Path | None = None
    error: str | None = None
    skipped: str | None = None
    base: Path | None = None
    found: bool = False  # came from a folder or a glob, not named on the command line


@dataclass(frozen=True)
class Options:
    """How each image is run: the engine's knobs and the decompression-bomb limit."""

    sigma: float | None = None
    max_memory: int | None = None  # None: engine.auto_memory()
    tile: int | None = None
    ensemble: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS


def make_options(
    sigma: float | None = None, max_memory: str = "auto", tile: int | None = None, ensemble: bool = False,
    allow_large: bool = False,
) -> Options:
    """Options from command-line values; raise ZooError on a bad memory size or tile."""
    if tile is not None and tile < 8:
        raise ZooError(f"--tile {tile} is too small; give at least 8 pixels")
    limit = None if allow_large else DEFAULT_MAX_PIXELS
    return Options(sigma, engine.parse_memory(max_memory), tile, ensemble, limit)


# -- inputs and outputs


def expand_inputs(inputs: list[str], recursive: bool = False) -> list[Job]:
    """Files, directories (their images) and globs, in order; unmatched ones become failed jobs."""
    jobs: list[Job] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            jobs += [Job(p, base=path, found=True) for p in _images_in(path, recursive)]
        elif path.exists() or not glob.has_magic(item):
            jobs.append(Job(path, error=None if path.exists() else f"no such file: {item}"))
        else:
            matches = sorted(Path(p) for p in glob.glob(item, recursive=recursive))
            jobs += [Job(p, found=True) for p in matches if p.is_file()] or [Job(path, error=f"no file matches {item}")]
    return jobs


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return [p for p in sorted(folder.glob(pattern)) if p.suffix.lower() in FORMATS and p.is_file()]


def check_template(template: str) -> str:
    """Validate a file-name template; raise ZooError naming the fields it may use."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ZooError(f"bad --name-template {template!r}: {exc}") from exc
    unknown = names - set(TEMPLATE_FIELDS)
    if unknown or not names & {"stem", "name"}:
        fields = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
        raise ZooError(f"bad --name-template {template!r}: use {fields}, including {{stem}} or {{name}}")
    return template


def drop_own_outputs(jobs: list[Job], label: str, template: str = DEFAULT_TEMPLATE) -> int:
    """Remove, in place, files found in folders or globs whose names this command's naming would
    give an output (``x_denoised-mwrcanet.png`` for ``--model mwrcanet``), so that running the same
    command again does not denoise its earlier outputs; files named explicitly always run. Returns
    how many were removed."""
    check_template(template)
    own = re.compile(_template_regex(template, label))
    kept = [job for job in jobs if not (job.found and own.fullmatch(job.source.name))]
    dropped = len(jobs) - len(kept)
    jobs[:] = kept
    return dropped


def _template_regex(template: str, label: str) -> str:
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append({"model": re.escape(label), "ext": r"\.[^.]+"}.get(field, ".+"))
    return "".join(parts)


def plan_outputs(
    jobs: list[Job], label: str, output: Path | None, out_dir: Path | None, overwrite: bool,
    template: str = DEFAULT_TEMPLATE,
) -> None:
    """Set each job's target; mark it skipped (exists) or failed (unsafe, duplicate, unwritable)."""
    if output is not None and len(jobs) > 1:
        raise ZooError("-o/--output takes a single input; use --out-dir for several")
    check_template(template)
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.error:
            continue
        job.target = output or _target(job, label, out_dir, template)
        job.error = _duplicate(job, seen) or _unsafe(job.source, job.target)
        if job.error is None and job.target.exists() and not overwrite:
            job.skipped = f"output {job.target} exists; pass --overwrite to replace it"


def _target(job: Job, label: str, out_dir: Path | None, template: str) -> Path:
    name = template.format(stem=job.source.stem, model=label, ext=job.source.suffix, name=job.source.name)
    if out_dir is None:
        return job.source.parent / name
    sub = job.source.parent.relative_to(job.base) if job.base else Path()
    _make_dir(out_dir / sub)
    return out_dir / sub / name


def _duplicate(job: Job, seen: dict[Path, Path]) -> str | None:
    key = job.target.resolve()
    if key in seen:
        return f"output {job.target} is also the output of {seen[key]}; change --name-template"
    seen[key] = job.source
    return None


def _make_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from exc


def _unsafe(source: Path, target: Path) -> str | None:
    if target.exists() and source.exists() and os.path.samefile(source, target):
        return f"output {target} is the input; it is never overwritten, choose another output"
    if target.is_dir():
        return f"output {target} is a directory; use --out-dir for a folder"
    if not target.parent.is_dir():
        return f"cannot write {target}: folder {target.parent} does not exist"
    if not os.access(target.parent, os.W_OK):
        return f"cannot write {target}: folder {target.parent} is not writable"
    return None


# -- running


def run_jobs(
    denoiser: Denoiser, jobs: list[Job], options: Options = Options(),
    on_done: Callable[[Job], None] = lambda job: None, progress: "BatchProgress | None" = None,
) -> list[Job]:
    """Denoise every runnable job; a failing file is recorded and the batch goes on.

    Ctrl-C propagates: the output being written is a temp file that is removed, so no partial
    output survives.
    """
    for job in jobs:
        if job.error is None and job.skipped is None:
            if progress is not None:
                progress.start_file(job)
            job.error = _run_one(denoiser, job, options, progress)
        if progress is not None:
            progress.end_file()
        on_done(job)
    return [job for job in jobs if job.error]


def _run_one(denoiser: Denoiser, job: Job, options: Options, progress: "BatchProgress | None") -> str | None:
    try:
        photo = read_image(job.source, max_pixels=options.max_pixels)
        pixels = engine.run(
            denoiser, photo.pixels, options.sigma, max_memory=options.max_memory, tile=options.tile,
            ensemble=options.ensemble, progress=progress.tiles if progress else None,
        )
        write_image(job.target, photo.with_pixels(pixels))
    except ZooError as exc:
        return str(exc)
    except MemoryError:
        return f"{job.source}: out of memory; lower --max-memory or close other programs"
    return None


def summary(jobs: list[Job]) -> tuple[list[str], int]:
    """Closing lines (skips, failures, counts) and the exit code: 1 when any file failed."""
    failed = [j for j in jobs if j.error]
    skipped = [j for j in jobs if j.skipped and not j.error]
    lines = [f"skipped: {j.skipped}" for j in skipped] + [f"failed: {j.error}" for j in failed]
    written = len(jobs) - len(failed) - len(skipped)
    if len(jobs) > 1 or skipped:
        skips = f", {len(skipped)} skipped" if skipped else ""
        lines.append(f"{written} of {len(jobs)} images denoised{skips}, {len(failed)} failed")
    return lines, 1 if failed else 0


class BatchProgress:
    """A rich progress bar on stderr with one row for files and one for the current file's tiles.

    Hidden when stderr is not a terminal, so logs and pipes stay clean.
    """

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True, disable=not enabled,
        )
        self.files = self.bar.add_task("files", total=total)
        self.tile_task = self.bar.add_task("tiles", total=None)

    def __enter__(self) -> BatchProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def start_file(self, job: Job) -> None:
        self.bar.reset(self.tile_task, total=None, description=f"tiles of {job.source.name}")

    def tiles(self, done: int, total: int) -> None:
        self.bar.update(self.tile_task, completed=done, total=total)

    def end_file(self) -> None:
        self.bar.advance(self.files)
