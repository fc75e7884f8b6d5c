"""zoo.weights (files, resolve): every reference resolves to a verified safetensors file or a one-line WeightsError."""

from __future__ import annotations

import json

import numpy as np
import pytest

from registry.errors import WeightsError
from tests import toyplugin
from tests.hubserver import git_sha1, hub  # noqa: F401  (fixture)
from zoo.weights import hub as zhub
from zoo.weights import files as weights
from zoo.weights.resolve import resolve


@pytest.fixture
def toy_file(tmp_path):
    path = tmp_path / "toy.safetensors"
    sha = weights.save_state(toyplugin.random_state(), path)
    return path, sha


def test_save_state_is_atomic_and_returns_the_sha256(toy_file, tmp_path):
    path, sha = toy_file
    assert sha == weights.sha256_file(path)
    assert [p.name for p in tmp_path.iterdir()] == ["toy.safetensors"]  # no temp file left behind
    state = weights.load_state(path)
    assert all(np.array_equal(state[k], v) for k, v in toyplugin.random_state().items())


def test_local_path_checked_against_its_pin(toy_file):
    path, sha = toy_file
    assert resolve(str(path), sha) == path
    with pytest.raises(WeightsError, match="checksum mismatch .* was not loaded"):
        resolve(str(path), "f" * 64)
    with pytest.raises(WeightsError, match="weights file not found"):
        resolve(str(path.with_name("absent.safetensors")))


def test_bundled_needs_its_package():
    with pytest.raises(WeightsError, match="needs the plugin package"):
        resolve("bundled:x.safetensors")
    with pytest.raises(WeightsError, match="missing from plugins.classical"):
        resolve("bundled:x.safetensors", package="plugins.classical")


def test_only_safetensors_is_parsed(tmp_path, toy_file):
    pickled = tmp_path / "w.pth"
    pickled.write_bytes(b"\x80\x04anything")
    with pytest.raises(WeightsError, match="pickled checkpoint, which can run arbitrary code.*--trust-pickle"):
        weights.load_state(pickled)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"GIF89a" + bytes(64))
    with pytest.raises(WeightsError, match="not a valid safetensors file"):
        weights.load_state(junk)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(toy_file[0].read_bytes()[:-20])  # a truncated file
    with pytest.raises(WeightsError, match="not a valid safetensors file"):
        weights.load_state(cut)


def test_weights_for_another_preset_fit_it_unless_a_preset_is_named(tmp_path):
    toyplugin.install()
    import zoo

    path = tmp_path / "wide.safetensors"
    weights.save_state(toyplugin.random_state(hidden=8), path)  # a bare state dict: no metadata
    assert zoo.load("toynet", weights=str(path)).config.hidden == 8  # fitted by its tensor shapes
    with pytest.raises(WeightsError, match="do not fit .* wrong shape: mix.weight"):
        zoo.load("toynet", weights=str(path), preset="tiny")
    assert zoo.load("toynet", weights=str(path), preset="wide").config.hidden == 8


def test_hf_reference_checked_against_pin_and_hub_hash(hub, toy_file):
    path, sha = toy_file
    hub.commit("org/toy", {"model.safetensors": path.read_bytes()})
    ref = "hf://org/toy/model.safetensors"
    cached = resolve(ref, sha)
    assert cached.resolve().name == sha  # the blob is named by the ETag the hub sent: its sha256
    with pytest.raises(WeightsError, match="expected pinned sha256 ffffffffffff"):
        resolve(ref, "f" * 64)
    assert cached.exists()  # intact per the hub's hash: kept, just not loaded under a wrong pin


def test_small_git_files_are_checked_by_git_blob_sha1(hub, tmp_path):
    toyplugin.install()
    config = json.dumps({"architecture": "toynet", "hidden": 4}).encode()
    hub.commit("org/toy", {"config.json": config, "model.safetensors": b"unused"})
    path = zhub.download("hf://org/toy/config.json")
    assert path.resolve().name == git_sha1(config) == zhub.git_blob_sha1(path)
    hub.commit("org/evil", {"config.json": config})
    hub.tamper.add("config.json")
    with pytest.raises(WeightsError, match="checksum mismatch for hf://org/evil/config.json"):
        zhub.download("hf://org/evil/config.json")
