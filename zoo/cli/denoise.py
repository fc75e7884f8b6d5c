"""`zoo denoise`: files, folders and globs through the tiled engine, each output written atomically."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import threading
import time
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from registry.errors import ZooError
from zoo import api
from zoo.cli.console import reported, say
from zoo.weights.names import DEFAULT_MODEL, output_label


def denoise(
    inputs: Optional[List[str]] = typer.Argument(None, help="Image files, directories or globs (or --files-from)."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m",
        help=f"MODEL or MODEL:TAG (default {DEFAULT_MODEL}, or what the --weights file says it is).",
    ),
    backend: str = typer.Option(
        "auto", "--backend",
        help="auto (the fastest installed for the model and precision; -v says which), torch, tensorflow, onnx, openvino.",
    ),
    weights: Optional[str] = typer.Option(None, "--weights", help="Path, bundled:FILE or hf://ORG/REPO/FILE@REV."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Config preset (when no pretrained card fixes it)."),
    sigma: Optional[float] = typer.Option(None, "--sigma", help="Noise sigma (0-255) for models that use one: "
                                         "FFDNet and CBM3D (else they estimate it) and the *_map tags (else they run blind)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file (one input only)."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Folder for outputs (created if needed)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs (never an input)."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders."),
    name_template: str = typer.Option(
        "{stem}_denoised-{model}{ext}", "--name-template",
        help="Output file name: {stem}, {name}, {ext}, {model} (with --out-dir or beside the input).",
    ),
    max_memory: str = typer.Option(
        "auto", "--max-memory",
        help="Model working memory; sets the tile size (e.g. 512M, 2G; auto: a quarter of free memory, 1-1.5G).",
    ),
    precision: str = typer.Option(
        "fp32", "--precision", help="fp32, bf16 (faster where the CPU has bf16), or int8 (onnx, openvino; calibrated).",
    ),
    compile_model: bool = typer.Option(
        False, "--compile", help="torch.compile / XLA: faster on big photos and batches, after a one-off compile.",
    ),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: the framework's, all cores)."),
    tile: Optional[int] = typer.Option(None, "--tile", help="Tile side in pixels (overrides --max-memory)."),
    ensemble: bool = typer.Option(False, "--ensemble", help="Average the 8 flips/rotations (x8 time): --views 8."),
    views: int = typer.Option(
        1, "--views", metavar="N",
        help="Average the model over N views of the photo, at N times the time: 2 (the photo and it turned 180 "
             "degrees), 4 (the four turns) or 8 (each also mirrored).",
    ),
    strength: str = typer.Option(
        "1", "--strength", metavar="S",
        help="0-1: how much of the denoise to keep (0: the input, 0.5: the mean of input and output, 1: the output).",
    ),
    chroma_strength: Optional[str] = typer.Option(
        None, "--chroma-strength", metavar="S",
        help="0-1: the same for colour noise only (YCbCr chroma; luma keeps --strength). Default: --strength.",
    ),
    compare: bool = typer.Option(
        False, "--compare",
        help="Also write NAME_compare-MODEL.png beside each output: input and output crops at 100%, where it is noisiest.",
    ),
    quality: Optional[str] = typer.Option(
        None, "--quality", metavar="Q",
        help="1-100: JPEG and WebP outputs at this quality (JPEG: the input's chroma subsampling when it is a JPEG, "
             "else 4:4:4; a lossless WebP input stays lossless). Default: a JPEG input's own quality (its quantisation "
             "tables), else JPEG 95 4:4:4; WebP lossless.",
    ),
    allow_large: bool = typer.Option(False, "--allow-large", help="Lift the decompression-bomb pixel limit."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickled (.pt/.pth) weights."),
    offline: bool = typer.Option(False, "--offline", help="Hub weights from the cache only, no network."),
    device: str = typer.Option("cpu", "--device", help="cpu, or cuda / cuda:N for torch backends on a GPU."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be written (and skipped), load and run nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no 'wrote' lines: only errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also the model and backend, and each file's size and time."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per file on stdout (input, output, model, seconds, status)."),
    files_from: Optional[Path] = typer.Option(
        None, "--files-from", metavar="LIST", help="Also the files LIST names, one path per line (taken literally, no globs).",
    ),
    engine: str = typer.Option("local", "--engine", help="local (this process) or ray: a pool of Ray workers, the model loaded once in each."),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", help="--engine ray: auto, ray://HOST:PORT or HOST:PORT (default: a local Ray sized to this machine).",
    ),
    workers: Optional[int] = typer.Option(None, "--workers", help="--engine ray: worker count (default: the cluster's CPUs / --cpus-per-worker)."),
    cpus_per_worker: float = typer.Option(1.0, "--cpus-per-worker", help="--engine ray: CPUs, and threads, per worker."),
) -> None:
    """Denoise photos; by default each output is written beside its input as NAME_denoised-MODEL.EXT."""
    try:
        with _sigterm_raises(), reported():
            _denoise(inputs, model, output, out_dir, overwrite, recursive, name_template, threads,
                     options=(sigma, max_memory, tile, _views(ensemble, views), allow_large),
                     mix=(strength, chroma_strength, compare),
                     load={"backend": backend, "weights": weights, "preset": preset, "trust_pickle": trust_pickle,
                           "offline": offline or None, "precision": precision, "compile": compile_model},
                     device=device, dry_run=dry_run, view=View(quiet, verbose, as_json),
                     scale=Scale(engine, ray_address, workers, cpus_per_worker, files_from), quality=quality)
    except Terminated:
        say("terminated; no partial output was left", stderr=True)
        raise typer.Exit(128 + signal.SIGTERM) from None


def _views(ensemble: bool, views: int) -> int:
    from zoo.inference.engine import VIEWS

    if views not in VIEWS:
        raise ZooError(f"--views takes {', '.join(map(str, VIEWS))} (views of the photo averaged), got {views}")
    if ensemble and views not in (1, 8):
        raise ZooError(f"--ensemble is --views 8: give one of --ensemble and --views {views}")
    return 8 if ensemble else views


def _denoise(inputs, model, output, out_dir, overwrite, recursive, name_template, threads, options, load,
             device="cpu", dry_run=False, view=None, scale=None, mix=("1", None, False), quality=None) -> None:
    view = view or View()
    from zoo.inference import batch, strength

    amounts = view.mix = strength.check(*mix[:2])  # a bad value is the command's own mistake: refused first
    label = output_label(model, load["weights"], strength.describe(*amounts))
    batch.check_template(name_template, label)  # the command's own mistakes: before anything runs
    batch.check_output(output)
    run_options = batch.make_options(*options, *amounts, compare=label if mix[2] else None, quality=quality)
    _check_values(model, load, device)
    if threads is not None:
        from zoo.inference import runtime

        runtime.set_threads(threads)
    scale = scale or Scale()
    scale.check(inputs)
    jobs = batch.expand_inputs(inputs or [], recursive) + (batch.files_from(scale.files_from) if scale.files_from else [])
    if not jobs:
        raise ZooError("no images found in the given inputs")
    if dropped := batch.plan(jobs, label, output, out_dir, overwrite, name_template, compare_images=mix[2]):
        where = "in the output folder" if out_dir or output else "beside the inputs"
        say(f"ignored {dropped} earlier output(s) of this command found {where} "
            "(name them explicitly to denoise them)", stderr=True)
        if not jobs:
            raise ZooError("no images to denoise: the inputs hold only earlier outputs of this command")
    if dry_run:
        return _dry_run(jobs)
    if all(job.error or job.skipped for job in jobs):
        return _finish(jobs, view, label)
    if scale.engine == "ray":
        return _on_ray(jobs, model, load, device, run_options, view, label, scale)
    denoiser = api.load(model, **load)
    if device != "cpu":
        _to_device(denoiser, device)
    if view.verbose:
        picked = " by --backend auto" if load["backend"] == "auto" else ""
        say(f"model {denoiser.architecture} ({denoiser.backend}{picked}, {load['precision']}, {device}), "
            f"{type(denoiser.config).__name__}: {denoiser.config.model_dump()}", stderr=True)
    start = time.perf_counter()
    with batch.BatchProgress(jobs, enabled=None if not (view.quiet or view.json) else False) as progress:
        batch.run_jobs(denoiser, jobs, run_options, lambda job: _report(job, view, progress, label), progress)
    _finish(jobs, view, label, reported=True, wall=time.perf_counter() - start)


def _on_ray(jobs, model, load, device, run_options, view, label, scale) -> None:
    """--engine ray: the planned batch through a pool of Ray workers (zoo.distributed)."""
    from zoo import distributed
    from zoo.inference import batch

    spec = distributed.ModelSpec(model, load, device)
    start = time.perf_counter()  # the batch's wall time, Ray's start included: workers overlap
    with distributed.session(scale.address, quiet=not view.verbose) as resources:
        with batch.BatchProgress(jobs, enabled=None if not (view.quiet or view.json) else False) as progress:
            distributed.run_jobs(jobs, spec, run_options, label, resources, scale.workers, scale.cpus,
                                 scale.address is None, lambda job: _report(job, view, progress, label), progress)
    _finish(jobs, view, label, reported=True, wall=time.perf_counter() - start)


class Scale:
    """Which engine runs the batch (--engine and its Ray options), and --files-from."""

    def __init__(self, engine: str = "local", address: str | None = None, workers: int | None = None,
                 cpus: float = 1.0, files_from: Path | None = None) -> None:
        self.engine, self.address, self.workers, self.cpus, self.files_from = engine, address, workers, cpus, files_from

    def check(self, inputs) -> None:
        """Refuse a wrong engine, Ray options without it, or no inputs at all: before any file is read."""
        if self.engine not in ("local", "ray"):
            raise ZooError(f"--engine takes local or ray, got {self.engine!r}")
        if self.engine == "local" and (self.address or self.workers is not None or self.cpus != 1.0):
            raise ZooError("--ray-address, --workers and --cpus-per-worker go with --engine ray")
        if not inputs and self.files_from is None:
            raise ZooError("give image files, folders or globs, or --files-from LIST")


def _check_values(model: str | None, load: dict, device: str) -> None:
    """Option values that are wrong whatever the files: refused before any file is looked at."""
    from registry.denoiser import PRECISIONS
    from registry.manager import get_registry
    from zoo.weights.names import parse_model

    if load["precision"] not in (*PRECISIONS, "int8"):
        raise ZooError(f"--precision takes {', '.join(PRECISIONS)}, int8, got {load['precision']!r}")
    if load["backend"] == "auto" and (device != "cpu" or load["compile"]):
        load["backend"] = None  # a GPU, or --compile: the architecture's own framework (torch, Keras)
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise ZooError(f"--device takes cpu, cuda or cuda:N, got {device!r}")
    model = model or (None if load["weights"] else DEFAULT_MODEL)
    if model and not model.startswith("hf://") and "/" not in model and not model.startswith("."):
        arch = get_registry().get(parse_model(model)[0])  # an unknown model is one line here
        generic = {"auto", "onnx", "openvino"}  # runtimes any architecture with a torch backend gets
        if load["backend"] not in (None, *arch.backends, *generic):
            raise ZooError(f"{arch.name} has no {load['backend']!r} backend; it has: {', '.join(arch.backends)}")


def _to_device(denoiser, device: str) -> None:
    if not hasattr(denoiser, "to"):
        raise ZooError(f"--device {device}: the {denoiser.backend} backend runs on the CPU here; use --backend torch")
    try:
        denoiser.to(device)
    except (RuntimeError, AssertionError) as exc:  # e.g. a CPU-only torch build
        raise ZooError(f"--device {device}: {str(exc).splitlines()[0]}") from None


def _dry_run(jobs) -> None:
    """What a run would do, one line per file, and nothing more: no model is loaded."""
    for job in jobs:
        if job.error:
            say(f"would fail: {job.error}")
        elif job.skipped:
            say(f"would skip: {job.skipped}")
        else:
            note = f" ({job.note.split(': ', 1)[-1]})" if job.note else ""
            also = f" and {job.compare}" if job.compare else ""
            say(f"would write {job.target}{also}{note}")
    say(f"dry run: {sum(not (j.error or j.skipped) for j in jobs)} of {len(jobs)} image(s) would be denoised; "
        "nothing was loaded or written", stderr=True)


class Terminated(BaseException):
    """SIGTERM as an exception, so that the temp file being written is removed on the way out.

    Not an Exception (nothing may swallow it) nor a KeyboardInterrupt (exit 143, not 130).
    """


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While denoising, SIGTERM raises Terminated in the main thread (once: a second one during
    the clean-up is ignored); the previous handler is put back afterwards."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        yield
        return

    def handler(signum, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


class View:
    """How much `zoo denoise` says: --quiet (errors only), -v (more), --json (one record per file)."""

    def __init__(self, quiet: bool = False, verbose: bool = False, as_json: bool = False) -> None:
        self.quiet, self.verbose, self.json = quiet, verbose, as_json
        self.mix: tuple[float, float | None] = (1.0, None)  # --strength, --chroma-strength: in each record


def _record(job, label: str, mix: tuple = (1.0, None)) -> dict:
    status = "failed" if job.error else "skipped" if job.skipped else "written"
    return {"input": str(job.source), "output": str(job.target) if job.target else None, "model": label,
            "strength": mix[0], "chroma_strength": mix[0] if mix[1] is None else mix[1],
            "compare": str(job.compare) if job.compare else None,
            "seconds": None if job.seconds is None else round(job.seconds, 3), "status": status,
            "error": job.error or job.skipped}


def _report(job, view: View, progress, label: str) -> None:
    """One file's line as it finishes: through the progress display, never across it."""
    if view.json:
        return progress.say(json.dumps(_record(job, label, view.mix)))
    if view.quiet or job.error is not None or job.skipped is not None:
        return
    note = f" ({job.note.split(': ', 1)[-1]})" if job.note else ""
    timing = f" ({job.seconds:.1f} s)" if view.verbose and job.seconds is not None else ""
    also = f" and {job.compare}" if job.compare else ""
    progress.say(f"wrote {job.target}{also}{note}{timing}")


def _finish(jobs, view: View | None = None, label: str = "", reported: bool = False, wall: float | None = None) -> None:
    view = view or View()
    if view.json and not reported:  # nothing ran: every file was skipped or refused while planning
        for job in jobs:
            say(json.dumps(_record(job, label, view.mix)))
    failed = [job for job in jobs if job.error]
    if len(jobs) == 1 and (failed or jobs[0].skipped) and not view.json:  # one input: a skip is the answer
        raise ZooError(jobs[0].error or jobs[0].skipped)
    from zoo.inference import batch

    lines, code = batch.summary(jobs, always=view.verbose, wall=wall)
    for line in lines if not view.quiet else [ln for ln in lines if ln.startswith("failed:")]:
        say(line, stderr=True)
    if code:
        raise typer.Exit(code)


def add_commands(app: typer.Typer) -> None:
    app.command()(denoise)
