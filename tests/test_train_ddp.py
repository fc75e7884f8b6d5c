"""zoo train across processes (torch DDP, gloo on the CPU): two processes train a tiny preset,
checkpoint, resume under another process count, and their weights load in zoo denoise; their
gradient of a batch is one process's gradient of the same batch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import save_rgb, tiny_train_args
from zoo.cli import app

torch = pytest.importorskip("torch")
runner = CliRunner()


def train(photos, out, *extra):
    return runner.invoke(app, tiny_train_args(photos, out, "--device", "cpu", *extra))


def test_two_processes_train_checkpoint_resume_under_one_and_load_in_denoise(ramp_photos, tmp_path):
    out = tmp_path / "m.safetensors"
    first = train(ramp_photos, out, "--steps", "2", "--nproc", "2")
    assert first.exit_code == 0, first.output
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert "2 processes (DDP)" in card["training"]["hardware"] and out.with_suffix(".ckpt").exists()
    resumed = train(ramp_photos, out, "--steps", "4", "--resume")  # one process continues the two's checkpoint
    assert resumed.exit_code == 0, resumed.output
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert [h["step"] for h in card["history"]] == [2, 4]
    again = train(ramp_photos, out, "--steps", "6", "--resume", "--nproc", "2")  # and two continue one's
    assert again.exit_code == 0, again.output
    assert [h["step"] for h in json.loads(out.with_suffix(".card.json").read_text())["history"]] == [2, 4, 6]
    image = save_rgb(tmp_path / "noisy.png", np.random.default_rng(1).uniform(0, 1, (20, 24, 3)))
    denoised = runner.invoke(app, ["denoise", "--weights", str(out), "-o", str(tmp_path / "clean.png"), str(image)])
    assert denoised.exit_code == 0, denoised.output
    assert (tmp_path / "clean.png").exists()


def test_a_batch_the_processes_cannot_share_is_refused_in_one_line(ramp_photos, tmp_path):
    result = train(ramp_photos, tmp_path / "m.safetensors", "--steps", "2", "--batch", "3", "--nproc", "2")
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("warning: plugin")]
    assert result.exit_code == 1 and lines == ["error: --batch 3 does not split over 2 processes; use a multiple of 2"]


def batch_gradients(path, group=None):
    """Rank ``group.rank``'s part of the gradient of one fixed batch (every rank's, after DDP's
    averaging); rank 0 saves it to ``path``. Module-level: the helper process imports it."""
    from zoo.sdk import movable
    from zoo.training import parallel
    from zoo.training.loop import gradients
    from zoo.weights.loader import load

    group = group or parallel.Group()
    device = torch.device("cpu")
    parallel.join(group, device)
    try:
        torch.manual_seed(0)
        module = movable(load("mwrcanet", backend="torch", preset="tiny", pretrained=False), "test").module.train()
        rng = np.random.default_rng(7)
        noisy, clean = (rng.uniform(0, 1, (4, 32, 32, 3)).astype(np.float32) for _ in range(2))
        noisy, clean = (torch.from_numpy(a).permute(0, 3, 1, 2) for a in parallel.shard((noisy, clean), group))
        gradients(parallel.wrap(module, group, device), torch.nn.L1Loss(), noisy, clean)
        if group.main:
            np.savez(path, *[p.grad.numpy() for p in module.parameters()])
    finally:
        parallel.leave(group)


def test_the_two_process_gradient_is_the_one_process_gradient_of_the_same_batch(tmp_path):
    from zoo.training import parallel

    batch_gradients(tmp_path / "one.npz")
    group, helpers = parallel.start(2, batch_gradients, tmp_path / "two.npz")
    try:
        batch_gradients(tmp_path / "two.npz", group=group)
    finally:
        parallel.stop(helpers)
    assert all(p.exitcode == 0 for p in helpers)
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert len(one.files) > 4 and one.files == two.files
    for name in one.files:
        assert np.abs(one[name]).max() > 0
        np.testing.assert_allclose(two[name], one[name], rtol=0, atol=1e-5)
