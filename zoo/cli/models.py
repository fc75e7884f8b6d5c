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
    """Every architecture: aliases, backends, pretrained tags."""
    with reported():
        rows = [catalogue.summary(a) for a in get_registry().architectures.values()]
        if as_json:
            return out.print_json(json.dumps(rows))
        table = Table("model", "aliases", "backends", "pretrained", "description")
        for r in rows:
            backends = ", ".join(f"{b}{'' if ok else ' (not installed)'}" for b, ok in r["backends"].items())
            tags = ", ".join(f"{p['name']} [{p['noise']}, {p['source']}]" for p in r["pretrained"]) or "-"
            table.add_row(r["name"], ", ".join(r["aliases"]), backends, tags, r["description"])
        out.print(table)


def info(
    model: str = typer.Argument(..., help="Architecture name or alias."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Config schema and presets, pretrained cards with measured metrics, paper."""
    with reported():
        data = catalogue.details(get_registry().get(parse_model(model)[0]))
        if as_json:
            return out.print_json(json.dumps(data))
        out.print(catalogue.render_details(data))


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
