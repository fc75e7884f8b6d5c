"""Batches of files: denoise planned jobs, publish outputs safely, and keep going past bad files.

Inputs and output paths are planned first (:mod:`zoo.inference.planning`, re-exported here).

A job ends in one of three states: written (``target`` set, no ``error``/``skipped``), skipped
(its output exists and ``--overwrite`` was not given) or failed (``error``: one line). A bad file
never stops the batch; :func:`summary` gives the closing lines and the exit code.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from registry.denoiser import Denoiser
from registry.errors import ImageWriteError, ZooError
from zoo import atomic
from zoo.inference import compare, engine
from zoo.inference import strength as mix
from zoo.inference.planning import (  # noqa: F401  (the batch's planning, re-exported)
    DEFAULT_TEMPLATE, TEMPLATE_FIELDS, Job, check_output, check_template, drop_own_outputs, expand_inputs,
    files_from, not_regular, plan_outputs,
)
from zoo.photo.coding import check_quality
from zoo.photo.imageio import DEFAULT_MAX_PIXELS, FORMATS, Photo, read_image, write_image


@dataclass(frozen=True)
class Options:
    """How each image is run: the engine's knobs and the decompression-bomb limit."""

    sigma: float | None = None
    max_memory: int | None = None  # None: engine.auto_memory()
    tile: int | None = None
    ensemble: int = 1  # views averaged (engine.VIEWS): 1 is none
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    # the run's tag in temp names, for engines that retry a file (atomic.run_temp_path); keyword-only
    temp_tag: str | None = field(default=None, kw_only=True)
    strength: float = 1.0  # zoo.inference.strength: the mix of input and output
    chroma_strength: float | None = None
    compare: str | None = None  # write each job's compare image, captioned with this model label
    quality: int | None = None  # JPEG and WebP outputs (zoo.photo.coding); None: the input's JPEG tables kept


def plan(jobs: list[Job], label: str, output: Path | None, out_dir: Path | None, overwrite: bool,
         template: str = DEFAULT_TEMPLATE, compare_images: bool = False) -> int:
    """Plan a batch as `zoo denoise` and the Ray engine do: drop, in place, the inputs that are
    earlier outputs or compare images of this label, then plan each job's output and, with
    ``compare_images``, its compare image. Returns how many inputs were dropped."""
    dropped = drop_own_outputs(jobs, label, template, out_dir, output) + compare.drop_compares(jobs, label)
    plan_outputs(jobs, label, output, out_dir, overwrite, template)
    if compare_images:
        compare.plan(jobs, label, overwrite)
    return dropped


def make_options(
    sigma: float | None = None, max_memory: str = "auto", tile: int | None = None, ensemble: bool | int = False,
    allow_large: bool = False, strength: float = 1.0, chroma_strength: float | None = None,
    compare: str | None = None, quality: str | int | None = None,
) -> Options:
    """Options from command-line values; raise ZooError on a bad memory size, tile, strength or quality."""
    if tile is not None and tile < 8:
        raise ZooError(f"--tile {tile} is too small; give at least 8 pixels")
    strength, chroma_strength = mix.check(strength, chroma_strength)
    limit = None if allow_large else DEFAULT_MAX_PIXELS
    return Options(sigma, engine.parse_memory(max_memory), tile, engine.views(ensemble), limit, strength, chroma_strength, compare,
                   check_quality(quality))


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
            run_job(denoiser, job, options, progress)
        if progress is not None:
            progress.end_file()
        on_done(job)
    return [job for job in jobs if job.error]


def run_job(denoiser: Denoiser, job: Job, options: Options = Options(), progress: "BatchProgress | None" = None) -> Job:
    """One planned job, read -> engine -> atomic write, in place: ``error`` (one line) or the output,
    and ``seconds``. Every engine runs its files through here (this loop, a Ray actor)."""
    if job.error is None and job.skipped is None:
        start = time.perf_counter()
        job.error = _run_one(denoiser, job, options, progress)
        job.seconds = time.perf_counter() - start
    return job


def _run_one(denoiser: Denoiser, job: Job, options: Options, progress: "BatchProgress | None") -> str | None:
    try:
        if job.source.exists() and (refused := not_regular(job.source)):  # changed since it was planned?
            return refused
        photo = read_image(job.source, max_pixels=options.max_pixels)
        pixels = engine.run(
            denoiser, photo.pixels, options.sigma, max_memory=options.max_memory, tile=options.tile,
            ensemble=options.ensemble, progress=progress.tiles if progress else None,
        )
        pixels = mix.blend(photo.pixels, pixels, options.strength, options.chroma_strength)
        _write(job, photo.with_pixels(pixels), options.temp_tag, options.quality)
        if options.compare is not None and job.compare is not None:
            compare.write(job.compare, photo.pixels, pixels, options.compare, job.overwrite)
    except ZooError as exc:
        return str(exc)
    except MemoryError:
        return f"{job.source}: out of memory; lower --max-memory or close other programs"
    return None


