"""The small options users reach for: -h, --version, --dry-run, --device, shell completion, and
option values checked before any file is looked at."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import run_zoo, save_rgb
from zoo.cli import app

runner = CliRunner()


@pytest.fixture
def photo(tmp_path):
    return save_rgb(tmp_path / "p.png", np.full((16, 16, 3), 0.5))


def one_line(result, fragment: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and fragment in result.stderr


def test_h_is_help_and_flags_show_no_bool_metavar():
    for args in (["-h"], ["denoise", "-h"], ["bench", "quality", "-h"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage: " in result.stdout and "<bool>" not in result.stdout


def test_version_and_completion_need_no_model():
    assert run_zoo("--version").stdout.startswith("zoo ")
    import os
    import subprocess
    import sys
    from pathlib import Path

    console_script = Path(sys.executable).with_name("zoo")  # completion is keyed by the program's name
    if not console_script.exists():
        pytest.skip("the zoo console script is not installed beside this interpreter")
    script = subprocess.run([str(console_script), "--show-completion", "bash"], capture_output=True, text=True,
                            env={**os.environ, "SHELL": "/bin/bash",
                                     # typer's switch: take the shell named, not the one detected
                                     # from the parent processes (none is found under CI or nohup)
                                     "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}, timeout=60)
    assert script.returncode == 0 and "_zoo_completion" in script.stdout


def test_dry_run_says_what_would_happen_and_does_nothing(photo, tmp_path):
    (tmp_path / "q.png").write_bytes(photo.read_bytes())
    (tmp_path / "q_denoised-mwrcanet.png").write_bytes(photo.read_bytes())
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(app, ["denoise", "--dry-run", str(photo), str(tmp_path / "q.png")])
    assert result.exit_code == 0, result.output
    assert f"would write {tmp_path / 'p_denoised-mwrcanet.png'}" in result.stdout
    assert "would skip: output" in result.stdout and "nothing was loaded or written" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("args, fragment", [
    (["--precision", "fp8"], "--precision takes fp32, bf16"),
    (["--device", "tpu"], "--device takes cpu, cuda or cuda:N"),
    (["--backend", "nosuch"], "mwrcanet has no 'nosuch' backend"),
    (["--max-memory", "lots"], "bad memory size"),
    (["--model", "nosuch"], "unknown model 'nosuch'"),
    (["--views", "3"], "--views takes 1, 2, 4, 8"),
    (["--ensemble", "--views", "2"], "--ensemble is --views 8"),
])
def test_bad_option_values_come_before_any_file(photo, tmp_path, args, fragment):
    (tmp_path / "p_denoised-mwrcanet.png").write_bytes(photo.read_bytes())  # would be "exists" otherwise
    one_line(runner.invoke(app, ["denoise", *args, str(photo)]), fragment)
    one_line(runner.invoke(app, ["denoise", *args, str(tmp_path / "missing.png")]), fragment)


def test_device_cuda_without_a_gpu_is_one_line(photo, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    one_line(runner.invoke(app, ["denoise", "--device", "cuda", "-o", str(tmp_path / "o.png"), str(photo)]), "--device cuda")
    assert not (tmp_path / "o.png").exists()


def test_json_lines_quiet_and_verbose(photo, tmp_path):
    import json

    other = tmp_path / "q.png"
    other.write_bytes(photo.read_bytes())
    result = runner.invoke(app, ["denoise", "--json", str(photo), str(other), str(tmp_path / "missing.png")])
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["status"] for r in records] == ["written", "written", "failed"]
    assert records[0]["output"].endswith("p_denoised-mwrcanet.png") and records[0]["seconds"] > 0
    assert records[0]["model"] == "mwrcanet" and "no such file" in records[2]["error"]
    quiet = runner.invoke(app, ["denoise", "-q", "--overwrite", str(photo), str(tmp_path / "missing.png")])
    assert quiet.stdout == "" and quiet.stderr.strip().startswith("failed: no such file") and quiet.exit_code == 1
    loud = runner.invoke(app, ["denoise", "-v", "--overwrite", str(photo)])
    from registry.manager import get_registry
    from zoo.runtimes import auto

    chosen = auto.choose(get_registry().get("mwrcanet"))  # onnx where installed, else torch
    assert loud.exit_code == 0 and f"model mwrcanet ({chosen} by --backend auto, fp32, cpu)" in loud.stderr
    assert "1 of 1 images denoised, 0 failed in " in loud.stderr and " s)" in loud.stdout


def test_views_average_the_model_over_turned_copies(tmp_path):
    pytest.importorskip("torch")
    from PIL import Image

    noisy = np.random.default_rng(0).random((24, 20, 3))
    photo = save_rgb(tmp_path / "n.png", noisy)
    outs = {}
    for views in ("1", "2"):
        out = tmp_path / f"v{views}.png"
        result = runner.invoke(app, ["denoise", "--views", views, "-o", str(out), "--model",
                                     "mwrcanet:camera_incamera_urban_small", str(photo)])
        assert result.exit_code == 0, result.output
        outs[views] = np.asarray(Image.open(out), np.float32)
    assert outs["1"].shape == outs["2"].shape and np.abs(outs["1"] - outs["2"]).max() > 0
