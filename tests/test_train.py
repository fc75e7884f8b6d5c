"""zoo train: a few real steps on generated photos, checkpoints, resume, cards, Keras fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from registry.cards import card_from_json
from tests.conftest import save_rgb, sigint_default, tiny_train_args
from zoo.cli import app

pytest.importorskip("torch")
runner = CliRunner()


@pytest.fixture
def photos(ramp_photos):
    return ramp_photos


def train(photos, out, *extra):
    result = runner.invoke(app, tiny_train_args(photos, out, *extra))
    assert result.exit_code == 0, result.output
    return json.loads(out.with_suffix(".card.json").read_text())


def test_train_writes_weights_and_a_card_that_loads(photos, tmp_path):
    import zoo

    out = tmp_path / "m.safetensors"
    card = train(photos, out, "--steps", "2", "--noise", "camera")
    assert card["noise"] == "real" and card["training"]["steps"] == 2
    assert "zoo train mwrcanet" in card["training"]["command"] and "3 photos (1 held out" in card["training"]["data"]
    assert set(card["metrics"]) == {"val_psnr", "val_ssim"}
    entry = card_from_json(card, "camera_tiny")
    assert entry.sha256 == card["sha256"] and entry.noise == "real"
    denoiser = zoo.load("mwrcanet", weights=str(out), backend="torch")  # preset from the card beside it
    assert denoiser.config.channels == (16, 32, 64) and denoiser.config.train_size == 32
    assert denoiser.denoise(np.full((16, 16, 3), 0.5, np.float32)).shape == (16, 16, 3)


def test_resume_continues_from_the_checkpoint(photos, tmp_path):
    out = tmp_path / "m.safetensors"
    train(photos, out, "--steps", "2")
    card = train(photos, out, "--steps", "4", "--resume")
    assert [h["step"] for h in card["history"]] == [2, 4]


def test_each_step_sees_the_same_patches_with_any_workers_and_after_a_resume():
    import torch

    from zoo.imaging.noise import NoiseSpec
    from zoo.training.config import TrainConfig
    from zoo.training.data import PatchSampler
    from zoo.training.loop import _step_batches

    rng = np.random.default_rng(5)
    photos = [rng.integers(0, 256, (48, 40, 3), dtype=np.uint8) for _ in range(3)]
    sampler = PatchSampler(photos, 32, NoiseSpec.parse("camera:isp"))
    cfg = TrainConfig(model="mwrcanet", data="unused", patch=32, batch=2, steps=4, workers=0)

    def stream(first, workers):
        batches = _step_batches(sampler, cfg.model_copy(update={"workers": workers}), first, torch.device("cpu"))
        return [torch.cat(pair).numpy() for pair in batches]

    inline, forked, resumed = stream(0, 0), stream(0, 2), stream(2, 0)
    assert len(inline) == 4 and len(resumed) == 2
    assert all(np.array_equal(a, b) for a, b in zip(inline, forked))
    assert all(np.array_equal(a, b) for a, b in zip(inline[2:], resumed))
    assert not np.array_equal(inline[0], inline[1])


def test_a_missing_gpu_is_a_one_line_error(photos, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = runner.invoke(app, ["train", "mwrcanet", "--preset", "tiny", "--data", str(photos), "--out",
                                 str(tmp_path / "m.safetensors"), "--device", "cuda", "--steps", "1"])
    assert result.exit_code == 1 and "sees no CUDA GPU" in result.output and "Traceback" not in result.output


def test_the_output_folder_is_created_or_refused_before_training(photos, tmp_path):
    out = tmp_path / "runs" / "new" / "m.safetensors"
    train(photos, out, "--steps", "2")
    assert out.exists() and out.with_suffix(".card.json").exists()
    (tmp_path / "file").write_text("not a folder")
    result = runner.invoke(app, ["train", "mwrcanet", "--preset", "tiny", "--data", str(photos), "--out",
                                 str(tmp_path / "file" / "m.safetensors"), "--steps", "1"])
    assert result.exit_code == 1 and "cannot create the output folder" in result.output
    assert "Traceback" not in result.output


def test_resume_refuses_a_different_configuration(photos, tmp_path):
    out = tmp_path / "m.safetensors"
    train(photos, out, "--steps", "2")
    args = ["train", "mwrcanet", "--preset", "tiny", "--data", str(photos), "--out", str(out), "--patch", "32",
            "--batch", "2", "--holdout", "1", "--steps", "4", "--resume", "--lr", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "different training configuration" in result.stderr


@pytest.mark.slow
def test_keras_fit_weights_load_in_torch(photos, tmp_path):
    pytest.importorskip("tensorflow")
    import zoo

    out = tmp_path / "k.safetensors"
    card = train(photos, out, "--steps", "4", "--backend", "tensorflow", "--ema", "0.5")
    # Keras averages out of sight: the steps score the raw weights, the end the average it wrote
    assert "val_psnr" not in card["history"][0] and "val_raw_psnr" in card["history"][0]
    assert {"val_psnr", "val_raw_psnr"} <= set(card["metrics"]) and card["training"]["ema_from_step"] == 0
    image = np.random.default_rng(1).random((24, 16, 3), dtype=np.float32)
    outs = [zoo.load("mwrcanet", preset="tiny", weights=str(out), backend=b).denoise(image) for b in ("tensorflow", "torch")]
    assert np.abs(outs[0] - outs[1]).max() <= 1e-4


def test_separate_channels_trains_one_single_channel_net(photos, tmp_path):
    import zoo

    out = tmp_path / "sep.safetensors"
    card = train(photos, out, "--steps", "2", "--channels", "separate")
    assert card["config"]["image_channels"] == 1
    denoiser = zoo.load("mwrcanet", preset="tiny", weights=str(out), backend="torch", **card["config"])
    assert denoiser.channels == 1
    assert zoo.denoise(np.full((16, 16, 3), 0.5, np.float32), model=denoiser).shape == (16, 16, 3)


def test_cards_switch_test_time_local_pooling_on():
    from plugins.mrdnet.config import MRDNetConfig
    from plugins.mwrcanet.config import MWRCANetConfig
    from zoo.training.card import card_config
    from zoo.training.config import TrainConfig

    cfg = TrainConfig(model="mrdnet", data="d", patch=64)
    assert card_config(cfg, MRDNetConfig) == {"train_size": 64, "image_pooling": "local"}
    assert card_config(cfg, MWRCANetConfig) == {"train_size": 64, "attention_pooling": "local"}


def test_several_data_folders_are_drawn_by_their_pixels_and_named_in_the_card(photos, tmp_path):
    from zoo.imaging.noise import NoiseSpec
    from zoo.training.data import PatchSampler

    big = tmp_path / "big"
    big.mkdir()
    for i in range(3):
        save_rgb(big / f"b{i}.png", np.full((96, 80, 3), 0.9))
    out = tmp_path / "m.safetensors"
    card = train(photos, out, "--steps", "2", "--data", str(big))
    where = tmp_path.name  # the folder above each set: names like "clean" alone do not tell sets apart
    assert card["training"]["data"] == (f"{where}/photos: 3 photos (1 held out: img3.png..img3.png); "
                                        f"{where}/big: 2 photos (1 held out: b2.png..b2.png)")
    assert card["training"]["command"].count("--data ") == 2

    small, large = [np.zeros((32, 32, 3), np.uint8)], [np.full((64, 64, 3), 255, np.uint8)]  # 1 : 4 in pixels
    sampler = PatchSampler([small, large], 32, NoiseSpec.parse("awgn:0"))
    _, clean = sampler.batch(400, np.random.default_rng(0))
    assert 0.72 < clean.mean() < 0.88  # the large folder's share of the pixels, 0.8


def test_too_few_photos_for_the_holdout_suggests_one(photos, tmp_path):
    result = runner.invoke(app, ["train", "mwrcanet", "--preset", "tiny", "--data", str(photos), "--out",
                                 str(tmp_path / "m.safetensors"), "--steps", "1"])  # 4 photos, default --holdout 8
    assert result.exit_code == 1 and "pass --holdout 1 (or fewer)" in result.stderr, result.output


def test_ctrl_c_writes_a_checkpoint_and_says_how_to_resume(photos, tmp_path):
    import signal
    import subprocess
    import sys
    import threading

    out = tmp_path / "m.safetensors"
    cmd = [sys.executable, "-m", "zoo", "train", "mwrcanet", "--preset", "tiny", "--data", str(photos), "--out",
           str(out), "--patch", "32", "--batch", "2", "--holdout", "1", "--val-every", "1", "--steps", "100000"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    lines, started = [], threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("step 2:"):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(120), "".join(lines)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    reader.join(10)
    text = "".join(lines)
    assert "checkpoint" in text and "--resume" in text and "Traceback" not in text, text
    import torch

    step = torch.load(out.with_suffix(".ckpt"), weights_only=True)["step"]
    assert step >= 2
    card = train(photos, out, "--steps", str(step + 1), "--resume")  # continues, does not start again
    assert card["history"][-1]["step"] == step + 1


def test_the_card_command_carries_no_absolute_paths(photos, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    card = train(photos, tmp_path / "sub" / "m.safetensors", "--steps", "1")  # absolute paths typed
    assert str(tmp_path) not in card["training"]["command"]
    assert "--data photos --out sub/m.safetensors" in card["training"]["command"]


# -- --ema: an exponential moving average of the weights ---------------------------------------------
def _tensors(path):
    from safetensors.numpy import load_file

    return load_file(str(path))


def test_ema_output_holds_the_average_and_the_card_scores_both(photos, tmp_path):
    import torch

    out = tmp_path / "m.safetensors"
    card = train(photos, out, "--steps", "4", "--ema", "0.5", "--lr", "0.01")
    assert {"val_psnr", "val_raw_psnr", "val_ssim", "val_raw_ssim"} <= set(card["metrics"])
    assert card["training"]["ema_from_step"] == 0 and "--ema 0.5" in card["training"]["command"]
    ckpt = torch.load(out.with_suffix(".ckpt"), weights_only=True)
    written = _tensors(out)
    raw = {k: v.numpy() for k, v in ckpt["model"].items()}
    averaged = {k.removeprefix("module."): v.numpy() for k, v in ckpt["average"].items() if k.startswith("module.")}
    assert int(ckpt["average"]["n_averaged"]) == 4
    # the output is the average, which (lr 0.01, decay 0.5) is not the last step's weights
    assert set(written) <= set(averaged)
    assert all(np.allclose(written[k], averaged[k]) for k in written)
    assert any(not np.allclose(written[k], raw[k]) for k in written)
    assert card["metrics"]["val_psnr"] != card["metrics"]["val_raw_psnr"]


def test_ema_can_be_switched_on_when_resuming_but_not_changed(photos, tmp_path):
    out = tmp_path / "m.safetensors"
    train(photos, out, "--steps", "2")
    card = train(photos, out, "--steps", "4", "--resume", "--ema", "0.9")
    assert card["training"]["ema_from_step"] == 2 and [h["step"] for h in card["history"]] == [2, 4]
    assert "val_raw_psnr" in card["history"][1] and "val_raw_psnr" not in card["history"][0]
    result = runner.invoke(app, tiny_train_args(photos, out, "--steps", "6", "--resume", "--ema", "0.99"))
    assert result.exit_code == 1 and "resume it with the same --ema" in result.stderr
    card = train(photos, out, "--steps", "6", "--resume", "--ema", "0.9")
    assert card["training"]["ema_from_step"] == 2 and card["training"]["steps"] == 6


def test_ema_out_of_range_is_a_one_line_error(photos, tmp_path):
    from tests.conftest import one_line_error

    result = runner.invoke(app, tiny_train_args(photos, tmp_path / "m.safetensors", "--steps", "2", "--ema", "1"))
    one_line_error(result, "--ema")
