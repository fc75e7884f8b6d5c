"""`zoo list`, `zoo info` and `zoo plugins`: what the registry holds."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from registry.manager import get_registry
from zoo.cli import catalogue
from zoo.cli.console import out, reported
from zoo.weights.names import parse_model


def list_models(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Every architecture and its pretrained tags (* the default), what each is for, backends."""
    with reported():
        rows = [catalogue.summary(a) for a in get_registry().architectures.values()]
        if as_json:
            return out.print_json(json.dumps(rows))
        out.print(catalogue.render_list(rows))
        out.print("MODEL:TAG picks a tag (zoo denoise --model edsr:awgn_tiny); zoo info MODEL tells more.",
                  markup=False, highlight=False)


def info(
    model: str = typer.Argument(..., help="Architecture name or alias."),
    full: bool = typer.Option(False, "--full", help="Also the config schema and each card's training and metrics."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (always full)."),
) -> None:
    """Presets with params and MACs, pretrained tags with their scores, paper; --full for the cards."""
    with reported():
        data = catalogue.details(get_registry().get(parse_model(model)[0]))
        if as_json:
            return out.print_json(json.dumps(data))
        out.print(catalogue.render_details(data, full=full))


def plugins(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Loaded plugins, and plugins that failed with the reason."""
    with reported():
        rows = [catalogue.plugin_row(p) for p in get_registry().plugins.values()]
        if as_json:
            return out.print_json(json.dumps(rows))
        table = Table("plugin", "status", "architectures / reason", "source")
        for r in rows:
            status = "[green]loaded[/green]" if r["loaded"] else "[red]failed[/red]"
            table.add_row(r["name"], status, r["error"] or ", ".join(r["architectures"]), r["source"])
        out.print(table)


def add_commands(app: typer.Typer) -> None:
    app.command("list")(list_models)
    app.command()(info)
    app.command()(plugins)
