"""The neural tutorial (CONTRIBUTING.md, tests/fixtures/zoo-dncnn) end to end, as an outside author
runs it: install the package, train 20 steps with `zoo train`, ship a tag with `zoo ship`, reinstall
with the shipped weights as package data, and `zoo denoise --model dncnn` uses the tag; the kit
passes on it and both backends agree on the shipped weights."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from registry import manager
from tests.conftest import ROOT, run_zoo, save_rgb

pytest.importorskip("torch")
DNCNN = ROOT / "tests" / "fixtures" / "zoo-dncnn"
FILES = ("pyproject.toml", "zoo_dncnn/__init__.py", "zoo_dncnn/torch_backend.py", "zoo_dncnn/keras_backend.py",
         "tests/test_conformance.py")


def pip_target(source: Path, target: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
           str(target), str(source)]
    subprocess.run(pip, check=True, capture_output=True, timeout=300)
    return target


def use_site(site: Path, monkeypatch) -> None:
    """``site`` first on sys.path and PYTHONPATH, only the dncnn plugin loaded, a fresh registry."""
    for name in [m for m in sys.modules if m == "zoo_dncnn" or m.startswith("zoo_dncnn.")]:
        del sys.modules[name]
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("ZOO_PLUGINS", "dncnn")
    manager.reset_registry()


def test_contributing_shows_the_neural_plugin_verbatim():
    blocks = re.findall(r"```(?:python|toml)\n(.*?)```", (ROOT / "CONTRIBUTING.md").read_text(), re.S)
    for path in FILES:
        assert (DNCNN / path).read_text() in blocks, f"CONTRIBUTING.md lost zoo-dncnn/{path}"


def test_train_ship_and_denoise_with_the_shipped_tag(tmp_path, monkeypatch):
    from zoo.cli import app

    source = shutil.copytree(DNCNN, tmp_path / "zoo-dncnn")
    use_site(pip_target(source, tmp_path / "site"), monkeypatch)
    data = tmp_path / "photos"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        save_rgb(data / f"{i}.png", rng.uniform(0.2, 0.8, (1, 1, 3)) + np.zeros((48, 48, 3)))
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "dncnn", "--preset", "tiny", "--data", str(data), "--out",
                                  str(tmp_path / "run" / "dncnn.safetensors"), "--steps", "20", "--batch", "4",
                                  "--patch", "32", "--holdout", "1", "--val-every", "20", "--device", "cpu"])
    assert trained.exit_code == 0, trained.output
    shipped = runner.invoke(app, ["ship", str(tmp_path / "run" / "dncnn.card.json"), "--plugin", str(source),
                                  "--tag", "awgn_tiny", "--default"])
    assert shipped.exit_code == 0, shipped.output
    assert 'zoo_dncnn = ["weights/*.safetensors", "weights/*.json"]' in shipped.output
    card = json.loads((source / "zoo_dncnn" / "weights" / "awgn_tiny.card.json").read_text())
    assert card["default"] is True and card["file"] == "awgn_tiny.safetensors" and "golden_psnr" in card["metrics"]
    from zoo.weights.files import sha256_file
    from zoo.weights.metadata import read

    weights = source / "zoo_dncnn" / "weights" / "awgn_tiny.safetensors"
    assert card["sha256"] == sha256_file(weights) and read(weights)["tag"] == "awgn_tiny"

    # a fresh install: the weights travel as package data, the card makes awgn_tiny the default
    site = pip_target(source, tmp_path / "site2")
    assert (site / "zoo_dncnn" / "weights" / "awgn_tiny.safetensors").is_file()
    use_site(site, monkeypatch)
    photo = save_rgb(tmp_path / "photo.png", rng.uniform(0, 1, (40, 36, 3)))
    result = run_zoo("denoise", "--model", "dncnn", "--backend", "torch", str(photo))
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("photo_denoised*dncnn*.png")), result.stdout
    import zoo

    denoisers = [zoo.load("dncnn", backend=b) for b in ("torch", "tensorflow")]
    assert all(d.config.depth == 5 for d in denoisers)  # the card's preset, with no --preset
    image = rng.uniform(0, 1, (37, 29, 3)).astype(np.float32)
    diff = np.abs(denoisers[0].denoise(image) - denoisers[1].denoise(image)).max()
    assert diff <= 1e-4, f"torch and Keras differ by {diff:.3g} on the shipped weights"


def test_the_kit_passes_on_the_tutorial_plugin(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    from zoo.testing import Conformance

    use_site(pip_target(DNCNN, tmp_path / "site"), monkeypatch)
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    report = Conformance("dncnn", preset="tiny", plugin="dncnn").run_all(tmp_path)
    assert report["parity"] <= 1e-4
    assert report["info"]["params"] > 0 and report["train_torch"]["file"] == "run.safetensors"
    assert len(set(report["denoise_torch"]["sigmas_given"])) == 1
