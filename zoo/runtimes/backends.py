"""The onnx (ONNX Runtime) and openvino Denoiser backends, over an architecture's torch backend.

A :class:`RuntimeDenoiser` holds the torch Denoiser it was built from: weights load into that
(the canonical safetensors, checked as always) and its ``.module`` is exported on first use
(``zoo.runtimes.graphs``). ``forward`` picks the graph for the batch's height and width, runs it
in a session kept per graph, and hands NHWC float32 back to the shared Denoiser base, which pads
to the size multiple, clamps and crops; the engine tiles and batches as for any backend.

Threads: ``OMP_NUM_THREADS`` (what ``zoo.inference.runtime.set_threads`` and ``--threads`` set)
sizes each session's intra-op pool; unset, the runtime's default (every core). Precision: fp32
everywhere (OpenVINO is told so: on a bf16-capable CPU it would otherwise compute in bf16); bf16
on openvino (its precision hint); int8 on both (``zoo.runtimes.quantize``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from registry.denoiser import Denoiser
from registry.errors import BackendUnavailableError, ZooError
from zoo.runtimes import INSTALL_HINTS, RUNTIMES, graphs, installed

PRECISIONS = {"onnx": ("fp32", "int8"), "openvino": ("fp32", "bf16", "int8")}


def threads() -> int | None:
    """The intra-op threads asked for (OMP_NUM_THREADS), None for the runtime's default."""
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return value if value > 0 else None


class RuntimeDenoiser(Denoiser):
    """A torch Denoiser's graph run by a runtime; subclasses open a session on a graph file."""

    runtime = ""

    def __init__(self, torch_denoiser: Denoiser) -> None:
        super().__init__(torch_denoiser.config, architecture=torch_denoiser.architecture, backend=self.runtime)
        self.torch = torch_denoiser
        for name in ("size_multiple", "receptive_field", "takes_sigma", "channels", "bytes_per_pixel"):
            if hasattr(torch_denoiser, name):
                setattr(self, name, getattr(torch_denoiser, name))
        self._sessions: dict[tuple[int, int], Any] = {}
        self._sha: str | None = None
        self._side: int | None = None
        self.graph_files: dict[tuple[int, int], str] = {}

    # -- weights: the torch Denoiser's, so the canonical checks are the same
    def state_dict(self) -> dict[str, np.ndarray]:
        return self.torch.state_dict()

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        self.torch.load_state_dict(state, strict)
        self._sessions.clear()
        self.graph_files.clear()
        self._sha = None

    @property
    def weights_sha256(self) -> str:
        if self._sha is None:
            self._sha = graphs.weights_sha256(self.state_dict())
        return self._sha

    @property
    def min_side(self) -> int:
        if self._side is None:
            self._side = graphs.min_side(self.torch)
        return self._side

    def accelerate(self, *, precision: str = "fp32", compile: bool = False) -> None:
        if compile:
            raise ZooError(f"{self.architecture} ({self.runtime}) runs a compiled graph already; leave out --compile")
        if precision not in PRECISIONS[self.runtime]:
            raise ZooError(f"{self.architecture} ({self.runtime}) cannot run {precision}; it runs "
                           f"{', '.join(PRECISIONS[self.runtime])} (bf16: --backend openvino or torch)")
        if precision != self.precision:
            self.precision = precision
            self._sessions.clear()
            self.graph_files.clear()

    # -- running
    def prepare(self) -> None:
        """Export (or take from the cache) and open the graph serving every input at least
        ``min_side`` on both sides: what a photo's tiles use. Raises BackendUnavailableError when
        the module does not export or the runtime cannot compile it."""
        self.session(self.min_side, self.min_side)

    def session(self, h: int, w: int) -> Any:
        """The open session serving h x w inputs (made on first use)."""
        key = graphs.traced_size(h, w, self.min_side)
        if key not in self._sessions:
            path = self.graph(h, w)
            self._sessions[key] = self.open(path)
            self.graph_files[key] = str(path)
        return self._sessions[key]

    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        _, h, w, _ = batch.shape
        session = self.session(h, w)
        x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
        return np.ascontiguousarray(self.run(session, x).transpose(0, 2, 3, 1))

    def graph(self, h: int, w: int) -> Any:
        """The graph file for h x w inputs at this precision (exported or quantised when missing)."""
        if self.precision == "int8":
            from zoo.runtimes import quantize

            return quantize.int8_graph(self, h, w)
        return graphs.graph_for(self.torch, self.weights_sha256, h, w, self.min_side)

    def open(self, path: Any) -> Any:
        raise NotImplementedError

    def run(self, session: Any, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.architecture} backend={self.runtime} precision={self.precision}>"


class OnnxDenoiser(RuntimeDenoiser):
    runtime = "onnx"

    def open(self, path: Any) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads():
            options.intra_op_num_threads = threads()
            options.inter_op_num_threads = 1
        try:
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BackendUnavailableError(f"onnxruntime cannot open {path}: {graphs._first_line(exc)}") from exc

    def run(self, session: Any, x: np.ndarray) -> np.ndarray:
        return session.run(None, {session.get_inputs()[0].name: x})[0]


class OpenVINODenoiser(RuntimeDenoiser):
    runtime = "openvino"

    def open(self, path: Any) -> Any:
        import openvino as ov

        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY",
                                  "INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32"}
        if threads():
            config["INFERENCE_NUM_THREADS"] = threads()
        try:
            core = ov.Core()
            return core.compile_model(core.read_model(str(path)), "CPU", config)
        except Exception as exc:
            raise BackendUnavailableError(f"openvino cannot compile {path}: {graphs._first_line(exc)}") from exc

    def run(self, session: Any, x: np.ndarray) -> np.ndarray:
        return np.asarray(session(x)[0])


CLASSES = {"onnx": OnnxDenoiser, "openvino": OpenVINODenoiser}


def build(arch: Any, config: Any, runtime: str) -> RuntimeDenoiser:
    """A runtime Denoiser of ``arch`` with ``config``, over its torch backend (unweighted)."""
    if runtime not in RUNTIMES:
        raise BackendUnavailableError(f"no runtime {runtime!r}; the runtimes are {', '.join(RUNTIMES)}")
    if "torch" not in arch.backends:
        raise BackendUnavailableError(f"{arch.name} has no torch backend, so no {runtime} graph; "
                                      f"it has: {', '.join(arch.backends)}")
    if not installed(runtime):
        raise BackendUnavailableError(f"backend {runtime!r} of {arch.name} is not installed: "
                                      f"pip install '{INSTALL_HINTS[runtime]}'")
    torch_denoiser = arch.build(config, "torch")
    torch_denoiser.architecture, torch_denoiser.backend = arch.name, "torch"
    if getattr(torch_denoiser, "uses_sigma", False):
        raise BackendUnavailableError(f"{arch.name} takes a noise level; its {runtime} graph is not supported yet "
                                      "(use --backend torch)")
    if not hasattr(torch_denoiser, "module"):
        raise BackendUnavailableError(f"{arch.name}'s torch backend has no .module to export to {runtime}")
    return CLASSES[runtime](torch_denoiser)
