"""The `zoo` command line: thin commands that parse options and call the API."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from registry.errors import ZooError
from registry.manager import get_registry
from zoo import api, catalogue
from zoo.cli_bench import bench as bench_app
from zoo.cli_convert import add_commands as add_convert_commands
from zoo.cli_hub import add_commands as add_hub_commands
from zoo.cli_train import add_commands as add_train_commands

app = typer.Typer(
    name="zoo", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Denoise photos with a zoo of deep-learning and classical denoisers.",
)
out = Console()
err = Console(stderr=True)
state = {"debug": os.environ.get("ZOO_DEBUG") == "1"}


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turn ZooError into one line on stderr and exit 1; Ctrl-C into exit 130."""
    try:
        yield
    except ZooError as exc:
        if state["debug"]:
            raise
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted; no partial output was left")
        raise typer.Exit(130) from None


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    state["debug"] = debug or os.environ.get("ZOO_DEBUG") == "1"  # per invocation, not sticky


@app.command("list")
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


@app.command()
def info(
    model: str = typer.Argument(..., help="Architecture name or alias."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Config schema and presets, pretrained cards with measured metrics, paper."""
    with reported():
        data = catalogue.details(get_registry().get(api.parse_model(model)[0]))
        if as_json:
            return out.print_json(json.dumps(data))
        out.print(catalogue.render_details(data))


@app.command()
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


@app.command()
def denoise(
    inputs: List[str] = typer.Argument(..., help="Image files, directories or globs."),
    model: str = typer.Option(api.DEFAULT_MODEL, "--model", "-m", help="MODEL or MODEL:TAG."),
    backend: Optional[str] = typer.Option(None, "--backend", help="torch, tensorflow, ..."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Path, bundled:FILE or hf://ORG/REPO/FILE@REV."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Config preset (when no pretrained card fixes it)."),
    sigma: Optional[float] = typer.Option(None, "--sigma", help="Noise sigma (0-255) for models that take one."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file (one input only)."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Folder for outputs (created if needed)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs (never an input)."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders."),
    name_template: str = typer.Option(
        "{stem}_denoised-{model}{ext}", "--name-template",
        help="Output file name: {stem}, {name}, {ext}, {model} (with --out-dir or beside the input).",
    ),
    max_memory: str = typer.Option(
        "auto", "--max-memory",
        help="Model working memory; sets the tile size (e.g. 512M, 2G; auto: a quarter of free memory, 1-1.5G).",
    ),
    precision: str = typer.Option("fp32", "--precision", help="fp32, or bf16 (faster where the CPU has bf16)."),
    compile_model: bool = typer.Option(
        False, "--compile", help="torch.compile / XLA: faster on big photos and batches, after a one-off compile.",
    ),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: the framework's, all cores)."),
    tile: Optional[int] = typer.Option(None, "--tile", help="Tile side in pixels (overrides --max-memory)."),
    ensemble: bool = typer.Option(False, "--ensemble", help="Average the 8 flips/rotations (x8 time)."),
    allow_large: bool = typer.Option(False, "--allow-large", help="Lift the decompression-bomb pixel limit."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickled (.pt/.pth) weights."),
    offline: bool = typer.Option(False, "--offline", help="Hub weights from the cache only, no network."),
) -> None:
    """Denoise photos; by default each output is written beside its input as NAME_denoised-MODEL.EXT."""
    from zoo import batch

    with reported():
        if threads is not None:
            from zoo import runtime

            runtime.set_threads(threads)
        jobs = batch.expand_inputs(inputs, recursive)
        if not jobs:
            raise ZooError("no images found in the given inputs")
        label = model.replace(":", "-").replace("/", "-")
        options = batch.make_options(sigma, max_memory, tile, ensemble, allow_large)
        if dropped := batch.drop_own_outputs(jobs, label, name_template):
            err.print(f"ignored {dropped} earlier output(s) of this command found beside the inputs "
                      "(name them explicitly to denoise them)", highlight=False, soft_wrap=True)
            if not jobs:
                raise ZooError("no images to denoise: the inputs hold only earlier outputs of this command")
        batch.plan_outputs(jobs, label, output, out_dir, overwrite, name_template)
        if all(job.error or job.skipped for job in jobs):
            return _finish(jobs)
        denoiser = api.load(model, backend=backend, weights=weights, preset=preset, trust_pickle=trust_pickle,
                            offline=offline or None, precision=precision, compile=compile_model)
        with batch.BatchProgress(len(jobs)) as progress:
            batch.run_jobs(denoiser, jobs, options, _report, progress)
        _finish(jobs)


def _report(job) -> None:
    if job.error is None and job.skipped is None:
        out.print(f"wrote {job.target}", highlight=False, soft_wrap=True)


def _finish(jobs) -> None:
    failed = [job for job in jobs if job.error]
    if len(jobs) == 1 and (failed or jobs[0].skipped):  # one input: a skip is the answer, as an error
        raise ZooError(jobs[0].error or jobs[0].skipped)
    from zoo import batch

    lines, code = batch.summary(jobs)
    for line in lines:
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    if code:
        raise typer.Exit(code)


add_hub_commands(app)  # pull, cache, export, push (zoo/cli_hub.py)
add_convert_commands(app)  # convert (zoo/cli_convert.py)
add_train_commands(app)  # train (zoo/cli_train.py)
app.add_typer(bench_app, name="bench")  # zoo bench quality (zoo/cli_bench.py)


def run() -> None:
    """Console-script entry point: load plugin commands, then run."""
    get_registry().call_register_commands(app)
    app()