def _write(job: Job, photo: Photo, tag: str | None = None, quality: int | None = None) -> None:
    """Write the output atomically; without ``--overwrite`` never over a file that appeared since
    the batch was planned (another run writing the same name): that job fails, nothing replaced.

    write_image always replaces, so the no-replace write goes to a hidden temp name beside the
    target (``.NAME.XXXXXXXX.part.EXT``) and is then linked into place here. With a run ``tag``
    the temp name is the run's (:func:`zoo.atomic.run_temp_path`), so a retry clears a dead attempt's.
    """
    if job.overwrite and tag is None:
        write_image(job.target, photo, quality=quality)
        return
    tmp = None
    try:
        tmp = atomic.run_temp_path(job.target, tag) if tag else atomic.temp_path(job.target)
        write_image(tmp, photo, FORMATS.get(job.target.suffix.lower()), quality=quality)
        atomic.publish(tmp, job.target, replace=job.overwrite)
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


def summary(jobs: list[Job], always: bool = False, wall: float | None = None) -> tuple[list[str], int]:
    """Closing lines (skips, failures, counts and time) and the exit code: 1 when any file failed.
    The count line is given for batches, for skips, and with ``always``. The time is ``wall``, the
    batch's elapsed seconds, when given (workers in parallel), else the files' times added up."""
    failed = [j for j in jobs if j.error]
    skipped = [j for j in jobs if j.skipped and not j.error]
    lines = [f"skipped: {j.skipped}" for j in skipped] + [f"failed: {j.error}" for j in failed]
    written = len(jobs) - len(failed) - len(skipped)
    if len(jobs) > 1 or skipped or always:
        skips = f", {len(skipped)} skipped" if skipped else ""
        seconds = wall if wall is not None else sum(j.seconds or 0.0 for j in jobs)
        timing = f" in {seconds:.1f} s" if seconds else ""
        lines.append(f"{written} of {len(jobs)} images denoised{skips}, {len(failed)} failed{timing}")
    return lines, 1 if failed else 0


class BatchProgress:
    """A rich progress display on stderr: the batch in megapixels (so the ETA follows the work, not
    the file count) and the current file's tiles. Messages go through :meth:`say`, above the bars.

    Hidden when stderr is not a terminal, so logs and pipes stay clean.
    """

    def __init__(self, jobs: list[Job], enabled: bool | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        enabled = sys.stderr.isatty() if enabled is None else enabled
        self.enabled = enabled
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
            TimeRemainingColumn(), console=Console(stderr=True), transient=True, disable=not enabled,
        )
        self.sizes = {id(j): megapixels(j.source) for j in jobs if j.error is None and j.skipped is None}
        self.done = 0.0
        self.current = 0.0
        self.total = sum(self.sizes.values()) or 1.0
        self.files = self.bar.add_task(f"{len(self.sizes)} file(s)", total=self.total, detail=self._mp(0.0))
        self.tile_task = self.bar.add_task("tiles", total=None, detail="")

    def __enter__(self) -> BatchProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def say(self, text: str, stderr: bool = False) -> None:
        """A line above the live bars when they show on the same terminal as stdout; otherwise on
        the stream it belongs to (stdout for results), so pipes get whole lines."""
        if self.enabled and (stderr or sys.stdout.isatty()):
            self.bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=sys.stderr if stderr else sys.stdout, flush=True)

    def start_file(self, job: Job) -> None:
        self.current = self.sizes.get(id(job), 0.0)
        self.bar.reset(self.tile_task, total=None, description=f"tiles of {job.source.name}", detail="")

    def tiles(self, done: int, total: int) -> None:
        self.bar.update(self.tile_task, completed=done, total=total, detail=f"{done}/{total}")
        so_far = self.done + self.current * done / max(total, 1)
        self.bar.update(self.files, completed=so_far, detail=self._mp(so_far))

    def end_file(self) -> None:
        self.done += self.current
        self.current = 0.0
        self.bar.update(self.files, completed=self.done, detail=self._mp(self.done))

    def _mp(self, done: float) -> str:
        return f"{done:.1f}/{self.total:.1f} MP"


def megapixels(path: Path) -> float:
    """The photo's size from its header (no decoding); 1 when the header cannot tell."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size[0] * img.size[1] / 1e6
    except Exception:  # RAW files, broken files: the reader reports those; here it is only an estimate
        return 1.0
