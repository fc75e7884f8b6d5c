"""The command line's output: one console for results (stdout), one for messages (stderr), and
the rule that turns a ZooError into one line and exit status 1."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import typer
from rich.console import Console
from rich.markup import escape

from registry.errors import ZooError
from registry.manager import plugin_failure

out = Console()
err = Console(stderr=True)
state = {"debug": os.environ.get("ZOO_DEBUG") == "1"}


def error_line(text: str, prefix: bool = True) -> None:
    """One line on stderr, ``error: `` first; the text is shown as is (a ``[torch]`` in it is not
    taken for markup)."""
    err.print(f"[red]error:[/red] {escape(text)}" if prefix else escape(text), highlight=False, soft_wrap=True)


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turn ZooError into one line on stderr and exit 1; Ctrl-C into exit 130."""
    try:
        yield
    except ZooError as exc:
        if state["debug"]:
            raise
        error_line(plugin_failure(exc) or str(exc))  # a strict-mode plugin failure names the plugin
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted; no partial output was left")
        raise typer.Exit(130) from None


def say(text: str, stderr: bool = False) -> None:
    """Print a plain line (no markup, no highlighting, never wrapped mid-path)."""
    (err if stderr else out).print(text, markup=False, highlight=False, soft_wrap=True)
