"""Runtimes beside the frameworks: ONNX Runtime and OpenVINO run a torch architecture's graph.

A runtime backend is built from the architecture's torch backend: the torch Denoiser loads the
canonical safetensors as always, its ``.module`` is exported to ONNX (dynamic batch, height and
width) on first use and cached by the weights' sha256 (``graphs``), and the runtime runs that
graph (``backends``). Nothing new has to ship, and a third-party plugin gets both runtimes as soon
as its torch module exports. ``auto`` picks the runtime (``auto``); ``quantize`` makes int8 graphs.

This room sits below ``zoo.weights`` (the loader dispatches to it) and imports only ``registry``.
"""

from __future__ import annotations

import importlib.util

#: runtime backend name -> the module it needs
RUNTIMES = {"onnx": "onnxruntime", "openvino": "openvino"}
INSTALL_HINTS = {"onnx": "denoise-zoo[onnx]", "openvino": "denoise-zoo[openvino]"}


def installed(runtime: str) -> bool:
    """True when the runtime's library and torch (which exports the graph) are importable."""
    return runtime in RUNTIMES and all(importlib.util.find_spec(m) is not None for m in (RUNTIMES[runtime], "torch", "onnx"))


def supports(arch: object, runtime: str) -> bool:
    """True when ``runtime`` is a runtime this room provides for ``arch`` (it has a torch backend
    and does not declare ``runtime`` itself)."""
    backends = getattr(arch, "backends", {})
    return runtime in RUNTIMES and runtime not in backends and "torch" in backends
