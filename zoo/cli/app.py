"""The `zoo` app: the global options, and every command group attached from its own module."""

from __future__ import annotations

import os

import typer

from registry.manager import get_registry
from zoo.cli import bench, convert, denoise, hub, models, train
from zoo.cli.console import state

app = typer.Typer(
    name="zoo", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Denoise photos with a zoo of deep-learning and classical denoisers.",
)


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    state["debug"] = debug or os.environ.get("ZOO_DEBUG") == "1"  # per invocation, not sticky


models.add_commands(app)  # list, info, plugins (zoo/cli/models.py)
denoise.add_commands(app)  # denoise (zoo/cli/denoise.py)
hub.add_commands(app)  # pull, cache, export, push (zoo/cli/hub.py)
convert.add_commands(app)  # convert (zoo/cli/convert.py)
train.add_commands(app)  # train (zoo/cli/train.py)
app.add_typer(bench.bench, name="bench")  # zoo bench quality|speed (zoo/cli/bench.py)


def run() -> None:
    """Console-script entry point: load plugin commands, then run."""
    get_registry().call_register_commands(app)
    app()
