"""Model cards shipped beside bundled weights: ``weights/TAG.card.json`` in a plugin package.

``zoo train`` writes the card next to the weights; ``zoo ship`` copies both into the plugin's
``weights/`` folder as ``TAG.safetensors`` and ``TAG.card.json`` (the card's ``file`` names the
weights beside it, ``sha256`` pins them, ``"default": true`` marks the default tag). The plugin
registers them with ``Architecture(..., **bundled(__name__))`` (also offered as ``zoo.sdk.bundled``);
the folder must ship as package data. A card that cannot be read fails the plugin with a line
naming the file.
"""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

from registry.spec import PretrainedWeights

SUFFIX = ".card.json"
REQUIRED = ("file", "sha256", "noise")  # what a card must say to be a tag


def bundled(package: str) -> dict[str, Any]:
    """``pretrained`` and ``default_tag`` for an Architecture: the cards in the package, and the
    one whose JSON says ``"default": true``."""
    cards = load_cards(package)
    marked = [tag for tag, data in _read(package) if data.get("default")]
    return {"pretrained": cards, "default_tag": marked[0] if marked else None}


def load_cards(package: str) -> tuple[PretrainedWeights, ...]:
    """Every card in ``package``'s ``weights/`` folder, sorted by tag."""
    return tuple(card_from_json(data, tag) for tag, data in _read(package))


def _read(package: str) -> list[tuple[str, dict[str, Any]]]:
    folder = importlib.resources.files(package) / "weights"
    if not folder.is_dir():
        return []
    entries = sorted((e for e in folder.iterdir() if e.name.endswith(SUFFIX)), key=lambda e: e.name)
    found = []
    for entry in entries:
        try:
            data = json.loads(entry.read_text())
        except ValueError as exc:
            raise ValueError(f"{package}/weights/{entry.name} is not JSON: {exc}") from None
        missing = [k for k in REQUIRED if not isinstance(data, dict) or k not in data]
        if missing:
            raise ValueError(f"{package}/weights/{entry.name} lacks {', '.join(missing)}; "
                             "`zoo ship` writes complete cards")
        found.append((entry.name.removesuffix(SUFFIX), data))
    return found


def card_from_json(data: dict[str, Any], tag: str) -> PretrainedWeights:
    """Map a training card (see zoo.training.loop.finish) to a PretrainedWeights entry."""
    training = data.get("training", {})
    if isinstance(training, dict):
        training = (f"{training.get('command', '')} | data: {training.get('data', '')} | "
                    f"{training.get('steps', '?')} steps, {training.get('wall_time_s', '?')} s")
    return PretrainedWeights(
        tag=tag, description=data.get("description", ""), file=f"bundled:{data['file']}", sha256=data["sha256"],
        preset=data.get("preset"), config=data.get("config", {}), noise=data["noise"],
        sigma_range=tuple(data["sigma_range"]) if data.get("sigma_range") else None, training=training,
        metrics=data.get("metrics", {}), license=data.get("license", "MIT"),
    )
