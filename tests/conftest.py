"""Shared fixtures: fake plugin distributions on sys.path, a fresh registry, CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from registry import manager

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


def write_plugin_dist(root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """Lay out modules plus a ``*.dist-info`` with entry points under ``root``: a real installed
    distribution as importlib.metadata sees it, without running pip."""
    for name, source in modules.items():
        path = root / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{manager.ENTRY_POINT_GROUP}]\n{lines}\n")
    return root


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A folder on sys.path (and PYTHONPATH for subprocesses) to install fake plugins into."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    return root


@pytest.fixture(autouse=True, scope="session")
def graph_cache_for_the_session(tmp_path_factory):
    """ONNX graphs and the --backend auto table go to a temporary cache, never the user's (one per
    session, so a graph exported once serves every test)."""
    old = os.environ.get("ZOO_GRAPH_CACHE")
    os.environ["ZOO_GRAPH_CACHE"] = str(tmp_path_factory.mktemp("zoo-cache") / "graphs")
    yield
    if old is None:
        os.environ.pop("ZOO_GRAPH_CACHE", None)
    else:
        os.environ["ZOO_GRAPH_CACHE"] = old


def pytest_configure(config):
    """OpenVINO stays out of the main test process. Once OpenVINO 2026.4 has compiled a model in a
    process, Keras training there (TensorFlow 2.21) can crash it with SIGSEGV, at once or at exit;
    the zoo never does both in one process, but one pytest process runs everything. So here the
    openvino runtime is not offered (auto takes onnx), and tests/test_runtimes.py runs its OpenVINO
    tests in a pytest process of their own, with ZOO_TEST_OPENVINO=1."""
    if not os.environ.get("ZOO_TEST_OPENVINO"):
        from zoo import runtimes

        runtimes.RUNTIMES.pop("openvino", None)


@pytest.fixture(autouse=True)
def fresh_registry():
    """Every test starts from a registry loaded anew from entry points."""
    manager.reset_registry()
    yield
    manager.reset_registry()


def run_zoo(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real `zoo` console entry point in a subprocess."""
    cmd = [sys.executable, "-m", "zoo", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def save_rgb(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def rgb_image(tmp_path) -> Path:
    """A small noisy 8-bit RGB PNG."""
    rng = np.random.default_rng(0)
    base = np.linspace(0, 1, 24 * 20 * 3).reshape(24, 20, 3)
    return save_rgb(tmp_path / "photo.png", base + rng.normal(0, 0.05, base.shape))


@pytest.fixture
def ramp_photos(tmp_path):
    """Four small colour-ramp photos: a training folder for `zoo train` tests."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        ramp = np.linspace(0, 1, 48 * 40 * 3).reshape(48, 40, 3)
        save_rgb(folder / f"img{i}.png", np.clip(ramp * rng.uniform(0.5, 1) + rng.uniform(0, 0.2), 0, 1))
    return folder


def tiny_train_args(photos: Path, out: Path, *extra: str) -> list[str]:
    """`zoo train` arguments for a few steps of MWRCANet tiny on ``photos`` (ramp_photos)."""
    return ["train", "mwrcanet", "--preset", "tiny", "--data", str(photos), "--out", str(out), "--patch", "32",
            "--batch", "2", "--holdout", "1", "--val-every", "2", *extra]


def one_line_error(result, fragment: str) -> str:
    """A CliRunner result that failed with exit 1 and one `error:` line holding ``fragment``."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], result.stderr
    return lines[0]


def sigint_default() -> None:
    """preexec_fn for a child that a test interrupts: SIGINT back to its default disposition, since
    a shell starts background jobs (a CI script's, say) with SIGINT ignored, and a Python child
    started so would never see KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)

