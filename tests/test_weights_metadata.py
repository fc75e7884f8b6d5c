"""Self-describing weights: every safetensors file the zoo writes names its architecture, config,
tag and provenance, so `--weights FILE` needs no `--model`; a bare state dict is fitted to a
preset by its tensor shapes, and a misfit names the nearest preset and what differs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from registry.errors import WeightsError
from registry.manager import get_registry
from zoo.weights import metadata
from zoo.weights.files import load_state, save_state
from zoo.weights.names import plugin_package
from zoo.weights.resolve import resolve

pytest.importorskip("torch")
IMAGE = np.random.default_rng(3).random((40, 40, 3), dtype=np.float32)
SHIPPED = sorted((a.name, p.tag) for a in get_registry().architectures.values() for p in a.pretrained
                 if p.file.startswith("bundled:"))


def shipped_file(arch_name: str, tag: str):
    arch = get_registry().get(arch_name)
    card = arch.weights_for(tag)
    return resolve(card.file, card.sha256, package=plugin_package(arch))


@pytest.mark.parametrize("arch_name, tag", SHIPPED)
def test_shipped_files_describe_themselves_and_a_bare_copy_fits_its_preset(arch_name, tag, tmp_path):
    import zoo

    path = shipped_file(arch_name, tag)
    meta = metadata.read(path)
    assert (meta["architecture"], meta["tag"], meta["format"]) == (arch_name, tag, metadata.FORMAT)
    assert "zoo train" in meta["provenance"]
    stock = zoo.load(f"{arch_name}:{tag}", backend="torch")
    assert zoo.load(None, weights=str(path), backend="torch").config == stock.config  # no --model at all
    bare = tmp_path / "bare.safetensors"
    save_state(load_state(path), bare)  # the tensors alone: no metadata, no card beside it
    assert metadata.read(bare) == {}
    fitted = zoo.load(arch_name, weights=str(bare), backend="torch")
    assert zoo.load(None, weights=str(bare), backend="torch").architecture == arch_name  # found by its tensors
    card = get_registry().get(arch_name).weights_for(tag)
    assert fitted.config == get_registry().get(arch_name).config.preset(card.preset)
    np.testing.assert_allclose(fitted.denoise(IMAGE), stock.denoise(IMAGE), atol=1e-5)  # local pooling = global here
    assert zoo.load(f"{arch_name}:{tag}", weights=str(bare), backend="torch").config == stock.config  # TAG's config


def test_a_misfit_names_the_nearest_preset_and_what_differs(tmp_path):
    import zoo

    state = load_state(shipped_file("edsr", "camera_sharp_tiny"))
    name = sorted(state)[0]
    state[name] = state[name][:1]
    del state[sorted(state)[-1]]
    path = tmp_path / "broken.safetensors"
    save_state(state, path)
    with pytest.raises(WeightsError, match=r"fits no edsr preset; nearest is 'tiny', where 2 tensor\(s\) differ") as info:
        zoo.load("edsr", weights=str(path), backend="torch")
    assert name in str(info.value)


def test_weights_of_another_architecture_are_named(tmp_path):
    import zoo

    with pytest.raises(WeightsError, match="holds mwrcanet weights, not edsr; use --model mwrcanet"):
        zoo.load("edsr", weights=str(shipped_file("mwrcanet", "awgn_small")))


def test_train_export_and_convert_write_metadata(tmp_path):
    import zoo
    from tests.conftest import save_rgb
    from typer.testing import CliRunner

    from zoo.cli import app

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        save_rgb(photos / f"p{i}.png", np.random.default_rng(i).random((40, 40, 3)))
    trained = tmp_path / "run" / "m.safetensors"
    runner = CliRunner()
    result = runner.invoke(app, ["train", "mrdn", "--preset", "tiny", "--data", str(photos), "--out", str(trained),
                                 "--patch", "32", "--batch", "2", "--steps", "1", "--holdout", "1"])
    assert result.exit_code == 0, result.output
    meta = metadata.read(trained)
    assert meta["architecture"] == "mrdnet" and meta["provenance"].startswith("zoo train mrdn")
    assert json.loads(meta["config"])["image_pooling"] == "local"  # what the card rebuilds, not the training config
    trained.with_suffix(".card.json").unlink()  # the metadata alone is enough
    assert zoo.load(None, weights=str(trained)).config.image_pooling == "local"

    folder = tmp_path / "export"
    assert runner.invoke(app, ["export", "edsr:camera_sharp_tiny", str(folder)]).exit_code == 0
    exported = metadata.read(folder / "model.safetensors")
    assert (exported["architecture"], exported["tag"]) == ("edsr", "camera_sharp_tiny")

    pt, back = tmp_path / "w.pt", tmp_path / "back.safetensors"
    assert runner.invoke(app, ["convert", str(folder / "model.safetensors"), str(pt)]).exit_code == 0
    assert runner.invoke(app, ["convert", str(pt), str(back), "--model", "edsr", "--preset", "tiny"]).exit_code == 0
    assert metadata.read(back)["provenance"] == "zoo convert from w.pt"


def test_zoo_denoise_with_only_weights_for_export_and_bare_files(tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from tests.conftest import save_rgb
    from zoo.cli import app

    runner = CliRunner()
    photo = tmp_path / "photo.png"
    save_rgb(photo, IMAGE)
    folder = tmp_path / "export"
    assert runner.invoke(app, ["export", "edsr:camera_sharp_tiny", str(folder)]).exit_code == 0
    bare = tmp_path / "bare_edsr.safetensors"
    save_state(load_state(shipped_file("edsr", "camera_sharp_tiny")), bare)
    stock = tmp_path / "stock.png"
    assert runner.invoke(app, ["denoise", "--model", "edsr:camera_sharp_tiny", "-o", str(stock), str(photo)]).exit_code == 0
    for weights, name in ((folder / "model.safetensors", "photo_denoised-model.png"),
                          (bare, "photo_denoised-bare_edsr.png")):
        result = runner.invoke(app, ["denoise", "--weights", str(weights), str(photo)])  # no --model
        assert result.exit_code == 0, result.output
        out = tmp_path / name  # named after the weights: never the stock model's output name
        assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(stock)))
    spelled = [runner.invoke(app, ["denoise", "--model", m, str(photo)]) for m in ("edsr.awgn_tiny", "edsr:awgn_tiny")]
    assert spelled[0].exit_code == 0 and spelled[1].exit_code == 1  # one name for both spellings: skipped
    assert (tmp_path / "photo_denoised-edsr-awgn_tiny.png").is_file()


def test_a_local_exported_folder_is_a_model(tmp_path, monkeypatch):
    import zoo
    from typer.testing import CliRunner

    from registry.errors import UnknownModelError
    from tests.conftest import save_rgb
    from zoo.cli import app

    runner = CliRunner()
    folder = tmp_path / "hub_out"
    assert runner.invoke(app, ["export", "edsr:camera_sharp_tiny", str(folder)]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    stock = zoo.load("edsr:camera_sharp_tiny", backend="torch")
    assert zoo.load("./hub_out", backend="torch").config == stock.config
    photo = tmp_path / "p.png"
    save_rgb(photo, IMAGE)
    result = runner.invoke(app, ["denoise", "--model", "./hub_out", "-o", "o.png", str(photo)])
    assert result.exit_code == 0, result.output
    with pytest.raises(UnknownModelError, match="no such folder"):
        zoo.load("./nowhere")
    (folder / "config.json").unlink()
    with pytest.raises(WeightsError, match="has no config.json"):
        zoo.load("./hub_out")
