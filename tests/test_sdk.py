"""The public authoring kit (zoo.sdk), the kit's verdict on plugins that skip it, and `zoo ship`'s errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import run_zoo, write_plugin_dist

HOOK = """
    from pydantic import Field
    from zoo.sdk import Architecture, DenoiserConfig, hookimpl

    class C(DenoiserConfig):
        width: int = Field(4, ge=1, description="unused")

    @hookimpl
    def register_architectures(register):
        register(Architecture(name="{name}", config=C, backends={{"{backend}": "{module}:build"}},
                              needs_weights={weights}))
"""

PLAIN_TORCH = """
    import numpy as np
    import torch
    from zoo import Denoiser
    from zoo.sdk import check_state

    class Plain(Denoiser):  # the documented plain-Denoiser route, without TorchDenoiser
        def __init__(self, config):
            super().__init__(config, backend="torch")
            self.net = torch.nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, batch, sigma):
            x = torch.from_numpy(batch).permute(0, 3, 1, 2)
            with torch.no_grad():
                return (x - 0.01 * self.net(x)).permute(0, 2, 3, 1).numpy()

        def state_dict(self):
            return {k: v.numpy().copy() for k, v in self.net.state_dict().items()}

        def load_state_dict(self, state, strict=True):
            own = self.net.state_dict()
            names = check_state({k: tuple(v.shape) for k, v in own.items()}, state, strict, "plaintorch")
            self.net.load_state_dict({k: torch.from_numpy(np.asarray(state[k])) for k in names}, strict=False)

    def build(config):
        return Plain(config)
"""

SIGMA_NUMPY = """
    from zoo import Denoiser
    from zoo.sdk import EstimatesSigma

    class Shrink(Denoiser):
        takes_sigma = True

        def forward(self, batch, sigma):
            return batch * (1 - sigma / 1000.0)  # needs a number

    class Estimating(EstimatesSigma, Shrink):
        pass

    def build(config):
        return {cls}(config)
"""


def install(plugin_dir, name: str, backend: str, backend_source: str, weights: bool) -> None:
    module = f"{name}_pkg.backend"
    hook = HOOK.format(name=name, backend=backend, module=module, weights=weights)
    write_plugin_dist(plugin_dir, name, {name: f"{name}_pkg"}, {f"{name}_pkg.__init__": hook, module: backend_source})


def test_the_sdk_imports_no_framework_and_the_bases_load_lazily():
    code = ("import sys, zoo.sdk as s; assert 'torch' not in sys.modules and 'tensorflow' not in sys.modules; "
            "print(s.TorchDenoiser.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "zoo.sdk.torch_base", out.stderr


def test_builtins_and_old_imports_use_the_sdk_bases():
    from plugins._backends.torch_base import TorchDenoiser as old
    from zoo.sdk import TorchDenoiser, estimate_sigma

    assert old is TorchDenoiser
    import zoo

    d = zoo.load("edsr", backend="torch", pretrained=False, preset="tiny")
    assert isinstance(d, TorchDenoiser) and d.estimate_sigma(np.zeros((8, 8, 3), np.float32)) is None  # blind
    assert estimate_sigma.__module__ == "zoo.sdk.sigma"


def test_a_plain_torch_denoiser_fails_the_kit_naming_the_base_class(plugin_dir, tmp_path):
    pytest.importorskip("torch")
    from zoo.testing import Conformance

    install(plugin_dir, "plaintorch", "torch", PLAIN_TORCH, True)
    suite = Conformance("plaintorch")
    with pytest.raises(AssertionError, match=r"zoo\.sdk\.TorchDenoiser\(config, module\).*no torch module"):
        suite.run_all(tmp_path)
    suite.check_forward("torch")  # the model itself is fine: only what the commands need is missing


def test_no_command_gives_a_traceback_on_a_plain_torch_denoiser(plugin_dir, tmp_path):
    pytest.importorskip("torch")
    install(plugin_dir, "plaintorch", "torch", PLAIN_TORCH, True)
    for args in (["info", "plaintorch"], ["train", "plaintorch", "--data", str(tmp_path), "--out",
                                          str(tmp_path / "o.safetensors"), "--steps", "1", "--holdout", "1"]):
        result = run_zoo(*args, env={"ZOO_PLUGINS": "plaintorch"})
        assert "Traceback" not in result.stderr and result.returncode == 1, result.stderr
        assert "zoo.sdk.TorchDenoiser" in result.stderr


def test_takes_sigma_without_estimate_sigma_gets_the_zoo_estimate(plugin_dir, tmp_path):
    """The engine falls back to zoo.imaging.noise.estimate_sigma, once per image: forward never sees None."""
    from zoo.testing import Conformance
    from zoo.testing.commands import KIT_SIGMA

    install(plugin_dir, "shrink", "numpy", SIGMA_NUMPY.format(cls="Shrink"), False)
    report = Conformance("shrink").check_denoise_file("numpy", tmp_path)
    (estimated,) = set(report["sigmas_estimated"])
    assert abs(estimated - KIT_SIGMA) < 8


def test_estimated_sigma_reaches_every_tile_once_per_image(plugin_dir, tmp_path):
    from zoo.testing import Conformance
    from zoo.testing.commands import KIT_SIGMA

    install(plugin_dir, "estimating", "numpy", SIGMA_NUMPY.format(cls="Estimating"), False)
    report = Conformance("estimating").check_denoise_file("numpy", tmp_path)
    (estimated,) = set(report["sigmas_estimated"])
    assert abs(estimated - KIT_SIGMA) < 8 and set(report["sigmas_given"]) == {KIT_SIGMA}


def test_the_kit_names_a_missing_entry_point(monkeypatch):
    from zoo.testing import Conformance

    monkeypatch.setenv("ZOO_PLUGINS", "")
    with pytest.raises(AssertionError, match=r"no plugin 'nosuch'.*entry point"):
        Conformance("dncnn", plugin="nosuch")


@pytest.mark.parametrize("args, message", [
    (["--tag", "Bad:Tag"], "--tag 'Bad:Tag'"),
    (["--tag", "ok"], "cannot read the card"),
])
def test_ship_errors_are_one_line(tmp_path, args, message):
    from zoo.cli import app

    result = CliRunner().invoke(app, ["ship", str(tmp_path / "missing.card.json"), "--plugin", str(tmp_path), *args])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_ship_refuses_a_package_that_does_not_own_the_architecture(tmp_path):
    import json

    from zoo.cli import app

    (tmp_path / "run.safetensors").write_bytes(b"")
    (tmp_path / "run.card.json").write_text(json.dumps({"architecture": "edsr", "file": "run.safetensors",
                                                        "noise": "awgn"}))
    (tmp_path / "other_pkg").mkdir()
    (tmp_path / "other_pkg" / "__init__.py").write_text("")
    result = CliRunner().invoke(app, ["ship", str(tmp_path / "run.card.json"), "--plugin", str(tmp_path), "--tag", "x"])
    assert result.exit_code == 1 and "registered by the package plugins.edsr" in result.output
