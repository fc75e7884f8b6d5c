"""Model names: ``arch``, ``arch:tag`` or ``arch.tag``, and the pretrained card a name means.

The bottom of the weights room: the Hub, the loader and the commands all read names through here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from registry.errors import UnknownModelError
from registry.spec import Architecture, PretrainedWeights

DEFAULT_MODEL = "mwrcanet"  # its default tag is the real-noise model: what photos have


def parse_model(model: str) -> tuple[str, str | None]:
    """Split 'arch:tag' or 'arch.tag' into (arch, tag)."""
    for sep in (":", "."):
        if sep in model:
            name, _, tag = model.partition(sep)
            return name, tag or None
    return model, None


def pretrained_card(arch: Architecture, tag: str | None) -> PretrainedWeights | None:
    """The card of ``tag`` (the architecture's default when None); an unknown tag is an error."""
    card = arch.weights_for(tag)
    if tag is not None and card is None:
        known = ", ".join(p.tag for p in arch.pretrained) or "none"
        raise UnknownModelError(f"{arch.name} has no pretrained tag {tag!r}; known tags: {known}")
    return card


def plugin_package(arch: Architecture) -> str:
    """The plugin package a bundled weight file ships in: where its config class lives."""
    module = arch.config.__module__
    return module.rsplit(".", 1)[0] if module.count(".") else module


def run_card(weights: str | None, arch: str) -> dict[str, Any] | None:
    """The card `zoo train` wrote beside a local weight file (OUT.card.json), if it is for ``arch``:
    its preset and config rebuild the network the weights were trained as."""
    if not weights or "://" in weights or weights.startswith("bundled:"):
        return None
    card = Path(weights).expanduser().with_suffix(".card.json")
    try:
        data = json.loads(card.read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("architecture") == arch else None


def output_label(model: str | None, weights: str | None, mix: str = "") -> str:
    """{model} in output names (`zoo denoise`, the Ray engine): the model and tag (one spelling for
    arch.tag and arch:tag), and the weights file's stem when weights are given, so that other
    weights never share a name with the stock model's output; then ``mix``, the strength part
    (zoo.inference.strength.describe), when there is one."""
    parts = []
    if model or not weights:
        arch, tag = parse_model(model or DEFAULT_MODEL)
        parts += [arch, *([tag] if tag else [])]
    if weights and str(weights).startswith("hf://"):
        parts.append(weights.removeprefix("hf://").split("@")[0].split("/")[1:2][0] if "/" in weights[5:] else "hub")
    elif weights:
        parts.append(Path(str(weights).removeprefix("bundled:")).stem or "weights")
    return "-".join([*parts, *([mix] if mix else [])]).replace("/", "-").replace(":", "-")

