"""Batches of files: denoise planned jobs, publish outputs safely, and keep going past bad files.

Inputs and output paths are planned first (:mod:`zoo.inference.planning`, re-exported here).

A job ends in one of three states: written (``target`` set, no ``error``/``skipped``), skipped
(its output exists and ``--overwrite`` was not given) or failed (``error``: one line). A bad file
never stops the batch; :func:`summary` gives the closing lines and the exit code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

from registry.denoiser import Denoiser
from registry.errors import ImageWriteError, ZooError
from zoo import atomic
from zoo.inference import engine
from zoo.inference.planning import (  # noqa: F401  (the batch's planning, re-exported)
    DEFAULT_TEMPLATE, TEMPLATE_FIELDS, Job, check_output, check_template, drop_own_outputs, expand_inputs,
    not_regular, plan_outputs,
)
from zoo.photo.imageio import DEFAULT_MAX_PIXELS, FORMATS, Photo, read_image, write_image


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


# -- running


def run_jobs(
    denoiser: Denoiser, jobs: list[Job], options: Options = Options(),
    on_done: Callable[[Job], None] = lambda job: None, progress: "BatchProgress | None" = None,
) -> list[Job]:
    """Denoise every runnable job; a failing file is recorded and the batch goes on.

    Ctrl-C (and SIGTERM, which ``zoo denoise`` turns into an exception) propagates: the output
    being written is a temp file that is removed, so no partial output survives.
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
        if job.source.exists() and (refused := not_regular(job.source)):  # changed since it was planned?
            return refused
        photo = read_image(job.source, max_pixels=options.max_pixels)
        pixels = engine.run(
            denoiser, photo.pixels, options.sigma, max_memory=options.max_memory, tile=options.tile,
            ensemble=options.ensemble, progress=progress.tiles if progress else None,
        )
        _write(job, photo.with_pixels(pixels))
    except ZooError as exc:
        return str(exc)
    except MemoryError:
        return f"{job.source}: out of memory; lower --max-memory or close other programs"
    return None


def _write(job: Job, photo: Photo) -> None:
    """Write the output atomically; without ``--overwrite`` never over a file that appeared since
    the batch was planned (another run writing the same name): that job fails, nothing replaced.

    write_image always replaces, so the no-replace write goes to a hidden temp name beside the
    target (``.NAME.XXXXXXXX.part.EXT``) and is then linked into place here.
    """
    if job.overwrite:
        write_image(job.target, photo)
        return
    tmp = None
    try:
        tmp = atomic.temp_path(job.target)
        write_image(tmp, photo, FORMATS.get(job.target.suffix.lower()))
        atomic.publish(tmp, job.target, replace=False)
    except FileExistsError:
        raise ImageWriteError(f"output {job.target} appeared while this file was being denoised (another run?); "
                              "it was left as it is, pass --overwrite to replace it") from None
    except ImageWriteError as exc:
        raise ImageWriteError(str(exc).replace(str(tmp), str(job.target)) if tmp else str(exc)) from exc
    except OSError as exc:
        raise ImageWriteError(f"cannot write {job.target}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


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
