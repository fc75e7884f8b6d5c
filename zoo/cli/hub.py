"""Hub commands of the `zoo` CLI: pull, cache list|verify|clear, export, push.

Thin commands: they parse options and call zoo.weights.hub / zoo.weights.publish, which are imported inside the
commands so that `zoo list` never imports huggingface_hub.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from zoo.cli.console import err, out, reported

OFFLINE_HELP = "Use the local cache only: no network request at all (also HF_HUB_OFFLINE=1)."
ALL_HELP = "Every cached model repository, not only the zoo's."


def pull(
    model: str = typer.Argument(..., help="MODEL[:TAG], hf://ORG/REPO[@REV] or hf://ORG/REPO/FILE@REV."),
    offline: bool = typer.Option(False, "--offline", help=OFFLINE_HELP),
) -> None:
    """Download weights into the Hugging Face cache (re-checking the revision) and verify them."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from zoo.weights import hub

    with reported():
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            paths = hub.pull(model, offline=offline or None, tqdm_class=rich_tqdm(progress))
        for path in paths:
            out.print(f"cached {path}", highlight=False, soft_wrap=True)


def rich_tqdm(progress: Any) -> type:
    """A tqdm-like class (what hf_hub_download's ``tqdm_class`` calls) drawing into a rich Progress."""

    class RichBar:
        def __init__(self, *, total: int | None = None, initial: int = 0, desc: str = "", **_: Any) -> None:
            self.task = progress.add_task(desc or "download", total=total, completed=initial)

        def update(self, n: int = 1) -> None:
            progress.advance(self.task, n)

        def close(self) -> None:
            progress.update(self.task, visible=False)

        def __enter__(self) -> RichBar:
            return self

        def __exit__(self, *exc: Any) -> None:
            self.close()

    return RichBar


cache_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="List, verify and clear the zoo's cached Hub weights.")


@cache_app.command("list")
def cache_list(
    everything: bool = typer.Option(False, "--all", help=ALL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Cached files of the zoo's Hub repositories (no network)."""
    from rich.table import Table

    from zoo.weights import cache, hub

    with reported():
        rows = [{"repo": r.repo_id, "revision": r.revision, "refs": list(r.refs), "file": r.filename,
                 "size": r.size, "path": str(r.path)} for r in cache.cache_files(everything)]
        if as_json:
            return out.print_json(json.dumps(rows))
        table = Table("repo", "revision", "refs", "file", "size", title=f"cache: {hub.cache_dir()}")
        for r in rows:
            table.add_row(r["repo"], r["revision"][:12], ", ".join(r["refs"]), r["file"], f"{r['size']:,}")
        out.print(table if rows else "no cached zoo weights")


@cache_app.command("verify")
def cache_verify(
    everything: bool = typer.Option(False, "--all", help=ALL_HELP),
    delete: bool = typer.Option(False, "--delete", help="Delete corrupt files so the next use re-downloads them."),
) -> None:
    """Re-hash every cached file against the hash the Hub reported for it; exit 1 if any is corrupt."""
    from zoo.weights import cache

    with reported():
        bad = unverified = 0
        for row, status in cache.verify_cache(everything, delete):
            bad += status == "corrupt"
            unverified += status == "unverified"
            shown = {"ok": "ok", "unverified": "[yellow]UNVERIFIED[/yellow]",
                     "corrupt": "[red]CORRUPT, deleted[/red]" if delete else "[red]CORRUPT[/red]"}[status]
            out.print(f"{shown}  {row.repo_id}@{row.revision[:12]}  {row.filename}", highlight=False)
        if unverified:
            err.print(f"{unverified} copied file(s) with no recorded hash; load or `zoo pull` them online to verify")
        if bad:
            err.print(f"{bad} corrupt file(s)" + ("" if delete else "; rerun with --delete"))
        if bad or unverified:
            raise typer.Exit(1)


@cache_app.command("clear")
def cache_clear(
    repos: Optional[List[str]] = typer.Argument(None, help="ORG/REPO to clear (default: all of the zoo's)."),
    everything: bool = typer.Option(False, "--all", help=ALL_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete cached revisions with huggingface_hub's cache API."""
    from zoo.weights import cache

    with reported():
        if not yes:
            typer.confirm(f"delete cached {'repositories ' + ', '.join(repos) if repos else 'zoo weights'}?", abort=True)
        revisions, freed = cache.clear_cache(repos, everything)
        out.print(f"deleted {revisions} revision(s), {freed:,} bytes")


def export(
    model: str = typer.Argument(..., help="MODEL[:TAG], or MODEL with --weights."),
    out_dir: Path = typer.Argument(..., help="Folder to write (created if needed)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Path, bundled:FILE or hf://ORG/REPO/FILE@REV."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Config preset of the weights (with --weights)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Backend used to read the weights."),
    datasets: Optional[List[str]] = typer.Option(None, "--dataset", help="Training dataset id for the card (repeatable)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace files already in the folder."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickled (.pt/.pth) weights."),
    offline: bool = typer.Option(False, "--offline", help=OFFLINE_HELP),
    onnx: bool = typer.Option(False, "--onnx", help="Also model.onnx: the graph (dynamic size) for ONNX Runtime users."),
) -> None:
    """Write a Hub-ready folder: model.safetensors, config.json and a README.md model card (--onnx: model.onnx)."""
    from zoo.weights import publish

    with reported():
        written = publish.export(model, out_dir, weights=weights, preset=preset, backend=backend,
                                 datasets=datasets or (), overwrite=overwrite, trust_pickle=trust_pickle,
                                 offline=offline or None, onnx=onnx)
        for path in written.values():
            out.print(f"wrote {path}", highlight=False, soft_wrap=True)


def push(
    folder: Path = typer.Argument(..., help="A folder written by `zoo export`."),
    repo: str = typer.Argument(..., help="ORG/REPO on the Hub (HF_ENDPOINT) to create or update."),
    token: Optional[str] = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or `hf auth login`)."),
    private: bool = typer.Option(False, "--private", help="Create the repository as private."),
    revision: Optional[str] = typer.Option(None, "--revision", help="Branch to commit to (default: main)."),
    message: Optional[str] = typer.Option(None, "--message", "-m", help="Commit message."),
) -> None:
    """Upload an exported folder to the Hub with huggingface_hub, in one commit."""
    from zoo.weights import publish

    with reported():
        url = publish.push(folder, repo, token=token, private=private, revision=revision, message=message)
        out.print(f"pushed {folder} to {url}", highlight=False, soft_wrap=True)


def add_commands(app: typer.Typer) -> None:
    """Add pull, cache, export and push to the `zoo` app."""
    app.command()(pull)
    app.add_typer(cache_app, name="cache")
    app.command()(export)
    app.command()(push)
