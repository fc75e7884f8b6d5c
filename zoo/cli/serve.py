"""`zoo serve`: the local web page (zoo/serve/); FastAPI and uvicorn are imported only when it runs."""

from __future__ import annotations

import typer

from zoo.cli.console import reported
from zoo.serve.server import DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT  # no web framework: that comes when it runs


def serve(
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port on 127.0.0.1 (0: any free one, printed)."),
    max_upload: float = typer.Option(
        DEFAULT_MAX_UPLOAD_MB, "--max-upload", metavar="MB", help="Largest photo the page accepts, in MB.",
    ),
) -> None:
    """A web page on 127.0.0.1 only: drop a photo, choose model, tag and strength, compare before and
    after at 100%, download the result in the photo's own format with its metadata. Needs the
    serve extra: pip install -c constraints.txt 'denoise-zoo[serve]'."""
    from zoo.serve import server

    with reported():
        server.serve(port, max_upload)


def add_commands(app: typer.Typer) -> None:
    app.command()(serve)
