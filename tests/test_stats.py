"""`zoo info` parameter and MAC counts: measured from the model, present per preset, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from registry.manager import get_registry
from zoo.cli import catalogue
from zoo.bench import stats


def test_meta_device_count_matches_a_real_pass():
    torch = pytest.importorskip("torch")
    arch = get_registry().get("mwrcanet")
    measured = stats.model_stats(arch, "tiny")
    real = arch.build(arch.config.preset("tiny"), "torch")
    assert measured["params"] == sum(v.size for v in real.state_dict().values())
    macs = stats._count_macs(real.module, torch.zeros(1, 3, 64, 64))
    assert measured["macs_per_mp"] == pytest.approx(macs * 1e6 / (64 * 64), rel=1e-3)


def test_single_conv_macs_by_hand():
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    assert stats._count_macs(conv, torch.zeros(1, 3, 10, 10)) == 10 * 10 * 8 * 3 * 9


def test_info_shows_every_preset():
    pytest.importorskip("torch")
    data = catalogue.details(get_registry().get("mwrcanet"))
    assert set(data["stats"]) == {"full", "medium", "small", "tiny"}
    sizes = [data["stats"][p]["params"] for p in ("tiny", "small", "medium", "full")]
    assert sizes == sorted(sizes) and data["stats_note"] is None
    assert np.isfinite(data["stats"]["full"]["macs_per_mp"])


def test_info_without_torch_omits_stats_with_a_note(monkeypatch):
    real = stats.importlib.util.find_spec
    monkeypatch.setattr(stats.importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    data = catalogue.details(get_registry().get("mwrcanet"))
    assert data["stats"] == {} and "install torch" in data["stats_note"]
    catalogue.render_details(data)  # still renders


def test_list_imports_no_framework():
    code = (
        "import sys; from typer.testing import CliRunner; from zoo.cli import app; "
        "r = CliRunner().invoke(app, ['list']); assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"
