"""The jobs behind `zoo serve`: one worker thread denoises uploads one at a time, in their own
folders under the server's private temp folder, through the zoo's own path.

A job is the batch of one: a planned ``zoo.inference.planning.Job`` (the upload as the input, the
output in the input's format: ``output_suffix``) run by ``zoo.inference.batch.run_jobs`` with the
strength options, so reading (bit depth, ICC, EXIF, orientation), the tiled engine, the mix and
the atomic write are exactly those of `zoo denoise`. The page's before/after images are 8-bit PNG
previews of the input and of the written result, read back with ``read_image``.

Only the last ``KEEP`` jobs are kept; older ones' folders are removed as new ones come.
"""

from __future__ import annotations

import queue
import re
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from registry.errors import ZooError
from registry.manager import iter_architectures
from zoo import api
from zoo.inference import batch
from zoo.inference import strength as mix
from zoo.photo.formats import output_suffix
from zoo.photo.imageio import Photo, read_image, write_image
from zoo.weights.names import DEFAULT_MODEL, parse_model

KEEP = 8


@dataclass
class Task:
    """One upload's job as the page polls it: ``state`` is queued, loading, denoising, done or failed."""

    id: str
    name: str  # the uploaded file's own name, for messages and the download
    folder: Path
    source: Path
    model: str
    strength: float = 1.0
    chroma_strength: float | None = None
    state: str = "queued"
    done: int = 0
    total: int = 0
    error: str | None = None
    result: Path | None = None
    previews: dict[str, Path] = field(default_factory=dict)

    def status(self) -> dict:
        return {"id": self.id, "name": self.name, "state": self.state, "done": self.done, "total": self.total,
                "error": f"error: {self.error}" if self.error else None, "download": self.result.name if self.result else None,
                "model": self.model, "strength": self.strength,
                "chroma_strength": self.strength if self.chroma_strength is None else self.chroma_strength}


def models() -> list[dict]:
    """The architectures the page offers: an installed backend, and weights where they need some."""
    found = []
    for arch in iter_architectures():
        tags = [p.tag for p in arch.pretrained]
        if any(arch.backend_installed(b) for b in arch.backends) and (tags or not arch.needs_weights):
            found.append({"name": arch.name, "tags": tags, "default_tag": arch.default_tag,
                          "default": arch.name == parse_model(DEFAULT_MODEL)[0]})
    return found


def safe_name(name: str | None) -> str:
    """The upload's file name without folders or control characters (it is only shown and offered
    as the download's name; files on disk get fixed names)."""
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "_", Path(name or "photo").name).strip() or "photo"
    return name[-120:]


class Worker:
    """Tasks by id and the thread that runs them, one at a time (the models use every core)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tasks: dict[str, Task] = {}
        self.lock = threading.Lock()
        self.models: dict[str, object] = {}
        self.queue: queue.Queue[Task] = queue.Queue()
        threading.Thread(target=self._loop, name="zoo-serve-worker", daemon=True).start()

    def new_task(self, name: str, model: str, strength: float, chroma_strength: float | None) -> Task:
        """A task with its own folder; the caller writes the upload to ``task.source``, then submits."""
        task_id = uuid.uuid4().hex[:12]
        folder = self.root / task_id
        folder.mkdir(mode=0o700)
        (folder / "out").mkdir(mode=0o700)
        suffix = Path(name).suffix.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", Path(name).suffix) else ""
        task = Task(task_id, name, folder, folder / f"input{suffix}", model, strength, chroma_strength)
        with self.lock:
            self.tasks[task_id] = task
            self._forget_old()
        return task

    def submit(self, task: Task) -> None:
        self.queue.put(task)

    def get(self, task_id: str) -> Task | None:
        with self.lock:
            return self.tasks.get(task_id)

    def discard(self, task: Task) -> None:
        with self.lock:
            self.tasks.pop(task.id, None)
        shutil.rmtree(task.folder, ignore_errors=True)

    def _forget_old(self) -> None:
        finished = [t for t in self.tasks.values() if t.state in ("done", "failed")]
        for task in finished[: max(0, len(self.tasks) - KEEP)]:
            self.tasks.pop(task.id, None)
            shutil.rmtree(task.folder, ignore_errors=True)

    def _loop(self) -> None:
        while True:
            task = self.queue.get()
            try:
                self._run(task)
            except ZooError as exc:
                task.error = str(exc).replace(str(task.source), task.name)
            except Exception as exc:  # a bug must not kill the worker: the page says what it was, in one line
                task.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            task.state = "failed" if task.error else "done"

    def _run(self, task: Task) -> None:
        task.state = "loading"
        denoiser = self.models.get(task.model)
        if denoiser is None:
            denoiser = self.models[task.model] = api.load(task.model)
        task.state = "denoising"
        label = "-".join(filter(None, (*parse_model(task.model), mix.describe(task.strength, task.chroma_strength))))
        stem = Path(task.name).stem or "photo"
        target = task.folder / "out" / f"{stem}_denoised-{label}{output_suffix(Path(task.name))[0]}"
        job = batch.Job(task.source, target, overwrite=True)
        options = batch.make_options(strength=task.strength, chroma_strength=task.chroma_strength)
        batch.run_jobs(denoiser, [job], options, progress=_Progress(task))
        if job.error:
            raise ZooError(job.error)
        for side, path in (("before", task.source), ("after", target)):
            task.previews[side] = write_image(task.folder / f"{side}.png", _preview(read_image(path, max_pixels=None)))
        task.result = target


def _preview(photo: Photo) -> Photo:
    """What a browser shows: 8-bit PNG, colour profile kept."""
    return Photo(photo.pixels, 8, "PNG", photo.icc_profile)


class _Progress:
    """What ``run_jobs`` tells a progress display, kept on the task for the page to poll."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def start_file(self, job) -> None:
        self.task.done, self.task.total = 0, 0

    def tiles(self, done: int, total: int) -> None:
        self.task.done, self.task.total = done, total

    def end_file(self) -> None:
        pass
