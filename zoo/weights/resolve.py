"""Resolve a weights reference to a verified local file.

References: a local path, ``bundled:<file>`` (inside the plugin package's ``weights/`` folder) or
``hf://ORG/REPO/FILE[@REVISION]``. Whatever the source, a pinned sha256 is checked before any byte
is parsed (zoo.weights.files then parses safetensors only).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from registry.errors import WeightsError
from zoo.weights.files import verify


def resolve(ref: str, sha256: str | None = None, package: str | None = None, offline: bool | None = None) -> Path:
    """Local path of a verified weights file for ``ref`` (see module docstring)."""
    if ref.startswith("hf://"):
        from zoo.weights import hub  # imported lazily: huggingface_hub is slow to import

        # hub verifies the pin and the Hub's own hash, and evicts a bad cached copy
        return hub.download(ref, sha256, offline=offline)
    if ref.startswith("bundled:"):
        path = _bundled(ref.removeprefix("bundled:"), package)
    else:
        path = Path(ref).expanduser()
        if not path.is_file():
            raise WeightsError(f"weights file not found: {ref}")
    if sha256 is not None:
        verify(path, sha256)
    return path


def _bundled(name: str, package: str | None) -> Path:
    if package is None:
        raise WeightsError(f"bundled:{name} needs the plugin package it ships in")
    path = Path(str(importlib.resources.files(package) / "weights" / name))
    if not path.is_file():
        raise WeightsError(f"bundled weights {name!r} are missing from {package}; reinstall denoise-zoo")
    return path


