"""The Ray engine: a planned batch run by a pool of Ray actors (Ray Data ``map_batches``).

The driver plans the whole batch exactly as the local engine does (:mod:`zoo.inference.planning`);
then only paths travel. A row is one pickled :class:`~zoo.inference.planning.Job` (source, target,
flags); each actor of the pool loads the model once and runs :func:`zoo.inference.batch.run_job` on
its rows (read, engine, atomic write on the file system the workers share) and returns one status
row per file. Pixels never pass through the driver or the object store.

Exactly once: an output is published in one step and never over an existing file (unless
``--overwrite``), and every temp name carries the run's tag (:func:`zoo.atomic.run_temp_path`).
When a worker dies in the middle of a file, Ray restarts the actor and retries its task (Ray
Data's actor pools restart and retry without end); the retry first removes what the dead attempt
left. Each try is counted in a temp file of the run, so a file whose worker dies on every try
fails alone after ``RETRIES`` retries instead of stopping the batch.
Ray is imported by this module only, and this module only when the Ray engine is chosen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import socket
import uuid
from pathlib import Path
from typing import Callable, Iterator

import ray
import ray.data

from registry.denoiser import Denoiser
from registry.errors import ZooError
from zoo import atomic
from zoo.inference import batch, runtime
from zoo.inference.planning import Job

RETRIES = 3  # tries after the first, per file, when its worker dies (Python errors are statuses, not retries)
CRASH_ENV = "ZOO_TEST_RAY_CRASH"  # tests: "NAME@MARKER": the worker dies mid-write of NAME while MARKER is absent
STATUS = ("index", "input", "output", "model", "seconds", "status", "error")
OBJECT_STORE = 200 * 2**20  # a local instance's object store: rows are paths, so a small one is enough


# -- the actors


class Worker:
    """One actor of the pool: loads the model once, then runs its rows' jobs one by one."""

    def __init__(self, load: Callable[[], Denoiser], options: batch.Options, label: str,
                 threads: int | None = None, crash: str | None = None) -> None:
        if threads:
            runtime.set_threads(threads)
        self.denoiser, self.options, self.label, self.crash = load(), options, label, crash

    def __call__(self, rows: dict) -> dict:
        statuses = [self.run(int(i), pickle.loads(raw)) for i, raw in zip(rows["index"], rows["job"])]
        return {key: [s[key] for s in statuses] for key in STATUS}

    def run(self, index: int, job: Job) -> dict:
        if job.error is None and job.skipped is None:
            if not job.overwrite and job.target.exists():  # a retry after the publish, or another run
                job.skipped = (f"output {job.target} exists (written by an earlier try of this file or by another "
                               "run); pass --overwrite to replace it")
            elif (tries := atomic.count_try(job.target, self.options.temp_tag or "norun")) > RETRIES + 1:
                job.error = f"{job.source}: its Ray worker died {tries - 1} times on this file; not written"
            else:
                self._test_crash(job)
                batch.run_job(self.denoiser, job, self.options)
            atomic.remove_run_temps(job.target, self.options.temp_tag or "norun")
        return status(index, job, self.label)

    def _test_crash(self, job: Job) -> None:
        """The tests' killed worker: die as if killed while writing, leaving a temp file."""
        name, _, marker = (self.crash or "").partition("@")
        if name == job.source.name and not os.path.exists(marker):
            Path(marker).touch()
            atomic.run_temp_path(job.target, self.options.temp_tag or "test")
            os._exit(1)


def status(index: int, job: Job, label: str) -> dict:
    """A job's status row: the fields of ``zoo denoise --json`` and its index in the batch."""
    state = "failed" if job.error else "skipped" if job.skipped else "written"
    return {"index": index, "input": str(job.source), "output": str(job.target) if job.target else None,
            "model": label, "seconds": job.seconds, "status": state, "error": job.error or job.skipped}


# -- the dataset


def denoise_jobs(
    jobs: list[Job], load: Callable[[], Denoiser], options: batch.Options, label: str, workers: int,
    cpus_per_worker: float = 1, gpus_per_worker: float = 0,
) -> ray.data.Dataset:
    """A lazy Dataset of one status row per job (``STATUS``), run by ``workers`` actors.

    ``load`` builds the Denoiser on each actor (it is pickled: a module-level function or a
    partial of one). Jobs already decided by planning (skipped, failed) pass through as statuses.
    ``options.temp_tag`` should be set (one per run): without it a dead attempt's temp file stays.
    """
    rows = [{"index": i, "job": pickle.dumps(job)} for i, job in enumerate(jobs)]
    blocks = max(1, min(len(rows), 10_000))  # a file per block (a retry redoes one file) up to 10k files
    return ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
        Worker, batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=cpus_per_worker, num_gpus=gpus_per_worker or None,
        fn_constructor_kwargs={"load": load, "options": options, "label": label,
                               "threads": max(1, int(cpus_per_worker)), "crash": os.environ.get(CRASH_ENV)},
    )


