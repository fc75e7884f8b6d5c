"""The FastAPI app of `zoo serve`: the page, the upload, a job's status, its previews and result.

Routes: ``GET /`` the page (``static/index.html``: plain HTML and JavaScript, nothing fetched from
elsewhere); ``GET /api/models``; ``POST /api/jobs`` (multipart: ``photo``, ``model``,
``strength``, ``chroma_strength``) answers ``{"id"}``; ``GET /api/jobs/ID`` the state and tile
progress, polled by the page; ``GET /api/jobs/ID/before.png`` and ``after.png`` 8-bit previews;
``GET /api/jobs/ID/result`` the output in the input's format, with its metadata. Every refusal is
``{"error": "error: ..."}``, one line, as the command line gives it.

Uploads: a request must say its length (browsers do) and may not pass ``max_upload`` bytes; the
body is refused before it is read when it says more, and copying stops at the limit otherwise.
Only requests addressed to 127.0.0.1 or localhost are answered (a web page elsewhere cannot
reach the server through a DNS name rebound to this machine).
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.datastructures import UploadFile

from registry.errors import ZooError
from registry.manager import get_registry
from zoo.inference import strength as mix
from zoo.serve.work import Task, Worker, models, safe_name
from zoo.weights.names import parse_model

PAGE = Path(__file__).with_name("static") / "index.html"
CHUNK = 1 << 20
LOCAL_NAMES = ("127.0.0.1", "localhost")
FORM_SLACK = 64 << 10  # room for the form's other fields and multipart headers


def refusal(text: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": f"error: {text}"}, status_code=status)


def make_app(worker: Worker, max_upload: int) -> FastAPI:
    """The app, serving ``worker``'s jobs; ``max_upload``: the largest photo accepted, in bytes."""
    app = FastAPI(title="denoise-zoo", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def local_only(request: Request, call_next):
        host = request.headers.get("host", "").rpartition(":")[0] or request.headers.get("host", "")
        if host not in LOCAL_NAMES:
            return refusal(f"this server answers only requests to 127.0.0.1 or localhost, not {host!r}")
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.read_text(encoding="utf-8")

    @app.get("/api/models")
    def list_models() -> dict:
        return {"models": models(), "max_upload": max_upload}

    @app.post("/api/jobs")
    async def create_job(request: Request) -> JSONResponse:
        too_big = _length_refusal(request.headers.get("content-length"), max_upload)
        if too_big is not None:
            return too_big
        form = await request.form(max_files=1, max_fields=8)
        upload = form.get("photo")
        if not isinstance(upload, UploadFile):
            return refusal("choose a photo to upload")
        try:
            strength, chroma = mix.check(form.get("strength") or 1, form.get("chroma_strength") or None, flag="")
            model = _model(str(form.get("model") or ""))
        except ZooError as exc:
            return refusal(str(exc))
        task = worker.new_task(safe_name(upload.filename), model, strength, chroma)
        if not await _save(upload, task.source, max_upload):
            worker.discard(task)
            return refusal(f"{task.name} is larger than {_mb(max_upload)}, the limit of this server "
                           "(zoo serve --max-upload)", 413)
        worker.submit(task)
        return JSONResponse({"id": task.id})

    @app.get("/api/jobs/{task_id}")
    def status(task_id: str) -> JSONResponse:
        task = worker.get(task_id)
        return JSONResponse(task.status()) if task else refusal(f"no job {task_id} (finished jobs are kept a while)", 404)

    @app.get("/api/jobs/{task_id}/{side}.png")
    def preview(task_id: str, side: str):
        task = worker.get(task_id)
        if task is None or side not in task.previews:
            return refusal(f"no {side} image for job {task_id}", 404)
        return FileResponse(task.previews[side], media_type="image/png")

    @app.get("/api/jobs/{task_id}/result")
    def result(task_id: str):
        task: Task | None = worker.get(task_id)
        if task is None or task.result is None:
            return refusal(f"job {task_id} has no result", 404)
        return FileResponse(task.result, filename=task.result.name)

    return app


def _length_refusal(length: str | None, max_upload: int) -> JSONResponse | None:
    if length is None or not length.isdigit():
        return refusal("the upload did not say its size (Content-Length); send the photo as a form", 411)
    if int(length) > max_upload + FORM_SLACK:
        return refusal(f"the upload is {_mb(int(length))}; this server takes photos up to {_mb(max_upload)} "
                       "(zoo serve --max-upload)", 413)
    return None


def _model(name: str) -> str:
    """``ARCH`` or ``ARCH:TAG`` of an installed architecture and one of its tags; never a path."""
    if not re.fullmatch(r"[A-Za-z0-9_]+([:.][A-Za-z0-9_-]+)?", name):
        raise ZooError(f"choose a model from the list (MODEL or MODEL:TAG), got {name!r}")
    arch_name, tag = parse_model(name)
    arch = get_registry().get(arch_name)  # an unknown model is its one line
    if tag is not None and tag not in [p.tag for p in arch.pretrained]:
        raise ZooError(f"{arch.name} has no tag {tag!r}; it has: {', '.join(p.tag for p in arch.pretrained) or 'none'}")
    return f"{arch.name}:{tag}" if tag else arch.name


async def _save(upload: UploadFile, path: Path, limit: int) -> bool:
    """Copy the upload to ``path`` (created 0600); False, and nothing kept, when it passes ``limit``."""
    written = 0
    with open(path, "xb") as out:
        path.chmod(0o600)
        while chunk := await upload.read(CHUNK):
            written += len(chunk)
            if written > limit:
                break
            out.write(chunk)
    await upload.close()
    if written > limit:
        path.unlink(missing_ok=True)
        return False
    return True


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.0f} MB" if size >= 1 << 20 else f"{size} bytes"
