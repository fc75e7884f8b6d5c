"""Run the page: uvicorn on 127.0.0.1 only, the uploads in a private temp folder removed at the end."""

from __future__ import annotations

import errno
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Callable

from registry.errors import ZooError

HOST = "127.0.0.1"  # never another interface: the page has no login
DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD_MB = 256  # a 24 MP 16-bit TIFF is about 150 MB, camera RAW files 20-80 MB


def listen(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (port 0: a free one); a taken port is a one-line ZooError."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        why = "it is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc)).lower()
        raise ZooError(f"cannot listen on {HOST}:{port}: {why}; choose another with --port (0: any free one)") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def serve(port: int = DEFAULT_PORT, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
          say: Callable[[str], None] = lambda line: print(line, flush=True)) -> None:
    """Serve until Ctrl-C or SIGTERM; the temp folder (0700) and every upload in it go at the end."""
    if not 0 <= port <= 65535:
        raise ZooError(f"--port takes 0 to 65535, got {port}")
    if not 0 < max_upload_mb <= 1 << 20:
        raise ZooError(f"--max-upload takes a size in MB above 0, got {max_upload_mb:g}")
    try:
        import uvicorn

        from zoo.serve.web import make_app
        from zoo.serve.work import Worker
    except ImportError as exc:
        raise ZooError(f"zoo serve needs {exc.name}: pip install -c constraints.txt 'denoise-zoo[serve]'") from None
    sock = listen(port)
    root = Path(tempfile.mkdtemp(prefix="zoo-serve-"))  # mode 0700: this user's only
    previous = _sigterm_exits()
    try:
        app = make_app(Worker(root), int(max_upload_mb * (1 << 20)))
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
        say(f"zoo serve: http://{HOST}:{sock.getsockname()[1]}/ (uploads up to {max_upload_mb:g} MB, kept in "
            f"{root} until it stops; Ctrl-C stops)")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        shutil.rmtree(root, ignore_errors=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _sigterm_exits():
    """SIGTERM as SystemExit(143), so that the temp folder is removed: uvicorn stops gracefully
    on it, then raises it again for the handler it found, which by default would end the process
    on the spot. Returns the handler it replaced (None off the main thread, where none is set)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame) -> None:
        raise SystemExit(128 + signal.SIGTERM)

    return signal.signal(signal.SIGTERM, handler)
