"""``--backend auto``: the fastest installed backend for a model and precision.

Two sources, the first that answers wins:

1. **This machine's table.** `zoo bench speed` records, for each model and precision it timed on
   two or more backends, the fastest one in ``auto.json`` beside the graph cache
   (``$ZOO_GRAPH_CACHE/../auto.json``), under a key naming the CPU, its core count and the
   runtimes' versions: a new CPU or a runtime upgrade starts a fresh table. Only an installed
   backend is taken from it.
2. **The rule**, measured with `zoo bench speed` on the machine this project is built on (AMD
   EPYC with AVX-512 BF16, no AMX, 2 threads; `benchmarks/results/speed_runtimes.json`): for the
   default MWRCANet at 1024x1024, OpenVINO ran fp32 1.88x and int8 2.09x eager torch fp32 and
   bf16 1.72x torch's bf16 autocast; ONNX Runtime ran fp32 1.49x and int8 1.77x. So: openvino,
   else onnx (no bf16 there), else the architecture's default backend.

Never a runtime for a model that takes a noise level, or a config with a noise-level map (their
graphs do not export yet), or one without a torch backend (classical methods): their default backend. ``ZOO_AUTO_BACKEND`` names
a backend to use instead. The choice is ``Denoiser.backend``, shown by `zoo denoise -v`;
`zoo info` shows what auto picks for each precision.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from zoo.atomic import atomic_path
from zoo.runtimes import installed, supports
from zoo.sdk.common import uses_noise_map

ORDER = {"fp32": ("openvino", "onnx"), "int8": ("openvino", "onnx"), "bf16": ("openvino",)}


def choose(arch: Any, precision: str = "fp32", config: Any = None) -> str:
    """The backend ``auto`` means for ``arch`` (built with ``config``) at ``precision`` (see the
    module docstring)."""
    return explain(arch, precision, config)[0]


def explain(arch: Any, precision: str = "fp32", config: Any = None) -> tuple[str, str]:
    """(backend, why): the choice and where it came from ('ZOO_AUTO_BACKEND', 'measured here',
    'rule', or why no runtime applies)."""
    forced = os.environ.get("ZOO_AUTO_BACKEND", "").strip()
    if forced and forced != "auto":
        return forced, "ZOO_AUTO_BACKEND"
    if "torch" not in arch.backends or not arch.backend_installed("torch"):
        return arch.default_backend(), "no torch backend to export"
    if not _sigma_free(arch) or uses_noise_map(config):
        return arch.default_backend(), "takes a noise level: no runtime graph yet"
    measured = table().get(arch.name, {}).get(precision)
    if measured and _usable(arch, measured):
        return measured, "measured here (zoo bench speed)"
    for runtime in ORDER.get(precision, ()):
        if supports(arch, runtime) and installed(runtime):
            return runtime, "rule"
    return arch.default_backend(), "rule" if precision in ORDER else "rule (no runtime runs it)"


def _usable(arch: Any, backend: str) -> bool:
    if supports(arch, backend):
        return installed(backend)
    return backend in arch.backends and arch.backend_installed(backend)


# -- the machine's table ---------------------------------------------------------------------------
def table_path() -> Path:
    from zoo.runtimes.graphs import cache_root

    return cache_root().parent / "auto.json"


def machine_key() -> str:
    """The CPU model, core count and runtime versions: what the timings depend on."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for package in ("torch", "onnxruntime", "openvino"):
        try:
            versions.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            pass
    return f"{cpu} x{os.cpu_count()} " + " ".join(versions)


def table() -> dict[str, dict[str, str]]:
    """This machine's measured choices: {architecture: {precision: backend}} ({} when none)."""
    try:
        data = json.loads(table_path().read_text())
    except (OSError, ValueError):
        return {}
    entry = data.get(machine_key()) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) else {}


def record(rows: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Record the fastest backend per (architecture, precision) among speed rows (``arch``,
    ``backend``, ``dtype``, ``mp_per_s``; uncompiled rows with trained or random weights alike)
    timed on two or more backends; returns what was recorded."""
    best: dict[tuple[str, str], tuple[float, str]] = {}
    seen: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        if row.get("compile") or not row.get("mp_per_s") or not row.get("arch"):
            continue
        key = (row["arch"], row["dtype"])
        seen.setdefault(key, set()).add(row["backend"])
        if row["mp_per_s"] > best.get(key, (0.0, ""))[0]:
            best[key] = (row["mp_per_s"], row["backend"])
    chosen: dict[str, dict[str, str]] = {}
    for (arch, dtype), (_, backend) in best.items():
        if len(seen[(arch, dtype)]) >= 2:
            chosen.setdefault(arch, {})[dtype] = backend
    if chosen:
        _write(chosen)
    return chosen


def _write(chosen: dict[str, dict[str, str]]) -> None:
    path = table_path()
    try:
        data = json.loads(path.read_text())
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    entry = data.setdefault(machine_key(), {})
    for arch, choices in chosen.items():
        entry.setdefault(arch, {}).update(choices)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    except OSError:  # a read-only cache: the rule still answers
        pass


def _sigma_free(arch: Any) -> bool:
    """False for architectures whose torch Denoiser takes a noise level (read from the class
    without building a model: the backend's module is imported, which torch needs anyway)."""
    import importlib

    module = importlib.import_module(arch.backends["torch"].partition(":")[0])
    return not any(getattr(v, "takes_sigma", False) for v in vars(module).values() if isinstance(v, type)
                   and hasattr(v, "takes_sigma") and v.__module__ == module.__name__)
