"""`zoo ship`: put a trained model into a plugin package as a pretrained tag.

    zoo ship runs/dncnn.card.json --plugin ./zoo-dncnn --tag awgn_small [--default]

Copies the weights `zoo train` wrote (OUT.safetensors, named by the card) to
``PACKAGE/weights/TAG.safetensors`` with the tag written into the file's metadata
(zoo.weights.metadata), and the card to ``PACKAGE/weights/TAG.card.json`` pinning the new file's
sha256, with the golden-crop PSNR measured here. The plugin declares its tags with
``**bundled(__name__)`` (zoo.sdk); ``"default": true`` in a card makes its tag the one
``zoo denoise --model NAME`` uses (``--default`` moves the mark from any other card). The package
must ship the files: the command prints the package-data line for the plugin's pyproject.toml.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, List, Optional

import typer

from registry.errors import ZooError
from zoo.cli.console import reported, say

SUFFIX = ".card.json"
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def stamp(source: Path, target: Path, card: dict[str, Any], tag: str) -> str:
    """Write ``source``'s tensors to ``target`` with the tag's metadata; return the new sha256."""
    from registry.manager import get_registry
    from zoo.weights.files import load_state, save_state
    from zoo.weights.metadata import describe

    arch = get_registry().get(card["architecture"])
    config = arch.config.preset(card.get("preset"), **card.get("config", {}))
    training = card.get("training", {})
    provenance = training.get("command", "") if isinstance(training, dict) else str(training)
    return save_state(load_state(source), target, metadata=describe(arch.name, config, tag, provenance))


def package_folder(plugin: Path) -> Path:
    """The importable package of a plugin: ``plugin`` itself, or its one package beside a pyproject.toml."""
    plugin = plugin.expanduser()
    if (plugin / "__init__.py").is_file():
        return plugin
    if not plugin.is_dir():
        raise ZooError(f"--plugin {plugin}: no such folder")
    found = sorted(p.parent for p in plugin.glob("*/__init__.py") if p.parent.name not in ("tests", "test"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise ZooError(f"--plugin {plugin}: name the package folder itself (the one with __init__.py); found {names}")
    return found[0]


def read_card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text())
    except OSError as exc:
        raise ZooError(f"cannot read the card {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ZooError(f"{path} is not a JSON card: {exc}") from None
    missing = [k for k in ("architecture", "file", "noise") if not isinstance(card, dict) or k not in card]
    if missing:
        raise ZooError(f"{path} is not a card `zoo train` wrote: no {', '.join(missing)}")
    return card


def ship(card_path: Path, plugin: Path, tag: str, *, default: bool = False, description: str | None = None,
         metrics: tuple[str, ...] = (), overwrite: bool = False, golden: bool = True,
         backend: str | None = None) -> tuple[dict[str, Any], Path]:
    """Ship ``card_path``'s weights into ``plugin`` as ``tag``; return the new card and its path. The
    golden-crop PSNR is measured with ``backend`` (None: the one ``zoo denoise`` would choose)."""
    from registry.manager import get_registry
    from zoo.weights.names import plugin_package

    if not _TAG.match(tag or ""):
        raise ZooError(f"--tag {tag!r}: use lowercase letters, digits, '_' and '-' (a tag follows MODEL: in names)")
    card = read_card(card_path)
    source = card_path.parent / card["file"]
    if not source.is_file():
        raise ZooError(f"{card_path} names {card['file']}, which is not beside it")
    package = package_folder(plugin)
    arch = get_registry().get(card["architecture"])
    if plugin_package(arch).rsplit(".", 1)[-1] != package.name:
        raise ZooError(f"{arch.name} is registered by the package {plugin_package(arch)} (where its config lives), "
                       f"not {package.name}: its bundled weights are read from there")
    folder = package / "weights"
    target, card_out = folder / f"{tag}.safetensors", folder / f"{tag}{SUFFIX}"
    if not overwrite and (target.exists() or card_out.exists()):
        raise ZooError(f"{arch.name}:{tag} is already shipped in {folder}; pass --overwrite to replace it")
    parsed = _metrics(metrics)
    folder.mkdir(parents=True, exist_ok=True)
    card.update(file=target.name, default=default, description=description or card.get("description", ""))
    card["sha256"] = stamp(source, target, card, tag)
    card.setdefault("metrics", {}).update(parsed)
    if golden:
        card["metrics"]["golden_psnr"] = round(_golden(card, target, backend), 3)
    if default:
        clear_default(folder, keep=card_out)
    card_out.write_text(json.dumps(card, indent=2) + "\n")
    return card, card_out


def package_data_line(package: Path) -> str:
    return f'{package.name} = ["weights/*.safetensors", "weights/*.json"]'


def _metrics(items: tuple[str, ...]) -> dict[str, float]:
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            parsed[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise ZooError(f"--metric {item!r}: expected KEY=NUMBER, e.g. cbsd68_s25_psnr=30.1")
    return parsed


def clear_default(folder: Path, keep: Path) -> None:
    """Unset ``default`` in every other card of ``folder`` (one default tag per plugin)."""
    for other in sorted(folder.glob(f"*{SUFFIX}")):
        if other == keep:
            continue
        data = json.loads(other.read_text())
        if data.get("default"):
            data["default"] = False
            other.write_text(json.dumps(data, indent=2) + "\n")


def _golden(card: dict[str, Any], path: Path, backend: str | None = None) -> float:
    import zoo
    from zoo.testing import golden_psnr

    denoiser = zoo.load(card["architecture"], backend=backend, preset=card.get("preset"), weights=str(path),
                        **card.get("config", {}))
    return golden_psnr(denoiser, card["noise"])


def ship_command(
    card: Path = typer.Argument(..., help="The RUN.card.json `zoo train` wrote beside RUN.safetensors."),
    plugin: Path = typer.Option(..., "--plugin", help="The plugin's package folder (or the project folder holding it)."),
    tag: str = typer.Option(..., "--tag", help="The pretrained tag to ship as (MODEL:TAG)."),
    default: bool = typer.Option(False, "--default", help="Make it the tag used when none is named."),
    description: Optional[str] = typer.Option(None, "--description", help="One line for `zoo list` and `zoo info`."),
    metric: Optional[List[str]] = typer.Option(None, "--metric", help="KEY=VALUE measured elsewhere (repeatable)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the tag if it is already shipped."),
    no_golden: bool = typer.Option(False, "--no-golden", help="Skip measuring the golden-crop PSNR."),
) -> None:
    """Copy a trained model and its card into a plugin's weights/ folder as a pretrained tag."""
    with reported():
        shipped, card_out = ship(card, plugin, tag, default=default, description=description,
                                 metrics=tuple(metric or ()), overwrite=overwrite, golden=not no_golden)
        say(f"shipped {shipped['architecture']}:{tag} to {card_out.parent} (sha256 {shipped['sha256'][:12]}...)"
            + (", the default tag" if default else ""))
        say(f"package data, under [tool.setuptools.package-data] in the plugin's pyproject.toml: "
            f"{package_data_line(card_out.parent.parent)}")


def add_commands(app: typer.Typer) -> None:
    app.command("ship")(ship_command)
