"""The spandrel bridge (plugins/spandrel): community networks through the zoo's own pipeline.

The conformance kit runs on every bridged architecture in tests/test_conformance.py (they are
registered like any built-in); here, what the bridge adds: listing without frameworks and with each
network's licence, weights that choose the network, safe loading, refusals, what spandrel tells
the engine, the Hub and pinned cards, and `zoo bench quality`. Weights are random, built from
spandrel's own classes (no download). Tests that need spandrel skip without it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from registry import manager
from registry.errors import WeightsError
from registry.spec import PretrainedWeights
from tests.conftest import ROOT, one_line_error, run_zoo, save_rgb
from tests.hubserver import hub  # noqa: F401  (fixture)
from zoo.cli import app
from zoo.weights.files import save_state, sha256_file

HAS_SPANDREL = importlib.util.find_spec("spandrel") is not None
HAS_EXTRA = importlib.util.find_spec("spandrel_extra_arches") is not None
needs_spandrel = pytest.mark.skipif(not HAS_SPANDREL, reason="spandrel not installed (denoise-zoo[spandrel])")


def zoo(*args):
    return CliRunner().invoke(app, [str(a) for a in args])



def weights(tmp_path, name: str = "nafnet", suffix: str = ".safetensors", wrap: str | None = None, **params):
    """A random-weight state dict of a bridged architecture's tiny network (or ``params``), saved."""
    from plugins.spandrel.config import CONFIGS
    from plugins.spandrel.torch_backend import build

    cfg = CONFIGS[name].preset("tiny")
    state = build(cfg.model_copy(update={"params": {**cfg.params, **params}})).state_dict()
    path = tmp_path / f"{name}{suffix}"
    if suffix == ".safetensors":
        save_state(state, path)
    else:
        import torch

        tensors = {k: torch.from_numpy(v) for k, v in state.items()}
        torch.save({wrap: tensors} if wrap else tensors, path)
    return path


def compact(tmp_path, upscale: int):
    """A Real-ESRGAN Compact network: an architecture outside the zoo's table, at 1x or as SR."""
    from plugins.spandrel.compat import import_spandrel

    import_spandrel()
    from spandrel.architectures.Compact import Compact

    net = Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=upscale)
    path = tmp_path / f"{upscale}x_compact.safetensors"
    save_state({k: v.numpy() for k, v in net.state_dict().items()}, path)
    return path


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    base = np.linspace(0, 1, 29 * 37 * 3).reshape(29, 37, 3)
    return save_rgb(tmp_path / "photo.png", base + rng.normal(0, 0.05, base.shape))


# -- listing: no framework, each network's licence --------------------------------------------------
def test_listing_imports_no_framework_and_names_each_licence():
    code = ("import json, sys; from registry.manager import get_registry; reg = get_registry(); "
            "print(json.dumps({'archs': {n: a.license for n, a in reg.architectures.items()}, "
            "'imported': [m for m in ('torch', 'spandrel', 'torchvision') if m in sys.modules]}))")
    found = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                      check=True).stdout)
    assert found["imported"] == []
    licences = found["archs"]
    assert licences["nafnet"] == licences["drunet"] == licences["uformer"] == "MIT"
    assert all(licences[n].startswith("none stated") for n in ("scunet", "kbnet", "fftformer", "ipt"))
    assert "Restormer" in licences["fftformer"]
    assert all("non-commercial" in licences[n] for n in ("restormer", "mprnet", "mirnet2", "m3snet"))
    shown = run_zoo("list", env={"COLUMNS": "200"}).stdout
    assert "code licence none stated upstream: scunet, kbnet, ipt" in shown
    assert "code licence Academic Public License (non-commercial): restormer, mprnet, mirnet2, m3snet" in shown


@pytest.mark.skipif(HAS_EXTRA, reason="spandrel_extra_arches is installed here")
def test_restrictive_networks_need_their_package_and_info_says_so(tmp_path, photo):
    info = zoo("info", "restormer")
    assert info.exit_code == 0, info.output
    shown = " ".join(info.output.split())
    assert "code licence: Academic Public License (non-commercial)" in shown
    assert "pip install 'spandrel_extra_arches'" in shown
    assert "restormer" in zoo("list").output  # listed, its backend shown missing
    save_state({"w": np.zeros(1, np.float32)}, tmp_path / "w.safetensors")
    one_line_error(zoo("denoise", "--model", "restormer", "--weights", tmp_path / "w.safetensors", photo),
                   "spandrel_extra_arches")


