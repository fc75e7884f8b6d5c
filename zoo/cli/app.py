"""The `zoo` app: the global options, and every command group attached from its own module."""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version

import typer

from registry.errors import ZooError
from registry.manager import get_registry, plugin_failure
from zoo.cli import bench, convert, denoise, hub, models, serve, ship, train
from zoo.cli.console import error_line, state

app = typer.Typer(
    name="zoo", no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # shell completion: zoo --install-completion
    rich_markup_mode=None,  # plain click help: flags without a "<bool>" metavar, usage errors in two lines
    help="Denoise photos with a zoo of deep-learning and classical denoisers. Commands added by "
         "plugins are not listed here (help loads no plugin); `zoo COMMAND --help` shows theirs.",
)


def _show_version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"zoo {version('denoise-zoo')}")
        except PackageNotFoundError:
            typer.echo("zoo (version unknown: denoise-zoo is not installed)")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    _version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                  help="Show the version and exit."),
) -> None:
    state["debug"] = debug or os.environ.get("ZOO_DEBUG") == "1"  # per invocation, not sticky


models.add_commands(app)  # list, info, plugins (zoo/cli/models.py)
denoise.add_commands(app)  # denoise (zoo/cli/denoise.py)
hub.add_commands(app)  # pull, cache, export, push (zoo/cli/hub.py)
convert.add_commands(app)  # convert (zoo/cli/convert.py)
train.add_commands(app)  # train (zoo/cli/train.py)
ship.add_commands(app)  # ship (zoo/cli/ship.py)
serve.add_commands(app)  # serve: the local web page (zoo/cli/serve.py, zoo/serve/)
app.add_typer(bench.bench, name="bench")  # zoo bench quality|speed (zoo/cli/bench.py)


def wants_plugin_command(args: list[str]) -> bool:
    """Whether the command line names a command that is not built in, so plugins must add theirs
    first. The global options take no value, so the first other word is the command; with none
    (``zoo``, ``zoo --help``, ``zoo --version``) or a built-in one, no plugin code runs here:
    built-in commands load the registry themselves when they need it. Hence a hung or noisy
    plugin cannot block help, and a plugin command can never shadow a built-in one."""
    for arg in args:
        if arg == "--":
            return False
        if not arg.startswith("-"):
            return arg not in typer.main.get_command(app).commands  # type: ignore[attr-defined]
    return False


def run() -> None:
    """Console-script entry point: load plugin commands when one is asked for, then run."""
    args = sys.argv[1:]
    try:
        if wants_plugin_command(args):
            get_registry().call_register_commands(app)
        app()
    except KeyboardInterrupt:
        error_line("interrupted", prefix=False)
        sys.exit(130)
    except Exception as exc:  # only the zoo's own one-line failures; anything else is a bug
        line = plugin_failure(exc) or (str(exc) if isinstance(exc, ZooError) else None)
        if line is None or state["debug"] or "--debug" in args:
            raise
        error_line(line)
        sys.exit(1)
