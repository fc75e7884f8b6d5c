"""The plugin conformance suite: what every architecture x backend x preset must satisfy.

Plugin authors run it on their own plugin (see CONTRIBUTING.md), the zoo runs it over every
built-in (tests/test_conformance.py). Each check raises AssertionError with a message saying what
broke; nothing here needs pytest, and no framework is imported until a backend is built.

    from zoo.testing import Conformance
    suite = Conformance("mymodel", preset="tiny", plugin="myplugin")  # loads only that plugin
    suite.run_all(tmp_dir)                               # or call the check_* methods one by one

Checks, per backend: a forward pass on an odd-sized image (shape, float32, finite, in [0, 1]);
``forward`` only ever sees sizes that are multiples of ``size_multiple``; the canonical state dict
round-trips through a .safetensors file into a fresh instance with identical output; malformed
weights raise WeightsError. Once: the config round-trips through its Hub JSON, and all backends
agree on the same weights (max abs difference <= ``atol``, fp32). The runtimes the zoo offers over
a torch backend (``--backend onnx|openvino``, :mod:`zoo.runtimes`), where installed, must agree with
torch too (``check_runtimes``): a module that does not export is reported, not failed (the runtime
is then simply not offered by ``--backend auto``), one that exports but differs fails.

Then what the commands do with the plugin (:mod:`zoo.testing.commands`): ``zoo info`` (params and
MACs on the torch module), ``zoo denoise`` over a file in tiles with sigma given and estimated,
``zoo train`` for a few steps per trainable backend, ``zoo export`` and loading the folder back.
``plugin=`` (the entry-point name) loads that plugin alone, strictly, so an unrelated broken
plugin in the environment cannot fail the kit; it sets ZOO_PLUGINS for the rest of the process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from registry.denoiser import Denoiser
from registry.errors import WeightsError
from registry.manager import get_registry
from registry.spec import Architecture
from zoo.testing.commands import TRAIN_STEPS, CommandChecks, isolate_plugin
from zoo.imaging.samples import GOLDEN_SEED, golden_pair, sample_image  # noqa: F401  (public here too)

ODD_SIZE = (37, 29)  # odd and coprime with every size multiple, so padding is always exercised
PARITY_ATOL = 1e-4
SIGMA = 25.0  # fed to models that take a noise level


def _architecture(arch: str | Architecture) -> Architecture:
    return arch if isinstance(arch, Architecture) else get_registry().get(arch)


@dataclass
class Conformance(CommandChecks):
    """The suite for one architecture at one preset; builds each backend at most twice, lazily.

    All backends share the weights of the first one built (``reference``), so parity compares the
    same random weights. ``backends`` defaults to every installed backend of the architecture.
    """

    arch: str | Architecture
    preset: str | None = None
    backends: tuple[str, ...] | None = None
    size: tuple[int, int] = ODD_SIZE
    parity_size: tuple[int, int] | None = None
    atol: float = PARITY_ATOL
    plugin: str | None = None
    _built: dict[str, Denoiser] = field(default_factory=dict, repr=False)
    _state: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _forward_shapes: dict[str, tuple[Any, Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.plugin is not None:
            isolate_plugin(self.plugin)
        self.arch = _architecture(self.arch)
        if self.backends is None:
            self.backends = tuple(b for b in self.arch.backends if self.arch.backend_installed(b))
        self.config = self.arch.config.preset(self.preset)

    # -- building
    def build(self, backend: str) -> Denoiser:
        """A new, unweighted instance (the framework's random initialisation)."""
        denoiser = self.arch.build(self.config, backend)
        denoiser.architecture, denoiser.backend = self.arch.name, backend
        return denoiser

    def denoiser(self, backend: str) -> Denoiser:
        """The cached instance of ``backend``, holding the shared reference weights."""
        if backend not in self._built:
            denoiser = self.build(backend)
            if self._state is None:
                self._state = denoiser.state_dict()
            elif self.arch.needs_weights:
                denoiser.load_state_dict(self._state)
            self._built[backend] = denoiser
        return self._built[backend]

    def sigma(self, denoiser: Denoiser) -> float | None:
        return SIGMA if denoiser.uses_sigma else None

    # -- per-backend checks
    def output(self, backend: str) -> np.ndarray:
        """The cached instance's output on the odd-sized test image (computed once per backend)."""
        if backend not in self._outputs:
            d = self.denoiser(backend)
            original = d.forward

            def recording(batch: np.ndarray, sigma: float | None) -> np.ndarray:
                out = original(batch, sigma)
                self._forward_shapes[backend] = (batch.shape, np.shape(out))
                return out

            d.forward = recording  # type: ignore[method-assign]
            try:
                self._outputs[backend] = d.denoise(sample_image(self.size), self.sigma(d))
            finally:
                del d.forward
        return self._outputs[backend]

    def check_forward(self, backend: str) -> np.ndarray:
        """An odd-sized image comes back with the same shape, float32, finite, within [0, 1]."""
        out, shape = self.output(backend), (*self.size, 3)
        where = f"{self.arch.name}/{backend}/{self.preset}"
        assert out.shape == shape, f"{where}: output shape {out.shape} != input {shape}"
        assert out.dtype == np.float32, f"{where}: output dtype {out.dtype}, expected float32"
        assert np.isfinite(out).all(), f"{where}: output has NaN or inf"
        assert out.min() >= 0.0 and out.max() <= 1.0, f"{where}: output outside [0, 1]"
        return out

    def check_size_multiple(self, backend: str) -> None:
        """``forward`` only sees multiples of size_multiple and returns the padded size."""
        self.output(backend)
        (shape_in, shape_out), m = self._forward_shapes[backend], self.denoiser(backend).size_multiple
        assert shape_in[1] % m == 0 and shape_in[2] % m == 0, f"forward got {shape_in}, not multiples of {m}"
        assert tuple(shape_out) == tuple(shape_in), f"forward returned {shape_out} for input {shape_in}"

    def check_state_roundtrip(self, backend: str, tmp_dir: Path) -> None:
        """state_dict -> .safetensors -> a fresh instance: same tensors, identical output."""
        from zoo.weights.files import load_state, save_state

        d = self.denoiser(backend)
        state = d.state_dict()
        assert all(isinstance(v, np.ndarray) for v in state.values()), "state_dict values must be numpy arrays"
        path = Path(tmp_dir) / f"{self.arch.name}-{backend}-{self.preset}.safetensors"
        save_state(state, path)
        fresh = self.build(backend)
        fresh.load_state_dict(load_state(path))
        again = fresh.state_dict()
        assert sorted(again) == sorted(state), "reloaded state dict has other tensor names"
        assert all(np.array_equal(again[k], state[k]) for k in state), "reloaded tensors differ"
        diff = _max_diff(self.output(backend), fresh.denoise(sample_image(self.size), self.sigma(d)))
        assert diff <= 1e-6, f"fresh instance with reloaded weights differs by {diff:.3g}"

    def check_load_errors(self, backend: str) -> None:
        """Missing, unexpected and misshapen tensors raise WeightsError (strict loading)."""
        if not self.arch.needs_weights:
            return
        fresh = self.build(backend)
        state = self.denoiser(backend).state_dict()
        first = next(iter(state))
        broken = [
            {k: v for k, v in state.items() if k != first},
            {**state, "not_a_layer.weight": np.zeros(1, np.float32)},
            {**state, first: np.zeros(tuple(s + 1 for s in state[first].shape) or (2,), np.float32)},
        ]
        for bad in broken:
            try:
                fresh.load_state_dict(bad)
            except WeightsError:
                continue
            raise AssertionError(f"{backend}: malformed weights loaded without a WeightsError")

    # -- once per architecture and preset
    def check_config_roundtrip(self) -> None:
        """The config survives its Hub config.json (to_hub_dict -> JSON -> from_hub_dict)."""
        text = json.dumps(self.config.to_hub_dict(self.arch.name))
        data = json.loads(text)
        assert data["architecture"] == self.arch.name
        back = self.arch.config.from_hub_dict(data)
        assert back == self.config, f"config changed through JSON: {back!r} != {self.config!r}"

    def check_parity(self) -> float:
        """Every backend gives the same output on the same weights; returns the max abs diff.

        Raw ``forward`` outputs are compared too (before clamping hides differences), relative to
        their magnitude where random weights give values far outside [0, 1].
        """
        if len(self.backends) < 2:
            return 0.0
        h, w = self.parity_size or self.size
        ref, *others = [self.denoiser(b) for b in self.backends]
        m = ref.size_multiple
        padded = sample_image((h + (-h) % m, w + (-w) % m), seed=2)[None]
        raw = ref.forward(padded, self.sigma(ref))
        worst = 0.0
        for d in others:
            diff = _max_diff(self._clamped(ref, (h, w)), self._clamped(d, (h, w)))
            raw_diff = _max_diff(raw, d.forward(padded, self.sigma(d))) / max(1.0, float(np.abs(raw).max()))
            where = f"{self.arch.name}/{self.preset}: {ref.backend} vs {d.backend}"
            assert diff <= self.atol, f"{where}: outputs differ by {diff:.3g} > {self.atol:g}"
            assert raw_diff <= self.atol, f"{where}: raw outputs differ by {raw_diff:.3g} (relative)"
            worst = max(worst, diff, raw_diff)
        return worst

    def check_runtimes(self) -> dict[str, float | str]:
        """fp32 parity of each installed runtime (onnx, openvino) with the torch backend on the same
        weights: {runtime: max abs diff, or why it does not run this model}."""
        from registry.errors import BackendUnavailableError
        from zoo import runtimes
        from zoo.runtimes.backends import build

        if "torch" not in self.backends or not self.arch.needs_weights:
            return {}
        ref, image = self.denoiser("torch"), sample_image(self.size, seed=1)
        found: dict[str, float | str] = {}
        for runtime in (r for r in runtimes.RUNTIMES if runtimes.supports(self.arch, r) and runtimes.installed(r)):
            try:
                fast = build(self.arch, self.config, runtime)
                fast.load_state_dict(ref.state_dict())
                out = fast.denoise(image, None)
            except BackendUnavailableError as exc:
                found[runtime] = f"not offered: {exc}"
                continue
            diff = _max_diff(ref.denoise(image, self.sigma(ref)), out)
            assert diff <= self.atol, f"{self.arch.name}/{self.preset}: torch vs {runtime} differ by {diff:.3g}"
            found[runtime] = diff
        return found

    def _clamped(self, d: Denoiser, size: tuple[int, int]) -> np.ndarray:
        if size == tuple(self.size):
            return self.output(d.backend)  # already computed by check_forward
        return d.denoise(sample_image(size, seed=1), self.sigma(d))

    def run_all(self, tmp_dir: Path, commands: bool = True, train_steps: int = TRAIN_STEPS) -> dict[str, Any]:
        """Every check; returns {'parity': max abs diff, ...what the command checks measured}.
        Raises AssertionError on the first failure. ``commands=False`` skips the command checks,
        ``train_steps=0`` only the training."""
        self.check_config_roundtrip()
        for backend in self.backends:
            self.check_forward(backend)
            self.check_size_multiple(backend)
            self.check_state_roundtrip(backend, tmp_dir)
            self.check_load_errors(backend)
        report: dict[str, Any] = {"parity": self.check_parity()}
        if commands:
            report.update(self.run_commands(tmp_dir, train_steps))
        # last: OpenVINO loaded in a process makes later Keras training there crash (SIGSEGV)
        report["runtimes"] = self.check_runtimes()
        return report


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def cases(
    architectures: list[Architecture] | None = None, backends: tuple[str, ...] = ("torch", "tensorflow")
) -> list[tuple[str, str | None]]:
    """(architecture name, preset) pairs to parametrize over: registered architectures with any of
    ``backends``, each at every preset (or its default config when it has none)."""
    archs = architectures if architectures is not None else list(get_registry().architectures.values())
    found = []
    for arch in sorted(archs, key=lambda a: a.name):
        if any(b in arch.backends for b in backends):
            found += [(arch.name, p) for p in (arch.config.presets or [None])]
    return found


# -- golden checks of shipped weights (the crop: zoo.imaging.samples.golden_pair) -----------------
def golden_psnr(denoiser: Denoiser, noise: str) -> float:
    """PSNR of ``denoiser`` on :func:`golden_pair` (the number a card's ``golden_psnr`` states)."""
    from zoo.inference import engine
    from zoo.imaging.metrics import psnr

    noisy, clean = golden_pair(noise)
    sigma = 25.0 if noise != "real" and denoiser.uses_sigma else None
    return psnr(clean, engine.run(denoiser, noisy, sigma))