# -- weights choose the network ----------------------------------------------------------------------
@needs_spandrel
def test_named_and_any_model_denoise_the_same_and_a_mismatch_is_refused(tmp_path, photo):
    w = weights(tmp_path, "nafnet")
    outs = []
    for model in ("nafnet", "spandrel"):
        out = tmp_path / f"{model}.png"
        result = zoo("denoise", "--model", model, "--weights", w, "--backend", "torch", "-o", out, photo)
        assert result.exit_code == 0, result.output
        outs.append(np.asarray(__import__("PIL.Image").Image.open(out)))
    assert outs[0].shape == (29, 37, 3) and np.array_equal(outs[0], outs[1])
    one_line_error(zoo("denoise", "--model", "scunet", "--weights", w, photo), "not SCUNet weights")


@needs_spandrel
def test_the_config_follows_the_weights_and_survives_config_json(tmp_path):
    import zoo as api

    d = api.load("spandrel", weights=str(weights(tmp_path, "nafnet", width=16)), backend="torch")
    assert d.config.network == "NAFNet" and d.config.params["width"] == 16
    again = type(d.config).from_hub_dict(json.loads(json.dumps(d.config.to_hub_dict("spandrel"))))
    assert again == d.config
    assert d.describe()["scale"] == 1 and d.describe()["tiling"] == "supported"


@needs_spandrel
def test_a_1x_network_outside_the_table_runs_and_super_resolution_is_refused(tmp_path, photo):
    result = zoo("denoise", "--model", "spandrel", "--weights", compact(tmp_path, 1), "-o", tmp_path / "c.png", photo)
    assert result.exit_code == 0, result.output
    one_line_error(zoo("denoise", "--model", "spandrel", "--weights", compact(tmp_path, 2), photo),
                   "2x super-resolution model")


# -- safe loading --------------------------------------------------------------------------------------
class Boom:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.mkdir, (str(self.marker),)


@needs_spandrel
def test_pickles_need_trust_and_then_only_the_restricted_unpickler_reads_them(tmp_path, photo):
    import torch

    w = weights(tmp_path, "fdncnn", suffix=".pth", wrap="params_ema")  # KAIR/BasicSR's wrapper
    one_line_error(zoo("denoise", "--model", "fdncnn", "--weights", w, photo), "--trust-pickle")
    result = zoo("denoise", "--model", "fdncnn", "--weights", w, "--trust-pickle", "-o", tmp_path / "d.png", photo)
    assert result.exit_code == 0, result.output
    marker, evil = tmp_path / "pwned", tmp_path / "evil.pth"
    torch.save({"model.0.weight": torch.zeros(1), "x": Boom(marker)}, evil)
    one_line_error(zoo("denoise", "--model", "spandrel", "--weights", evil, "--trust-pickle", photo), "forbidden")
    assert not marker.exists()


@needs_spandrel
def test_a_card_pins_the_sha256_as_for_our_own_weights(tmp_path):
    import zoo as api

    w = weights(tmp_path, "nafnet")
    reg = manager.Registry()
    reg.load_entry_points()
    arch = reg.architectures["nafnet"]
    for digest, ok in ((sha256_file(w), True), ("0" * 64, False)):
        card = PretrainedWeights(tag="t", file=str(w), sha256=digest, noise="real", preset="tiny")
        reg.architectures["nafnet"] = arch.model_copy(update={"pretrained": (card,), "default_tag": "t"})
        manager.reset_registry(reg)
        if ok:
            assert api.load("nafnet", backend="torch").config.network == "NAFNet"
        else:
            with pytest.raises(WeightsError, match="sha256"):
                api.load("nafnet", backend="torch")


