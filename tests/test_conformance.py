"""The conformance suite (zoo.testing) over every built-in architecture x backend x preset.

Each (architecture, preset) builds each backend once per session (TensorFlow graphs are the slow
part), cached in ``_SUITES``; ``full`` presets run on small inputs to stay inside CI's budget.
"""

from __future__ import annotations

import pytest

from registry.manager import Registry
from zoo.testing import Conformance, cases

BACKENDS = ("torch", "tensorflow")
FULL_SIZE = (19, 13)  # odd, and small enough for the seed-sized networks on two CPU cores
# The acceptance: MWRCANet full is compared across backends on a 64x64 input.
PARITY_SIZES = {("mwrcanet", "full"): (64, 64)}


def _registry() -> Registry:
    # A private registry: the autouse fixture resets the process-wide one around every test.
    reg = Registry()
    reg.load_entry_points()
    return reg


_REGISTRY = _registry()
CASES = cases(list(_REGISTRY.architectures.values()), BACKENDS)
_SUITES: dict[tuple[str, str | None], Conformance] = {}


def suite(name: str, preset: str | None) -> Conformance:
    key = (name, preset)
    if key not in _SUITES:
        size = FULL_SIZE if preset == "full" else (37, 29)
        _SUITES[key] = Conformance(
            _REGISTRY.architectures[name], preset, size=size, parity_size=PARITY_SIZES.get(key)
        )
    return _SUITES[key]


def _backend_cases() -> list[tuple[str, str | None, str]]:
    return [(n, p, b) for n, p in CASES for b in BACKENDS if b in _REGISTRY.architectures[n].backends]


def _installed(name: str, preset: str | None, backend: str) -> Conformance:
    s = suite(name, preset)
    if backend not in s.backends:
        pytest.skip(f"backend {backend} not installed")
    return s


@pytest.mark.parametrize("name,preset", CASES)
def test_config_roundtrip(name, preset):
    suite(name, preset).check_config_roundtrip()


@pytest.mark.parametrize("name,preset,backend", _backend_cases())
def test_forward_odd_size(name, preset, backend):
    _installed(name, preset, backend).check_forward(backend)


@pytest.mark.parametrize("name,preset,backend", _backend_cases())
def test_size_multiple(name, preset, backend):
    _installed(name, preset, backend).check_size_multiple(backend)


@pytest.mark.parametrize("name,preset,backend", _backend_cases())
def test_state_roundtrip(name, preset, backend, tmp_path):
    _installed(name, preset, backend).check_state_roundtrip(backend, tmp_path)


@pytest.mark.parametrize("name,preset,backend", _backend_cases())
def test_load_errors(name, preset, backend):
    _installed(name, preset, backend).check_load_errors(backend)


@pytest.mark.parametrize("name,preset", CASES)
def test_backend_parity(name, preset):
    s = suite(name, preset)
    if not set(BACKENDS) <= set(s.backends):
        pytest.skip(f"{name} has no second installed backend to compare with ({', '.join(s.backends)})")
    assert s.check_parity() <= s.atol


@pytest.mark.parametrize("name,preset", [c for c in CASES if c[1] != "full"])  # full: exports take minutes
def test_runtime_parity(name, preset):
    """onnx and openvino agree with torch on the same weights (<= 1e-4), where installed."""
    found = suite(name, preset).check_runtimes()
    if not found:
        pytest.skip(f"no runtime runs {name} here (its torch backend, or onnx and openvino, not installed)")
    if _REGISTRY.architectures[name].license:  # bridged code (spandrel's): what does not export is reported
        return
    assert all(isinstance(v, float) for v in found.values()), found  # every built-in exports


def test_every_neural_builtin_is_covered():
    names = {n for n, _ in CASES}
    assert "mwrcanet" in names
    assert {("mwrcanet", p) for p in ("tiny", "small", "full")} <= set(CASES)


# -- what the commands do with each built-in (zoo.testing.commands); denoising in tiles and export
# run on a tiny preset whose tiles are small (the kit makes several), training is tests/test_train.py's
COMMAND_CASES = [("edsr", "tiny")]


@pytest.mark.parametrize("name,preset,backend", _backend_cases())
def test_command_contract(name, preset, backend):
    _installed(name, preset, backend).check_command_contract(backend)


@pytest.mark.parametrize("name,preset", CASES)
def test_info_counts_params_and_macs(name, preset):
    s = suite(name, preset)
    if "torch" in s.arch.backends and "torch" not in s.backends:
        pytest.skip("backend torch not installed")
    stats = s.check_info()
    assert stats is None or stats["macs_per_mp"] > 0


@pytest.mark.parametrize("name,preset", [c for c in COMMAND_CASES if c in CASES])
def test_denoise_file_in_tiles_and_export(name, preset, tmp_path):
    s = _installed(name, preset, "torch")
    s.check_denoise_file("torch", tmp_path)
    assert s.check_export("torch", tmp_path) <= 1e-6
