"""Model cards shipped beside bundled weights: ``weights/TAG.card.json`` in a plugin package.

``zoo train`` writes the card next to the weights; shipping a model is copying both files into the
plugin's ``weights/`` folder. The plugin passes ``load_cards(__name__)`` as its ``pretrained``.
"""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

from registry.spec import PretrainedWeights

SUFFIX = ".card.json"


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
    return [(e.name.removesuffix(SUFFIX), json.loads(e.read_text())) for e in entries]


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