@needs_spandrel
def test_hub_weights(hub, tmp_path, photo):  # noqa: F811
    hub.commit("org/nafnet", {"model.safetensors": weights(tmp_path, "nafnet").read_bytes()})
    result = zoo("denoise", "--model", "nafnet", "--weights", "hf://org/nafnet/model.safetensors",
                 "--backend", "torch", "-o", tmp_path / "h.png", photo)
    assert result.exit_code == 0, result.output


# -- what spandrel tells feeds the engine ----------------------------------------------------------------
@needs_spandrel
def test_size_rules_tiling_advice_and_noise_maps_reach_the_engine(tmp_path):
    import zoo as api
    from zoo.inference import engine

    image = np.random.default_rng(1).random((23, 17, 3), dtype=np.float32)
    uformer = api.load("uformer", weights=str(weights(tmp_path, "uformer")), backend="torch")
    assert uformer.size_multiple == 128 and uformer.module.square
    scunet = api.load("scunet", weights=str(weights(tmp_path, "scunet")), backend="torch")
    assert scunet.module.minimum == 40 and scunet.receptive_field == 2 * 64  # spandrel discourages tiling
    assert scunet.denoise(image).shape == image.shape  # padded to its minimum, cropped back
    drunet = api.load("drunet", weights=str(weights(tmp_path, "drunet")), backend="torch")
    assert drunet.takes_sigma and not np.array_equal(drunet.denoise(image, 5.0), drunet.denoise(image, 50.0))
    dncnn = api.load("fdncnn", weights=str(weights(tmp_path, "fdncnn")), backend="torch")
    assert not dncnn.takes_sigma
    gray = api.load("fdncnn", weights=str(weights(tmp_path, "fdncnn", in_nc=1, out_nc=1)), backend="torch")
    assert gray.module.gray and gray.denoise(image).shape == image.shape  # one channel at a time
    tiled = engine.run(dncnn, np.random.default_rng(2).random((200, 150, 3), dtype=np.float32), tile=96)
    assert tiled.shape == (200, 150, 3)


# -- zoo bench quality scores a bridged model beside ours -------------------------------------------------
@needs_spandrel
def test_bench_quality_scores_a_bridged_model_beside_ours(tmp_path):
    data = tmp_path / "clean"
    data.mkdir()
    save_rgb(data / "a.png", np.linspace(0, 1, 40 * 40 * 3).reshape(40, 40, 3))
    spec = f"spandrel={weights(tmp_path, 'fdncnn')}"
    result = zoo("bench", "quality", "--models", f"edsr:awgn_tiny,{spec}", "--dataset", data, "--sigma", "25",
                 "--backend", "torch", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "out" / "quality.json").read_text())
    assert {"edsr:awgn_tiny", spec} <= {r["model"] for r in rows["summary"]}


# -- the whole kit, commands included (zoo info, denoise in tiles, train, export), on one bridged network --
@needs_spandrel
def test_the_kit_with_its_commands_on_a_bridged_network(tmp_path):
    from zoo.testing import Conformance

    reg = manager.Registry()
    reg.load_entry_points()
    report = Conformance(reg.architectures["fdncnn"], "tiny").run_all(tmp_path)
    assert report["parity"] == 0.0 and report["runtimes"].get("onnx", 0.0) <= 1e-4


@needs_spandrel
def test_a_trusted_pickle_exports_to_a_safetensors_folder_that_runs(tmp_path, photo):
    w = weights(tmp_path, "nafnet", suffix=".pth", wrap="params", width=16)  # NAFNet's own release layout
    result = zoo("export", "spandrel", tmp_path / "out", "--weights", w, "--trust-pickle")
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["network"] == "NAFNet" and config["params"]["width"] == 16  # what spandrel found
    result = zoo("denoise", "--model", tmp_path / "out", "--backend", "torch", "-o", tmp_path / "e.png", photo)
    assert result.exit_code == 0, result.output


@needs_spandrel
def test_the_torchvision_standin_never_outlives_spandrels_import():
    code = ("import sys; from plugins.spandrel.compat import import_spandrel, torchvision_works; "
            "works = torchvision_works(); import_spandrel(); tv = sys.modules.get('torchvision'); "
            "print(works, tv is None or getattr(tv, '__file__', None) is not None)")
    _works, clean = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                  check=True).stdout.split()
    assert clean == "True", "a stand-in torchvision was left in sys.modules"
