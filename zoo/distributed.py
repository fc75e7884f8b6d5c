"""Scale-out on Ray: ``zoo denoise --engine ray`` and :func:`denoise_dataset` for Ray pipelines.

The batch is planned here, on the driver, exactly as ``zoo denoise`` plans it; the files are then
denoised by a pool of Ray actors (:mod:`zoo.inference.ray_engine`), each of which loads the model
once. Needs the ``distributed`` extra (``pip install 'denoise-zoo[distributed]'``); nothing else in
the zoo imports Ray.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from registry.denoiser import Denoiser
from registry.errors import ZooError
from zoo.inference import batch
from zoo.weights import loader
from zoo.weights.names import output_label

__all__ = ["ModelSpec", "denoise_dataset", "run_jobs"]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What every worker loads: ``zoo.load(model, **load)``, moved to ``device``. Pickled to the actors."""

    model: str | None = None
    load: dict = dataclasses.field(default_factory=dict)
    device: str = "cpu"

    def __call__(self) -> Denoiser:
        denoiser = loader.load(self.model, **self.load)
        if self.device != "cpu":
            denoiser.to(self.device)
        return denoiser


def _engine():
    try:
        from zoo.inference import ray_engine
    except ImportError as exc:
        raise ZooError(f"the Ray engine needs Ray ({exc.name or exc}): pip install 'denoise-zoo[distributed]'") from None
    return ray_engine


@contextlib.contextmanager
def session(address: str | None = None, quiet: bool = True) -> Iterator[dict]:
    """The Ray cluster for one command (see :func:`zoo.inference.ray_engine.session`)."""
    with _engine().session(address, quiet) as resources:
        yield resources


def run_jobs(
    jobs: list[batch.Job], spec: ModelSpec, options: batch.Options, label: str, resources: dict,
    workers: int | None = None, cpus_per_worker: float = 1, local: bool = True,
    on_done: Callable[[batch.Job], None] = lambda job: None, progress: batch.BatchProgress | None = None,
) -> list[batch.Job]:
    """``zoo denoise --engine ray``: a planned batch through the actor pool; returns the failed jobs."""
    engine = _engine()
    if cpus_per_worker <= 0:
        raise ZooError(f"--cpus-per-worker must be above 0, got {cpus_per_worker:g}")
    workers = workers or engine.default_workers(resources, cpus_per_worker)
    if workers < 1:
        raise ZooError(f"--workers must be at least 1, got {workers}")
    engine.check_fits(resources, workers, cpus_per_worker, local)
    dataclasses.replace(spec, device="cpu")()  # here first (the driver may have no GPU): a bad model is one line
    gpus = 1 if spec.device != "cpu" else 0
    return engine.run_jobs(jobs, spec, options, label, workers, cpus_per_worker, gpus, on_done, progress)


def denoise_dataset(
    paths_or_dataset: Iterable[str | Path] | Any, model: str | None = None, *, out_dir: str | Path | None = None,
    name_template: str = batch.DEFAULT_TEMPLATE, overwrite: bool = False, recursive: bool = False,
    workers: int | None = None, cpus_per_worker: float = 1, device: str = "cpu", **options: Any,
) -> Any:
    """A lazy ``ray.data.Dataset`` with one status row per input file: ``index``, ``input``,
    ``output``, ``model``, ``seconds``, ``status`` (written, skipped, failed) and ``error``.

    ``paths_or_dataset``: files, folders and globs, or a Dataset with a ``path`` column (its paths
    are collected on the driver, never pixels). The batch is planned as ``zoo denoise`` plans it
    (``out_dir``, ``name_template``, ``overwrite``, ``recursive``); ``options`` are ``zoo.load``'s
    (``weights``, ``backend``, ``precision``, ...), the engine's (``sigma``, ``max_memory``,
    ``tile``, ``ensemble``: True or a view count, as ``zoo denoise --views``), ``quality`` (JPEG
    and WebP outputs, as ``zoo denoise --quality``), ``strength`` and ``chroma_strength`` (the
    mix, also in output names) and ``compare`` (True: a before/after crop beside each output), as
    ``zoo denoise`` has them. Needs ``ray.init()``
    first (or starts Ray as ``ray.data`` does).
    Nothing runs until the Dataset is consumed; a file whose worker died is retried, and one
    that kills its worker every time has no row.
    """
    from zoo.inference import strength

    ray_engine = _engine()
    run_keys = {"sigma", "max_memory", "tile", "ensemble", "allow_large", "quality", "strength", "chroma_strength"}
    wants_compare = bool(options.pop("compare", False))
    mix = strength.check(options.get("strength", 1.0), options.get("chroma_strength"), flag="")
    spec = ModelSpec(model, {k: v for k, v in options.items() if k not in run_keys}, device)
    label = output_label(model, spec.load.get("weights"), strength.describe(*mix))
    run = batch.make_options(**{k: v for k, v in options.items() if k in run_keys},
                             compare=label if wants_compare else None)
    jobs = batch.expand_inputs(_paths(paths_or_dataset), recursive)
    out = Path(out_dir) if out_dir is not None else None
    batch.plan(jobs, label, None, out, overwrite, name_template, compare_images=wants_compare)
    import ray

    resources = ray.cluster_resources() if ray.is_initialized() else {}
    workers = workers or ray_engine.default_workers(resources, cpus_per_worker)
    run = dataclasses.replace(run, temp_tag=uuid.uuid4().hex[:12])
    return ray_engine.denoise_jobs(jobs, spec, run, label, workers, cpus_per_worker, 1 if device != "cpu" else 0)


def _paths(paths_or_dataset: Any) -> list[str]:
    if hasattr(paths_or_dataset, "select_columns"):  # a ray.data.Dataset
        if "path" not in (paths_or_dataset.schema().names or []):
            raise ZooError("the Dataset needs a 'path' column of image paths")
        return [str(row["path"]) for row in paths_or_dataset.select_columns(["path"]).iter_rows()]
    if isinstance(paths_or_dataset, (str, Path)):
        return [str(paths_or_dataset)]
    return [str(p) for p in paths_or_dataset]
