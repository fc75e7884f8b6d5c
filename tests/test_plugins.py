"""Plugin discovery through real entry points, fault isolation, strict mode and selection."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from registry import manager
from registry.errors import UnknownModelError
from tests.conftest import ROOT, run_zoo, write_plugin_dist

GAUSSIAN = ROOT / "tests" / "fixtures" / "zoo-gaussian"

RAISES_ON_IMPORT = {"broken_import": "raise RuntimeError('boom: missing native library')\n"}

INVALID_CONFIG = {
    "bad_config": """
        from zoo import Architecture, DenoiserConfig, hookimpl

        class BadConfig(DenoiserConfig):
            presets = {"huge": {"width": "not a number"}}
            width: int = 4

        @hookimpl
        def register_architectures(register):
            register(Architecture(name="badcfg", config=BadConfig, backends={"numpy": "x:build"}))
    """
}

DUPLICATE = {
    "dup_plugin": """
        from zoo import Architecture, DenoiserConfig, hookimpl

        class C(DenoiserConfig):
            pass

        @hookimpl
        def register_architectures(register):
            register(Architecture(name="fresh_name", config=C, backends={"numpy": "x:build"}))
            register(Architecture(name="cbm3d", config=C, backends={"numpy": "x:build"}))
    """
}


def load(monkeypatch, warnings: list[str] | None = None) -> manager.Registry:
    reg = manager.Registry(warn=(warnings.append if warnings is not None else lambda m: None))
    reg.load_entry_points()
    return reg


def test_builtin_plugins_come_from_entry_points():
    reg = load(None)
    assert reg.plugins["classical"].source.startswith("entry point")
    assert reg.get("cbm3d").plugin == "classical"
    assert reg.get("BM3D").name == "cbm3d"  # aliases, case-insensitive


def test_tutorial_plugin_is_discovered_through_its_entry_point(plugin_dir, monkeypatch):
    write_plugin_dist(plugin_dir, "zoo_gaussian", {"gaussian": "zoo_gaussian"}, {})
    (plugin_dir / "zoo_gaussian").symlink_to(GAUSSIAN / "zoo_gaussian")
    reg = load(monkeypatch)
    arch = reg.get("gaussian")
    assert arch.plugin == "gaussian" and arch.backends == {"numpy": "zoo_gaussian.backend:build"}


@pytest.mark.parametrize(
    "modules, entry, reason",
    [
        (RAISES_ON_IMPORT, "broken_import", "RuntimeError: boom: missing native library"),
        (INVALID_CONFIG, "bad_config", "width"),
        (DUPLICATE, "dup_plugin", "name 'cbm3d' is already registered by classical"),
    ],
)
def test_broken_plugin_is_skipped_with_one_warning(plugin_dir, monkeypatch, modules, entry, reason):
    write_plugin_dist(plugin_dir, entry, {entry: entry}, modules)
    warnings: list[str] = []
    reg = load(monkeypatch, warnings)
    assert reason in reg.plugins[entry].error
    assert len(warnings) == 1 and entry in warnings[0] and "\n" not in warnings[0]
    assert reg.get("cbm3d").plugin == "classical"
    assert "fresh_name" not in reg.architectures  # a partial registration is rolled back
    assert entry not in dict(reg.pm.list_name_plugin())


def test_strict_mode_reraises(plugin_dir, monkeypatch):
    write_plugin_dist(plugin_dir, "broken_import", {"broken_import": "broken_import"}, RAISES_ON_IMPORT)
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(RuntimeError, match="boom"):
        load(monkeypatch)


def test_zoo_plugins_selects_entry_points(plugin_dir, monkeypatch):
    write_plugin_dist(plugin_dir, "broken_import", {"broken_import": "broken_import"}, RAISES_ON_IMPORT)
    monkeypatch.setenv("ZOO_PLUGINS", "classical")
    reg = load(monkeypatch)
    assert set(reg.plugins) == {"classical"}


def test_non_architecture_registration_is_refused():
    class Plugin:
        @staticmethod
        @manager.hookspecs.hookimpl
        def register_architectures(register):
            register({"name": "dict-instead"})

    warnings: list[str] = []
    reg = manager.Registry(warn=warnings.append)
    reg.register_plugin(Plugin(), "dicty")
    assert "not an Architecture" in reg.plugins["dicty"].error


def test_unknown_model_suggests_a_close_name():
    reg = load(None)
    with pytest.raises(UnknownModelError, match="did you mean 'cbm3d'"):
        reg.get("cbm3")


def test_cli_survives_broken_plugins(plugin_dir, rgb_image):
    for modules in (RAISES_ON_IMPORT, INVALID_CONFIG):
        entry = next(iter(modules))
        write_plugin_dist(plugin_dir, entry, {entry: entry}, modules)
    listed = run_zoo("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "cbm3d" in {m["name"] for m in json.loads(listed.stdout)}
    assert listed.stderr.count("warning: plugin") == 2
    plugins = {p["name"]: p for p in json.loads(run_zoo("plugins", "--json").stdout)}
    assert not plugins["broken_import"]["loaded"] and "boom" in plugins["broken_import"]["error"]
    assert not plugins["bad_config"]["loaded"] and "width" in plugins["bad_config"]["error"]
    done = run_zoo("denoise", "--model", "cbm3d", "--sigma", "10", str(rgb_image))
    assert done.returncode == 0, done.stderr
    assert (rgb_image.parent / "photo_denoised-cbm3d.png").is_file()


@pytest.mark.slow
def test_tutorial_plugin_installs_with_pip_and_shows_in_zoo_list(tmp_path, rgb_image):
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
           "--target", str(target), str(GAUSSIAN)]
    subprocess.run(pip, check=True, capture_output=True, timeout=300)
    env = {"PYTHONPATH": str(target)}
    listed = run_zoo("list", "--json", env=env)
    assert "gaussian" in {m["name"] for m in json.loads(listed.stdout)}
    done = run_zoo("denoise", "--model", "gaussian", str(rgb_image), env=env)
    assert done.returncode == 0, done.stderr
    assert (rgb_image.parent / "photo_denoised-gaussian.png").is_file()


def test_zoo_list_imports_no_framework():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "zoo", "list", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & {"torch", "tensorflow", "keras", "huggingface_hub"}
