"""`zoo convert`: canonical .safetensors <-> PyTorch .pt and Keras .weights.h5, both ways."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from registry.errors import WeightsError, ZooError  # noqa: E402
from zoo.weights import convert as conv  # noqa: E402
from zoo.testing import sample_image  # noqa: E402
from zoo.weights.files import load_state, save_state  # noqa: E402

MODEL, PRESET = "mwrcanet", "tiny"


@pytest.fixture(scope="module")
def canonical(tmp_path_factory) -> Path:
    """Random-weight MWRCANet tiny weights in the canonical format."""
    import zoo

    path = tmp_path_factory.mktemp("w") / "w.safetensors"
    save_state(zoo.load(MODEL, backend="torch", preset=PRESET, pretrained=False).state_dict(), path)
    return path


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("model", [MODEL, None])
def test_torch_roundtrip(canonical, tmp_path, model):
    pt = conv.convert(canonical, tmp_path / "w.pt", model=model, preset=PRESET)
    back = conv.convert(pt, tmp_path / "back.safetensors", model=model, preset=PRESET)
    assert _same(load_state(canonical), load_state(back))


def test_pt_is_a_plain_torch_state_dict(canonical, tmp_path):
    import torch

    from plugins.mwrcanet.config import MWRCANetConfig
    from plugins.mwrcanet.torch_backend import MWRCANet

    pt = conv.convert(canonical, tmp_path / "w.pt")
    module = MWRCANet(MWRCANetConfig.preset(PRESET))
    module.load_state_dict(torch.load(pt, weights_only=True))  # what a plain PyTorch user does


def test_keras_roundtrip_and_output(canonical, tmp_path):
    pytest.importorskip("tensorflow")
    import zoo

    h5 = conv.convert(canonical, tmp_path / "w.weights.h5", model=MODEL, preset=PRESET)
    back = conv.convert(h5, tmp_path / "back.safetensors", model=MODEL, preset=PRESET)
    assert _same(load_state(canonical), load_state(back))
    keras_d = zoo.load(MODEL, backend="tensorflow", preset=PRESET, pretrained=False)
    keras_d.model.load_weights(str(h5))  # the native file alone gives the torch model's output
    torch_d = zoo.load(MODEL, backend="torch", weights=str(canonical), preset=PRESET)
    image = sample_image((24, 16))
    assert np.abs(keras_d.denoise(image) - torch_d.denoise(image)).max() <= 1e-4


def test_keras_needs_the_model_and_the_right_preset(canonical, tmp_path):
    pytest.importorskip("tensorflow")
    with pytest.raises(ZooError, match="--model"):
        conv.convert(canonical, tmp_path / "w.weights.h5")
    with pytest.raises(WeightsError):
        conv.convert(canonical, tmp_path / "w.weights.h5", model=MODEL, preset="small")
    assert not (tmp_path / "w.weights.h5").exists()


class _Payload:
    """Unpickling this would create ``marker``: a stand-in for code hidden in a checkpoint."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_objects_are_refused_not_run(tmp_path):
    import torch

    marker = tmp_path / "pwned"
    bad = tmp_path / "bad.pt"
    torch.save({"weight": torch.zeros(2), "payload": _Payload(marker)}, bad)
    with pytest.raises(WeightsError, match="tensors only"):
        conv.convert(bad, tmp_path / "out.safetensors")
    assert not marker.exists() and not (tmp_path / "out.safetensors").exists()


def test_training_checkpoint_wrapping_is_unwrapped(canonical, tmp_path):
    import torch

    state = {k: torch.from_numpy(v) for k, v in load_state(canonical).items()}
    wrapped = tmp_path / "ckpt.pth"
    torch.save({"state_dict": state, "epoch": 3}, wrapped)
    out = conv.convert(wrapped, tmp_path / "w.safetensors", model=MODEL, preset=PRESET)
    assert _same(load_state(canonical), load_state(out))


def test_wrong_directions_and_names(canonical, tmp_path):
    with pytest.raises(ZooError, match="between"):
        conv.convert(canonical, tmp_path / "copy.safetensors")
    with pytest.raises(ZooError, match="weight format"):
        conv.convert(canonical, tmp_path / "w.npz")
    with pytest.raises(WeightsError, match="not found"):
        conv.convert(tmp_path / "missing.safetensors", tmp_path / "w.pt")
    (tmp_path / "taken.pt").write_bytes(b"")
    with pytest.raises(ZooError, match="--overwrite"):
        conv.convert(canonical, tmp_path / "taken.pt")


def test_misfit_weights_are_rejected_for_the_model(canonical, tmp_path):
    with pytest.raises(WeightsError, match="do not fit"):
        conv.convert(canonical, tmp_path / "w.pt", model=MODEL, preset="small")


def test_cli(canonical, tmp_path):
    from typer.testing import CliRunner

    from zoo.cli import app

    runner = CliRunner()
    pt = tmp_path / "w.pt"
    ran = runner.invoke(app, ["convert", str(canonical), str(pt), "--model", MODEL, "--preset", PRESET])
    assert ran.exit_code == 0, ran.output
    assert pt.is_file()
    again = runner.invoke(app, ["convert", str(canonical), str(pt)])
    assert again.exit_code == 1 and "--overwrite" in again.stderr
