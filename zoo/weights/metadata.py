"""What a weights file says about itself: the ``__metadata__`` of every safetensors file the zoo
writes (``zoo train``, ``zoo export``, ``zoo convert``, the shipped tags).

All values are strings, as safetensors requires: ``format`` (``denoise-zoo/1``), ``architecture``,
``config`` (the full config as JSON, what rebuilds the network), ``tag`` (the pretrained tag, or
empty) and ``provenance`` (how it was made: the training command, or where it was converted
from). With it, ``zoo denoise --weights FILE`` needs no ``--model`` and no ``--preset``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from registry.config import DenoiserConfig
from registry.errors import WeightsError
from registry.spec import Architecture

FORMAT = "denoise-zoo/1"


def describe(architecture: str, config: DenoiserConfig, tag: str | None = None, provenance: str = "") -> dict[str, str]:
    """The metadata to write beside a state dict of ``architecture`` built as ``config``."""
    fields = config.model_dump(mode="json")
    return {"format": FORMAT, "architecture": architecture, "config": json.dumps(fields, sort_keys=True),
            "tag": tag or "", "provenance": provenance}


def read(path: Path) -> dict[str, str]:
    """The zoo's metadata of a safetensors file ({} for other files, or files the zoo did not write)."""
    if Path(path).suffix.lower() != ".safetensors":
        return {}
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{Path(path).name} is not a valid safetensors file: {exc}") from exc
    return meta if meta.get("architecture") else {}


def config_of(meta: dict[str, str], arch: Architecture, **overrides: Any) -> DenoiserConfig | None:
    """The config the metadata records (with ``overrides``), or None when it records none."""
    if not meta.get("config"):
        return None
    try:
        fields = json.loads(meta["config"])
    except ValueError as exc:
        raise WeightsError(f"the weights' metadata holds a config that is not JSON: {exc}") from exc
    known = {k: v for k, v in fields.items() if k in arch.config.model_fields}  # fields a newer zoo dropped
    return arch.config.from_hub_dict({**known, **overrides})