def run_jobs(
    jobs: list[Job], load: Callable[[], Denoiser], options: batch.Options, label: str, workers: int,
    cpus_per_worker: float = 1, gpus_per_worker: float = 0, on_done: Callable[[Job], None] = lambda job: None,
    progress: batch.BatchProgress | None = None,
) -> list[Job]:
    """The local engine's ``run_jobs`` on Ray: every planned job ends written, skipped or failed
    (in place), ``on_done`` is called once per job as its status arrives; returns the failed."""
    options = dataclasses.replace(options, temp_tag=uuid.uuid4().hex[:12])
    todo = [job for job in jobs if job.error is None and job.skipped is None]
    for job in jobs:
        if job.error is not None or job.skipped is not None:
            on_done(job)
    seen: set[int] = set()
    try:
        if todo:
            for row in denoise_jobs(todo, load, options, label, workers, cpus_per_worker, gpus_per_worker).iter_rows():
                if row["index"] not in seen:  # a task retried after its status was sent comes back twice
                    seen.add(row["index"])
                    _arrived(todo[row["index"]], row, on_done, progress)
    except ray.exceptions.RayError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ZooError(f"the Ray run stopped: {first}") from exc
    finally:
        for job in todo:
            atomic.remove_run_temps(job.target, options.temp_tag)
    for index in sorted(set(range(len(todo))) - seen):
        todo[index].error = f"{todo[index].source}: no status came back from the Ray workers; not written"
        _arrived(todo[index], None, on_done, progress)
    return [job for job in jobs if job.error]


def _arrived(job: Job, row: dict | None, on_done: Callable[[Job], None], progress) -> None:
    if row is not None:
        job.seconds = row["seconds"]
        job.error = row["error"] if row["status"] == "failed" else None
        job.skipped = row["error"] if row["status"] == "skipped" else None
    if progress is not None:
        progress.start_file(job)
        progress.end_file()
    on_done(job)


# -- the cluster


@contextlib.contextmanager
def session(address: str | None = None, quiet: bool = True) -> Iterator[dict]:
    """Connect to the Ray cluster at ``address`` ("auto", "ray://HOST:PORT", "HOST:PORT"), or with
    none (nor ``RAY_ADDRESS``) start a local instance sized to the machine and shut it down at the end. A process that
    has already called ``ray.init`` keeps its Ray. Yields the cluster's resources.

    An unreachable address is one ZooError line within a few seconds, never a hang."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address not in (None, "auto"):
        _check_reachable(address)
    started = not ray.is_initialized()
    if started:
        _connect(address or os.environ.pop("RAY_ADDRESS", None) or None)
        _route_raylet_messages(quiet)
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING if not quiet else logging.ERROR)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the zoo shows its own, over files
        context.print_on_execution_start = False
        context.max_errored_blocks = -1
    try:
        yield ray.cluster_resources()
    finally:
        if started:
            ray.shutdown()


def _connect(address: str | None) -> None:
    quiet = {"log_to_driver": False, "logging_level": "ERROR"}
    if address is None:
        # a private instance: its head listens on loopback only, never on the machine's network address
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, object_store_memory=OBJECT_STORE,
                 _node_ip_address="127.0.0.1", **quiet)
        return
    try:
        ray.init(address=address, **quiet)
    except Exception as exc:  # ConnectionError, RuntimeError, gRPC errors: all say "not there"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ZooError(f"cannot connect to Ray at {address}: {first}") from None


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A plain TCP connect first: ray.init retries an absent head for a minute or more."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ZooError(f"--ray-address takes auto, ray://HOST:PORT or HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ZooError(f"cannot reach Ray at {address}: {reason}; start one with `ray start --head` "
                       "or leave out --ray-address for a local instance") from None


def _route_raylet_messages(quiet: bool) -> None:
    """Ray prints its raylet's messages (a worker died, a task is retried) on stdout, where
    ``--json`` output goes: send them to stderr, or drop them unless -v."""
    from ray._private import worker as ray_worker

    original = ray_worker.print_to_stdstream

    def to_stderr(data, ignore_prefix: bool) -> None:
        if not quiet:
            original({**data, "is_err": True}, ignore_prefix)

    if hasattr(ray_worker, "print_to_stdstream"):
        ray_worker.print_to_stdstream = to_stderr


def default_workers(resources: dict, cpus_per_worker: float) -> int:
    """As many workers as the cluster's CPUs hold, at least one."""
    return max(1, int(resources.get("CPU", 1) // max(cpus_per_worker, 1e-9)))


def check_fits(resources: dict, workers: int, cpus_per_worker: float, local: bool) -> None:
    """A local instance cannot grow: refuse a pool it cannot hold instead of waiting forever."""
    cpus = resources.get("CPU", 0)
    if local and workers * cpus_per_worker > cpus:
        raise ZooError(f"--workers {workers} x --cpus-per-worker {cpus_per_worker:g} needs {workers * cpus_per_worker:g} "
                       f"CPUs; this machine has {cpus:g}: lower them, or give --ray-address of a cluster")

