"""Hub weights end to end against a loopback hub (tests/hubserver.py); huggingface_hub is real.

Most tests use ``toynet`` (tests/toyplugin.py, numpy only); the last one runs the real
``mwrcanet`` through the `zoo` console script when torch and the plugin are there.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from registry.errors import WeightsError
from registry.spec import PretrainedWeights
from tests import toyplugin
from tests.conftest import one_line_error, run_zoo
from tests.hubserver import hub  # noqa: F401  (fixture)
from zoo.weights import cache as zcache
from zoo.weights import hub as zhub
from zoo.cli import app
from zoo.weights.files import save_state

REF = "hf://org/toy/model.safetensors@main"


def zoo(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])



def weights_file(tmp_path: Path, hidden: int = 4, seed: int = 1, name: str = "w.safetensors") -> Path:
    path = tmp_path / f"{seed}-{hidden}-{name}"
    save_state(toyplugin.random_state(hidden, seed), path)
    return path


def toy_repo(hub, tmp_path, repo="org/toy", hidden=4, seed=1, config_hidden=None, branch="main") -> str:
    """Publish toynet weights (+ config.json) on the fake hub; return the commit sha."""
    cfg = {"architecture": "toynet", "hidden": config_hidden or hidden}
    files = {"model.safetensors": weights_file(tmp_path, hidden, seed).read_bytes(),
             "config.json": json.dumps(cfg).encode()}
    return hub.commit(repo, files, branch)


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.fixture(autouse=True)
def toy_registry():
    toyplugin.install()


# -- references -------------------------------------------------------------------------------


def test_parse_ref_forms():
    assert zhub.parse_ref("hf://a/b/model.safetensors") == zhub.HubRef("a/b", "model.safetensors", "main")
    assert zhub.parse_ref("hf://a/b/sub/w.safetensors@v1.0") == zhub.HubRef("a/b", "sub/w.safetensors", "v1.0")
    assert zhub.parse_ref("hf://a/b@dev", default_file="model.safetensors").revision == "dev"
    assert str(zhub.parse_ref("hf://a/b/w.safetensors@refs/pr/1")) == "hf://a/b/w.safetensors@refs/pr/1"
    for bad in ("hf://a", "hf://a/b", "hf://a/b/f@", "hf:///b/f", "a/b/f"):
        with pytest.raises(WeightsError, match="bad Hub reference"):
            zhub.parse_ref(bad)


# -- download, cache, offline -----------------------------------------------------------------


def test_download_then_second_load_makes_no_request(hub, tmp_path):
    toy_repo(hub, tmp_path)
    first = zhub_load()
    assert hub.seen("HEAD") and hub.seen("GET")  # config.json and model.safetensors
    assert len(hub.requests) == 4, hub.requests
    hub.requests.clear()
    second = zhub_load()
    assert hub.requests == []
    local = toyplugin.build(toyplugin.ToyConfig())
    local.load_state_dict(toyplugin.random_state(4, 1))
    image = np.random.default_rng(0).random((9, 7, 3), dtype=np.float32)
    assert np.array_equal(first.denoise(image), local.denoise(image))
    assert np.array_equal(second.denoise(image), local.denoise(image))


def zhub_load(**kwargs):
    import zoo

    return zoo.load("toynet", weights=REF, **kwargs)


def test_offline_env_uses_cache_and_sends_nothing(hub, tmp_path, monkeypatch):
    toy_repo(hub, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="not in the Hugging Face cache and offline mode is on"):
        zhub_load()
    assert hub.requests == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    zhub_load()
    hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert zhub_load().config.hidden == 4
    assert hub.requests == []


def test_offline_flag_cli_no_request_then_works_after_pull(hub, tmp_path, rgb_image):
    toy_repo(hub, tmp_path)
    out = tmp_path / "out.png"
    args = ("denoise", "--offline", "--model", "toynet", "--weights", REF, "-o", out, rgb_image)
    one_line_error(zoo(*args), "offline mode is on")
    assert hub.requests == []
    assert zoo("pull", "hf://org/toy@main").exit_code == 0
    hub.requests.clear()
    result = zoo(*args)
    assert result.exit_code == 0, result.output
    assert out.is_file() and hub.requests == []


def test_revision_pinning_and_pull_refreshes_a_moved_branch(hub, tmp_path):
    old = toy_repo(hub, tmp_path, seed=1)
    zhub_load()
    new = toy_repo(hub, tmp_path, seed=2)
    import zoo

    at_old = zoo.load("toynet", weights=f"hf://org/toy/model.safetensors@{old}")
    at_new = zoo.load("toynet", weights=f"hf://org/toy/model.safetensors@{new}")
    assert np.array_equal(at_old.state_dict()["mix.weight"], toyplugin.random_state(4, 1)["mix.weight"])
    assert np.array_equal(at_new.state_dict()["mix.weight"], toyplugin.random_state(4, 2)["mix.weight"])
    # loads are cache-first: the cached `main` stays on the old commit until `zoo pull` re-checks it
    assert np.array_equal(zhub_load().state_dict()["mix.weight"], at_old.state_dict()["mix.weight"])
    assert zoo_pull_ok("hf://org/toy@main")
    assert np.array_equal(zhub_load().state_dict()["mix.weight"], at_new.state_dict()["mix.weight"])


def zoo_pull_ok(model: str) -> bool:
    result = zoo("pull", model)
    assert result.exit_code == 0, result.output
    return True


@pytest.mark.parametrize("ref, fragment", [
    ("hf://nobody/none/model.safetensors@main", "no repository nobody/none"),
    ("hf://org/toy/model.safetensors@v9", "has no revision 'v9'"),
    ("hf://org/toy/other.safetensors@main", "has no file 'other.safetensors'"),
])
def test_the_three_404_kinds(hub, tmp_path, rgb_image, ref, fragment):
    toy_repo(hub, tmp_path)
    one_line_error(zoo("denoise", "--model", "toynet", "--weights", ref, rgb_image), fragment)


# -- integrity --------------------------------------------------------------------------------


def test_tampered_download_rejected_and_not_used_next_call(hub, tmp_path, monkeypatch):
    toy_repo(hub, tmp_path)
    hub.tamper.add("model.safetensors")
    with pytest.raises(WeightsError, match="checksum mismatch.*deleted and was not loaded"):
        zhub_load()
    assert zhub.cached(zhub.parse_ref(REF)) is None
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the bad copy is gone: offline cannot find it
    with pytest.raises(WeightsError, match="not in the Hugging Face cache"):
        zhub_load()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub.tamper.clear()
    hub.requests.clear()
    assert zhub_load().config.hidden == 4
    assert ("GET", "/org/toy/resolve/main/model.safetensors") in hub.requests


def test_tampered_cache_rejected_and_redownloaded(hub, tmp_path, rgb_image):
    toy_repo(hub, tmp_path)
    path = zhub.download(REF)
    blob = path.resolve()
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1  # same size: the hub client's only check would pass
    blob.write_bytes(bytes(data))
    one_line_error(zoo("denoise", "--model", "toynet", "--weights", REF, rgb_image), "checksum mismatch")
    assert not blob.exists()
    hub.requests.clear()
    assert zoo("denoise", "--model", "toynet", "--weights", REF, "-o", tmp_path / "o.png", rgb_image).exit_code == 0
    assert ("GET", "/org/toy/resolve/main/model.safetensors") in hub.requests
    assert zhub.sha256_file(zhub.download(REF)) == blob.name


def test_card_pin_is_checked_on_every_load(hub, tmp_path, rgb_image):
    sha = toy_repo(hub, tmp_path)
    good = zhub.sha256_file(weights_file(tmp_path))
    card = dict(tag="awgn", file=f"hf://org/toy/model.safetensors@{sha}", noise="awgn", preset="tiny")
    toyplugin.install(PretrainedWeights(sha256=good, **card))
    assert zoo("denoise", "--model", "toynet", "-o", tmp_path / "a.png", rgb_image).exit_code == 0
    toyplugin.install(PretrainedWeights(sha256="0" * 64, **card))  # the cached file no longer matches
    hub.requests.clear()
    one_line_error(zoo("denoise", "--model", "toynet", rgb_image), "expected pinned sha256 000000000000")
    assert hub.requests == []  # pinned by commit: checked from the cache, no request


def test_truncated_download(hub, tmp_path):
    toy_repo(hub, tmp_path)
    hub.truncate.add("model.safetensors")
    with pytest.raises(WeightsError, match="was truncated"):
        zhub_load()
    assert zhub.cached(zhub.parse_ref(REF)) is None


def test_not_safetensors(hub, rgb_image):
    hub.commit("org/junk", {"model.safetensors": b"\x80\x04 not a safetensors file" * 8})
    one_line_error(zoo("denoise", "--model", "toynet", "--weights", "hf://org/junk/model.safetensors", rgb_image),
                   "is not a valid safetensors file")


def test_pickled_checkpoint_needs_trust_pickle(hub, tmp_path, rgb_image):
    torch = pytest.importorskip("torch")
    path = tmp_path / "w.pt"
    torch.save({k: torch.from_numpy(v) for k, v in toyplugin.random_state().items()}, path)
    hub.commit("org/pickled", {"model.pt": path.read_bytes()})
    ref = "hf://org/pickled/model.pt"
    one_line_error(zoo("denoise", "--model", "toynet", "--weights", ref, rgb_image), "pickled checkpoint")
    result = zoo("denoise", "--model", "toynet", "--weights", ref, "--trust-pickle", "-o", tmp_path / "p.png", rgb_image)
    assert result.exit_code == 0, result.output


def test_tensors_that_do_not_fit_the_config(hub, tmp_path, rgb_image):
    toy_repo(hub, tmp_path, hidden=4, config_hidden=8)
    one_line_error(zoo("denoise", "--model", "toynet", "--weights", REF, rgb_image), "do not fit")


def test_config_json_for_another_architecture(hub, tmp_path, rgb_image):
    hub.commit("org/other", {"model.safetensors": weights_file(tmp_path).read_bytes(),
                             "config.json": b'{"architecture": "toynet", "hidden": 4}'})
    hub.commit("org/bad", {"model.safetensors": b"x", "config.json": b'{"hidden": 4}'})
    one_line_error(zoo("denoise", "--model", "toynet", "--weights", "hf://org/bad/model.safetensors", rgb_image),
                   "does not name an 'architecture'")
    one_line_error(zoo("denoise", "--model", "hf://org/nope", rgb_image), "no repository org/nope")


def test_endpoint_that_is_not_a_hub(httpserver, monkeypatch, tmp_path):
    httpserver.expect_request("/org/toy/resolve/main/model.safetensors").respond_with_data("hello")
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(WeightsError, match="cannot reach the Hub at .* and .* is not cached"):
        zhub.download(REF)


def test_connection_failure_maps_to_one_line():
    from huggingface_hub.errors import LocalEntryNotFoundError

    err = zhub._explain(LocalEntryNotFoundError("An error happened\nwith detail"), zhub.parse_ref(REF))
    assert "cannot reach the Hub" in str(err) and "\n" not in str(err)


# -- pull and cache ---------------------------------------------------------------------------


def test_pull_card_then_offline_load(hub, tmp_path, monkeypatch):
    sha = toy_repo(hub, tmp_path)
    good = zhub.sha256_file(weights_file(tmp_path))
    toyplugin.install(PretrainedWeights(tag="awgn", file=f"hf://org/toy/model.safetensors@{sha}", sha256=good,
                                        noise="awgn", preset="tiny"))
    result = zoo("pull", "toynet:awgn")
    assert result.exit_code == 0 and "cached" in result.stdout, result.output
    assert [m for m, _ in hub.requests] == ["HEAD", "GET"]
    hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import zoo as zoo_api

    assert zoo_api.load("toynet").config.hidden == 4 and hub.requests == []


def test_pull_offline_not_cached_sends_nothing(hub, tmp_path):
    toy_repo(hub, tmp_path)
    one_line_error(zoo("pull", "hf://org/toy", "--offline"), "offline mode is on")
    assert hub.requests == []


def test_cache_list_verify_clear(hub, tmp_path):
    toy_repo(hub, tmp_path)
    hub.commit("other/model", {"model.safetensors": weights_file(tmp_path).read_bytes()})
    assert zoo_pull_ok("hf://org/toy") and zoo_pull_ok("hf://other/model")
    listed = json.loads(zoo("cache", "list", "--json").stdout)
    assert {(r["repo"], r["file"]) for r in listed} == {("org/toy", "config.json"), ("org/toy", "model.safetensors")}
    assert len(json.loads(zoo("cache", "list", "--json", "--all").stdout)) == 3
    assert zoo("cache", "verify").exit_code == 0
    blob = zhub.download(REF).resolve()
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[::-1])
    result = zoo("cache", "verify")
    assert result.exit_code == 1 and "CORRUPT" in result.stdout
    assert zoo("cache", "verify", "--delete").exit_code == 1 and not blob.exists()
    cleared = zoo("cache", "clear", "--yes")
    assert cleared.exit_code == 0 and "deleted 1 revision" in cleared.stdout
    assert [r["repo"] for r in json.loads(zoo("cache", "list", "--json", "--all").stdout)] == ["other/model"]
    assert hub.requests and all(m in ("HEAD", "GET") for m, _ in hub.requests)


# -- export, serve or push, load back ---------------------------------------------------------


def export_toy(tmp_path: Path, **card_fields) -> tuple[Path, Path]:
    weights = weights_file(tmp_path, seed=7)
    card = PretrainedWeights(tag="awgn", file=str(weights), sha256=zhub.sha256_file(weights), noise="awgn",
                             preset="tiny", license="MIT", metrics={"cbsd68_s25_psnr": 30.5, "kodak24_s25_ssim": 0.87},
                             training="zoo train toynet --data div2k", **card_fields)
    toyplugin.install(card)
    folder = tmp_path / "export"
    result = zoo("export", "toynet:awgn", folder, "--dataset", "div2k")
    assert result.exit_code == 0, result.output
    return folder, weights


def test_export_writes_a_hub_ready_folder(tmp_path):
    from huggingface_hub import ModelCard

    folder, _ = export_toy(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads((folder / "config.json").read_text()) == {"architecture": "toynet", "hidden": 4}
    meta = ModelCard.load(folder / "README.md").data.to_dict()
    assert meta["license"] == "mit" and meta["library_name"] == "denoise-zoo" and meta["datasets"] == ["div2k"]
    assert "toynet" in meta["tags"]
    metrics = {(r["dataset"]["type"], m["type"]): m["value"]
               for r in meta["model-index"][0]["results"] for m in r["metrics"]}
    assert metrics == {("cbsd68", "psnr"): 30.5, ("kodak24", "ssim"): 0.87}
    assert zoo("export", "toynet:awgn", folder).exit_code == 1  # never overwrites silently


def test_export_serve_load_reproduces_output_exactly(hub, tmp_path, rgb_image):
    folder, weights = export_toy(tmp_path)
    hub.commit("org/exported", {p.name: p.read_bytes() for p in folder.iterdir()})
    local, served, short = tmp_path / "local.png", tmp_path / "served.png", tmp_path / "short.png"
    assert zoo("denoise", "--model", "toynet:awgn", "-o", local, rgb_image).exit_code == 0
    ref = "hf://org/exported/model.safetensors@main"
    assert zoo("denoise", "--model", "toynet", "--weights", ref, "-o", served, rgb_image).exit_code == 0
    assert zoo("denoise", "--model", "hf://org/exported", "-o", short, rgb_image).exit_code == 0
    assert np.array_equal(pixels(local), pixels(served)) and np.array_equal(pixels(local), pixels(short))
    assert not np.array_equal(pixels(local), pixels(rgb_image))


def test_push_uploads_with_hfapi_and_loads_back(hub, tmp_path, rgb_image):
    folder, _ = export_toy(tmp_path)
    (folder / ".model.safetensors.x.part").write_bytes(b"junk")  # never uploaded
    result = zoo("push", folder, "org/pushed")
    assert result.exit_code == 0, (result.output, hub.requests)
    paths = [p for m, p in hub.requests if m == "POST"]
    assert paths[0] == "/api/repos/create" and any("/preupload/" in p for p in paths) and "/commit/" in paths[-1]
    assert hub.files("org/pushed") == {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert zoo("denoise", "--model", "toynet:awgn", "-o", a, rgb_image).exit_code == 0
    assert zoo("denoise", "--model", "hf://org/pushed", "-o", b, rgb_image).exit_code == 0
    assert np.array_equal(pixels(a), pixels(b))


def test_push_refuses_a_folder_that_is_not_an_export(hub, tmp_path):
    one_line_error(zoo("push", tmp_path, "org/x"), "is not an exported model")
    assert hub.requests == []


# -- the real architecture through the console script -----------------------------------------


@pytest.mark.slow
def test_mwrcanet_acceptance_cli(hub, tmp_path, rgb_image):
    pytest.importorskip("torch")
    from registry.manager import Registry

    registry = Registry()
    registry.load_entry_points()
    if "mwrcanet" not in registry.architectures:
        pytest.skip("mwrcanet is not registered yet")
    arch = registry.architectures["mwrcanet"]
    model = arch.build(arch.config.preset("tiny"), "torch")
    rng = np.random.default_rng(3)
    state = {k: (rng.normal(0, 0.05, v.shape)).astype(np.float32) for k, v in model.state_dict().items()}
    weights = tmp_path / "mw.safetensors"
    save_state(state, weights)
    folder = tmp_path / "mw-export"
    env = {"ZOO_PLUGINS": "mwrcanet"}
    assert run_zoo("export", "mwrcanet", str(folder), "--weights", str(weights), "--preset", "tiny",
                   env=env).returncode == 0
    hub.commit("org/mw", {p.name: p.read_bytes() for p in folder.iterdir()})
    local, served, offline = (tmp_path / f"{n}.png" for n in ("local", "served", "offline"))
    ran = run_zoo("denoise", "--model", "mwrcanet", "--preset", "tiny", "--weights", str(weights), "-o", str(local),
                  str(rgb_image), env=env)
    assert ran.returncode == 0, ran.stderr
    ref = "hf://org/mw/model.safetensors@main"
    ran = run_zoo("denoise", "--model", "mwrcanet", "--weights", ref, "-o", str(served), str(rgb_image), env=env)
    assert ran.returncode == 0, ran.stderr
    hub.requests.clear()
    ran = run_zoo("denoise", "--model", "mwrcanet", "--weights", ref, "-o", str(offline), str(rgb_image),
                  env={**env, "HF_HUB_OFFLINE": "1"})
    assert ran.returncode == 0, ran.stderr
    assert hub.requests == []
    assert np.array_equal(pixels(local), pixels(served)) and np.array_equal(pixels(local), pixels(offline))


def test_zoo_list_does_not_import_huggingface_hub():
    import subprocess
    import sys

    code = ("import sys; from typer.testing import CliRunner; from zoo.cli import app; "
            "assert CliRunner().invoke(app, ['list']).exit_code == 0; print('huggingface_hub' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_a_modified_copy_in_place_of_the_cache_link_is_caught(hub, tmp_path, rgb_image):
    toy_repo(hub, tmp_path)
    path = zhub.download(REF)  # verified once: the zoo records the hub hash beside the cache
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.unlink()
    path.write_bytes(bytes(data))  # a copy, not a symlink: no hash in any name
    assert [s for _, s in zcache.verify_cache(everything=True)] == ["corrupt"]
    result = zoo("cache", "verify", "--all")
    assert result.exit_code == 1 and "CORRUPT" in result.stdout
    one_line_error(zoo("denoise", "--model", "toynet", "--weights", REF, rgb_image), "checksum mismatch")
    assert not path.exists()
    assert zoo("denoise", "--model", "toynet", "--weights", REF, "-o", tmp_path / "o.png", rgb_image).exit_code == 0


def test_an_unrecorded_copy_is_checked_online_and_refused_offline(hub, tmp_path):
    toy_repo(hub, tmp_path)
    path = zhub.download(REF)
    folder = next(p for p in path.parents if p.name.startswith("models--"))
    (folder / zhub.MANIFEST).unlink()
    good = path.read_bytes()
    path.unlink()
    path.write_bytes(good)  # an honest copy nobody recorded (e.g. a cache copied with cp -L)
    assert [s for _, s in zcache.verify_cache(everything=True)] == ["unverified"]
    with pytest.raises(WeightsError, match="cannot verify the cached copy"):
        zhub.download(REF, offline=True)
    hub.requests.clear()
    assert zhub.download(REF) == path  # the Hub's ETag checks it (one HEAD), then it is recorded
    assert [m for m, _ in hub.requests] == ["HEAD"]
    hub.requests.clear()
    assert zhub.download(REF, offline=True) == path and hub.requests == []
    assert [s for _, s in zcache.verify_cache(everything=True)] == ["ok"]


def test_offline_after_online_repeats_with_zero_requests_for_a_repo_without_config(hub, tmp_path, rgb_image):
    hub.commit("org/bare", {"model.safetensors": weights_file(tmp_path).read_bytes()})  # no config.json
    ref = "hf://org/bare/model.safetensors@main"
    online = zoo("denoise", "--model", "toynet", "--weights", ref, "-o", tmp_path / "on.png", rgb_image)
    assert online.exit_code == 0, online.output
    hub.requests.clear()
    offline = zoo("denoise", "--offline", "--model", "toynet", "--weights", ref, "-o", tmp_path / "off.png", rgb_image)
    assert offline.exit_code == 0, offline.output
    assert hub.requests == []
    assert np.array_equal(pixels(tmp_path / "on.png"), pixels(tmp_path / "off.png"))
