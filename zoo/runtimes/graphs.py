"""ONNX graphs of torch Denoisers: export with dynamic batch, height and width, and their cache.

Export is TorchScript tracing (``torch.onnx.export(dynamo=False)``, opset 17), which turns every
operator the built-in architectures use into plain ONNX: the Haar DWT (strided slices), the IWT
(chunks, stack and ``DepthToSpace``), pixel shuffle, PReLU, global and local average pooling.

Shape-dependent Python in a forward is frozen at the traced size. The one case in the zoo is TLC
local pooling (``local_mean``): its window is ``min(feature size, kernel)``, so a graph traced on
an input at least ``min_side`` pixels on each side (where no window is clipped) serves every such
input; a smaller side gets a graph of its own, traced at exactly that side. ``min_side`` is found
by probing: every submodule with an integer ``pool_kernel`` (the built-ins' channel attention and
ASPP image pooling) records the size of the map it sees, which gives its scale.

Cache: ``$ZOO_GRAPH_CACHE`` or ``$XDG_CACHE_HOME/denoise-zoo/graphs`` (``~/.cache/...``), one
folder per weights sha256 (of the canonical state: the same tensors hash the same whichever file
held them), one file per config, traced side and precision.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from registry.errors import BackendUnavailableError
from zoo.atomic import atomic_path

EXPORT_VERSION = "1"  # bump when the export changes, so that cached graphs are rebuilt
OPSET = 17
PROBE = 64  # probe input side (times the size multiple's ceiling) for min_side


def cache_root() -> Path:
    """Where graphs are cached (see the module docstring)."""
    if os.environ.get("ZOO_GRAPH_CACHE"):
        return Path(os.environ["ZOO_GRAPH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "denoise-zoo" / "graphs"


def weights_sha256(state: dict[str, np.ndarray]) -> str:
    """sha256 of a canonical state dict: names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        array = np.ascontiguousarray(state[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def config_key(denoiser: Any) -> str:
    """Short hash of what, beside the weights, fixes the graph: class, config, versions."""
    import torch

    config = denoiser.config.model_dump(mode="json") if hasattr(denoiser.config, "model_dump") else repr(denoiser.config)
    text = json.dumps([type(denoiser).__module__, type(denoiser).__qualname__, config, EXPORT_VERSION,
                       torch.__version__, OPSET], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def min_side(denoiser: Any) -> int:
    """Smallest input side (a multiple of size_multiple) at which no local pooling window of the
    module is clipped; size_multiple when it has none (see the module docstring)."""
    import torch

    module, m = denoiser.module, max(1, int(denoiser.size_multiple))
    probe = -(-PROBE // m) * m
    needs, hooks = [], []

    def record(mod: Any, inputs: tuple, _out: Any) -> None:
        side = inputs[0].shape[-2]
        needs.append(int(mod.pool_kernel) * probe / max(1, side))

    for sub in module.modules():
        if isinstance(getattr(sub, "pool_kernel", None), int):
            hooks.append(sub.register_forward_hook(record))
    if not hooks:
        return m
    try:
        with torch.inference_mode():
            _run_module(denoiser, torch.zeros(1, denoiser.channels, probe, probe))
    finally:
        for hook in hooks:
            hook.remove()
    need = int(np.ceil(max(needs))) if needs else m
    return max(m, -(-need // m) * m)


def traced_size(h: int, w: int, side: int) -> tuple[int, int]:
    """The (height, width) the graph serving an h x w input is traced at: (side, side) for one
    serving every input at least ``side`` on both sides, else exactly (h, w) (a static graph)."""
    return (side, side) if min(h, w) >= side else (h, w)


def graph_path(denoiser: Any, sha: str, size: tuple[int, int], side: int, precision: str = "fp32") -> Path:
    shape = f"ge{side}" if size == (side, side) else "x".join(map(str, size))
    return cache_root() / sha / f"{config_key(denoiser)}-{shape}-{precision}.onnx"


def export(denoiser: Any, path: Path, size: tuple[int, int], side: int | None = None) -> Path:
    """Trace the torch Denoiser's module at ``size`` and write an ONNX graph with dynamic batch,
    height and width to ``path`` (atomically); its metadata records the sides it serves."""
    import torch

    if getattr(denoiser, "uses_sigma", False):
        raise BackendUnavailableError(f"{denoiser.architecture or type(denoiser).__name__} takes a noise level; "
                                      "its ONNX graph is not supported yet (use --backend torch)")
    wrapper = _Wrapped(denoiser)
    dynamic = side is None or min(size) >= side
    m = max(1, int(denoiser.size_multiple))  # traced one multiple above side: min(side, k) would tie
    traced = (size[0] + m, size[1] + m) if dynamic else size
    x = torch.rand(1, denoiser.channels, *traced, generator=torch.Generator().manual_seed(0))
    # A side below min_side is frozen (its pooling windows are clipped to it, which TorchScript
    # tracing would record as a dynamic window): that graph comes from torch.export, static in
    # height and width, dynamic in the batch.
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, warnings.catch_warnings(), _quiet():
        warnings.simplefilter("ignore")
        try:
            if dynamic:
                axes = {0: "batch", 2: "height", 3: "width"}
                torch.onnx.export(wrapper, (x,), str(tmp), dynamo=False, opset_version=OPSET, input_names=["image"],
                                  output_names=["denoised"], dynamic_axes={"image": axes, "denoised": axes})
            else:
                batch = torch.export.Dim("batch", min=1, max=4096)
                program = torch.onnx.export(wrapper, (torch.cat([x, x]),), dynamo=True, opset_version=18,
                                            input_names=["image"], output_names=["denoised"],
                                            dynamic_shapes=({0: batch},), verbose=False)
                program.save(str(tmp))
        except Exception as exc:  # tracing or symbolic failures: the plugin's module does not export
            raise BackendUnavailableError(f"{denoiser.architecture or type(denoiser).__name__} does not export to "
                                          f"ONNX: {_first_line(exc)}") from exc
        _stamp(tmp, denoiser, size, side)
    return path


def graph_for(denoiser: Any, sha: str, h: int, w: int, side: int) -> Path:
    """The cached fp32 graph serving h x w inputs, exported first when missing."""
    size = traced_size(h, w, side)
    path = graph_path(denoiser, sha, size, side)
    if not path.is_file():
        export(denoiser, path, size, side)
    return path


def export_file(denoiser: Any, path: Path) -> Path:
    """A stand-alone graph of a weighted torch Denoiser (``zoo convert --to onnx``): dynamic in
    batch, height and width, serving every input at least ``min_side`` on both sides."""
    if not hasattr(denoiser, "module"):
        raise BackendUnavailableError(f"{denoiser.architecture} ({denoiser.backend}) has no torch module to export")
    side = min_side(denoiser)
    return export(denoiser, path, (side, side), side)


def _stamp(path: Path, denoiser: Any, size: tuple[int, int], side: int | None) -> None:
    """Record in the graph's metadata what a user of a bare model.onnx needs to know."""
    import onnx

    model = onnx.load(str(path))
    side = side or max(size)
    info = {"producer": "denoise-zoo", "architecture": denoiser.architecture, "layout": "NCHW float32 in [0, 1]",
            "size_multiple": str(denoiser.size_multiple),
            "serves": f"height >= {side} and width >= {side}" if size == (side, side) else f"{size[0]}x{size[1]} only",
            "config": json.dumps(denoiser.config.model_dump(mode="json"), sort_keys=True, default=str)}
    for key, value in info.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.export logs a warning per missing torchvision operator; not ours to show."""
    import logging

    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _run_module(denoiser: Any, x: Any) -> Any:
    return denoiser.run_module(x, None) if hasattr(denoiser, "run_module") else denoiser.module(x)


class _Wrapped:  # built lazily as an nn.Module subclass, so importing this file imports no torch
    def __new__(cls, denoiser: Any) -> Any:
        from torch import nn

        class Exported(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = denoiser.module

            def forward(self, x: Any) -> Any:
                return _run_module(denoiser, x)

        return Exported().eval()


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__

