"""The onnx and openvino backends (zoo.runtimes): export of every built-in architecture with
dynamic height and width, fp32 parity with torch, the graph cache, the loader's dispatch, the
engine's tiles, `zoo convert --to onnx` and the `auto` rule. Tiny presets; no timing is asserted."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("onnx")

import zoo  # noqa: E402
from registry.errors import BackendUnavailableError, ZooError  # noqa: E402
from registry.manager import get_registry  # noqa: E402
from zoo import runtimes  # noqa: E402
from zoo.runtimes import auto, graphs  # noqa: E402

TOL = 1e-4
RUNTIMES = [pytest.param(r, marks=pytest.mark.skipif(not runtimes.installed(r), reason=f"{r} is not installed"))
            for r in ("onnx", "openvino")]
# tiny presets; TLC local pooling on small training patches, so min_side stays small
MODELS = {
    "mwrcanet-local": ("mwrcanet", {"preset": "tiny", "attention_pooling": "local", "train_size": 32}),
    "mwrcanet-global": ("mwrcanet", {"preset": "tiny"}),
    "edsr": ("edsr", {"preset": "tiny"}),
    "mrdnet-local": ("mrdnet", {"preset": "tiny", "image_pooling": "local", "train_size": 16}),
}


@pytest.fixture(autouse=True)
def graph_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("ZOO_GRAPH_CACHE", str(tmp_path_factory.getbasetemp() / "graphs"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _pair(key: str, runtime: str):
    import torch

    arch, options = MODELS[key]
    if get_registry().get(arch).config.presets.get(options["preset"]) is None:
        pytest.skip(f"{arch} has no tiny preset")
    torch.manual_seed(0)
    reference = zoo.load(arch, backend="torch", pretrained=False, **options)
    fast = zoo.load(arch, backend=runtime, pretrained=False, **options)
    fast.load_state_dict(reference.state_dict())
    return reference, fast


def _batch(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, h, w, 3), dtype=np.float32)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("key", list(MODELS))
def test_fp32_parity_with_torch_on_dynamic_sizes(key, runtime):
    """Non-square sizes on one graph (dynamic H and W), a batch of two, an odd size the base pads,
    and a side below min_side (a graph of its own)."""
    reference, fast = _pair(key, runtime)
    assert fast.backend == runtime and fast.size_multiple == reference.size_multiple
    side = fast.min_side
    for n, h, w in [(1, side + 16, side + 40), (2, side + 40, side + 8), (1, side + 3, side + 21), (1, 24, side + 8)]:
        x = _batch(n, h, w)
        assert np.abs(fast.denoise_batch(x) - reference.denoise_batch(x)).max() <= TOL, (n, h, w)


def test_min_side_follows_the_local_pooling_window():
    reference, fast = _pair("mwrcanet-local", "onnx") if runtimes.installed("onnx") else pytest.skip("no onnxruntime")
    kernel = max(m.pool_kernel for m in reference.module.modules() if isinstance(getattr(m, "pool_kernel", None), int))
    assert fast.min_side >= kernel and fast.min_side % fast.size_multiple == 0
    assert graphs.min_side(_pair("mwrcanet-global", "onnx")[0]) == reference.size_multiple


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_graphs_are_cached_by_the_weights_sha256(runtime):
    reference, fast = _pair("mwrcanet-global", runtime)
    fast.denoise_batch(_batch(1, 32, 48))
    (path,) = fast.graph_files.values()
    assert graphs.weights_sha256(reference.state_dict()) in path and path.startswith(str(graphs.cache_root()))
    stamp = __import__("os").stat(path).st_mtime_ns
    again = zoo.load("mwrcanet", backend=runtime, preset="tiny", pretrained=False)
    again.load_state_dict(reference.state_dict())
    again.denoise_batch(_batch(1, 40, 56))
    assert list(again.graph_files.values()) == [path] and __import__("os").stat(path).st_mtime_ns == stamp
    other = {k: v * 0.5 for k, v in reference.state_dict().items()}
    again.load_state_dict(other)
    again.denoise_batch(_batch(1, 32, 48))
    assert list(again.graph_files.values()) != [path]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_engine_tiles_through_a_runtime(runtime):
    from zoo.inference import engine

    reference, fast = _pair("edsr", runtime)
    image = _batch(1, 96, 80)[0]
    a = engine.run(reference, image, tile=48)
    b = engine.run(fast, image, tile=48)
    assert a.shape == b.shape and np.abs(a - b).max() <= TOL


def test_pretrained_default_loads_on_onnx():
    if not runtimes.installed("onnx"):
        pytest.skip("no onnxruntime")
    model = get_registry().get("mwrcanet")
    if model.default_tag is None:
        pytest.skip("no pretrained mwrcanet")
    fast = zoo.load("mwrcanet", backend="onnx")
    assert repr(fast).startswith("<OnnxDenoiser mwrcanet") and fast.backend == "onnx"


def test_runtime_errors_are_one_line():
    if not runtimes.installed("onnx"):
        pytest.skip("no onnxruntime")
    _, fast = _pair("edsr", "onnx")
    for options in ({"compile": True}, {"precision": "bf16"}):
        with pytest.raises(ZooError) as info:
            fast.accelerate(**options)
        assert "\n" not in str(info.value)
    if "cbm3d" in get_registry().architectures:
        with pytest.raises(BackendUnavailableError, match="no backend 'onnx'|no torch backend"):
            zoo.load("cbm3d", backend="onnx")
    with pytest.raises(ZooError, match="int8 runs on"):
        zoo.load("edsr", backend="torch", preset="tiny", pretrained=False, precision="int8")


def test_auto_rule(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_GRAPH_CACHE", str(tmp_path / "graphs"))  # no measured table: the rule
    arch = get_registry().get("mwrcanet")
    expected = next((r for r in ("openvino", "onnx") if runtimes.installed(r)), arch.default_backend())
    assert auto.explain(arch, "fp32") == (expected, "rule")
    assert auto.choose(arch, "int8") == expected
    assert auto.choose(arch, "bf16") == ("openvino" if runtimes.installed("openvino") else arch.default_backend())
    monkeypatch.setenv("ZOO_AUTO_BACKEND", "torch")
    assert auto.choose(arch) == "torch"
    assert zoo.load("mwrcanet", backend="auto", preset="tiny", pretrained=False).backend == "torch"
    monkeypatch.delenv("ZOO_AUTO_BACKEND")
    assert zoo.load("mwrcanet", backend="auto", preset="tiny", pretrained=False, compile=True).backend == "torch"
    ffdnet = get_registry().architectures.get("ffdnet")
    if ffdnet is not None and ffdnet.backend_installed("torch"):  # takes a noise level: never a runtime
        assert auto.choose(ffdnet) not in runtimes.RUNTIMES


def test_auto_takes_this_machines_measured_table(monkeypatch, tmp_path):
    """`zoo bench speed` rows on two or more backends record the fastest; auto then takes it
    (when installed) over the rule, and a table for another machine is ignored."""
    monkeypatch.setenv("ZOO_GRAPH_CACHE", str(tmp_path / "graphs"))
    arch = get_registry().get("mwrcanet")
    rows = [{"arch": "mwrcanet", "backend": "torch", "dtype": "fp32", "mp_per_s": 2.0},
            {"arch": "mwrcanet", "backend": "onnx", "dtype": "fp32", "mp_per_s": 1.0},
            {"arch": "mwrcanet", "backend": "torch", "dtype": "fp32", "mp_per_s": 9.0, "compile": True},
            {"arch": "edsr", "backend": "onnx", "dtype": "fp32", "mp_per_s": 5.0}]  # one backend: no choice
    assert auto.record(rows) == {"mwrcanet": {"fp32": "torch"}}
    assert auto.explain(arch, "fp32") == ("torch", "measured here (zoo bench speed)")
    import json

    data = json.loads(auto.table_path().read_text())
    data = {"another CPU x64": data[auto.machine_key()]}
    auto.table_path().write_text(json.dumps(data))
    assert auto.explain(arch, "fp32")[1] == "rule"


def test_export_onnx_writes_the_graph_beside_the_weights(tmp_path):
    if not runtimes.installed("onnx"):
        pytest.skip("no onnxruntime")
    import onnxruntime as ort

    from zoo.cli import app

    result = CliRunner().invoke(app, ["export", "edsr:camera_sharp_tiny", str(tmp_path / "out"), "--onnx"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"model.safetensors", "config.json", "model.onnx"}
    reference = zoo.load(str(tmp_path / "out"), backend="torch")
    x = _batch(1, 40, 56)
    session = ort.InferenceSession(str(tmp_path / "out" / "model.onnx"), providers=["CPUExecutionProvider"])
    y = session.run(None, {"image": x.transpose(0, 3, 1, 2).copy()})[0].transpose(0, 2, 3, 1)
    assert np.abs(np.clip(y, 0, 1) - reference.denoise_batch(x)).max() <= TOL


def test_convert_to_onnx(tmp_path):
    if not runtimes.installed("onnx"):
        pytest.skip("no onnxruntime")
    import onnx
    import onnxruntime as ort

    from zoo.cli import app
    from zoo.weights.files import save_state
    from zoo.weights.metadata import describe

    reference, _ = _pair("mwrcanet-local", "onnx")
    src = tmp_path / "w.safetensors"
    save_state(reference.state_dict(), src, metadata=describe("mwrcanet", reference.config, provenance="test"))
    result = CliRunner().invoke(app, ["convert", str(src), "--to", "onnx"])
    assert result.exit_code == 0, result.output
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "w.onnx")).metadata_props}
    assert meta["architecture"] == "mwrcanet" and meta["serves"].startswith("height >= ")
    side = int(meta["serves"].split(">= ")[1].split()[0])
    x = _batch(1, side + 8, side + 24)
    session = ort.InferenceSession(str(tmp_path / "w.onnx"), providers=["CPUExecutionProvider"])
    y = session.run(None, {"image": x.transpose(0, 3, 1, 2).copy()})[0].transpose(0, 2, 3, 1)
    assert np.abs(np.clip(y, 0, 1) - reference.denoise_batch(x)).max() <= TOL
    again = CliRunner().invoke(app, ["convert", str(src), "--to", "onnx"])
    assert again.exit_code == 1 and "--overwrite" in again.output and "Traceback" not in again.output


def test_auto_falls_back_when_the_graph_does_not_export(monkeypatch, tmp_path):
    """A module that does not export (a third-party plugin, say) runs on its default backend
    under auto, while an explicit --backend onnx names the failure in one line."""
    if not runtimes.installed("onnx"):
        pytest.skip("no onnxruntime")
    monkeypatch.setenv("ZOO_GRAPH_CACHE", str(tmp_path / "graphs"))

    def refuse(denoiser, *_args, **_kwargs):
        raise BackendUnavailableError("edsr does not export to ONNX: unsupported operator")

    monkeypatch.setattr(graphs, "export", refuse)
    options = {"preset": "tiny", "pretrained": False}
    assert zoo.load("edsr", backend="auto", **options).backend == "torch"
    explicit = zoo.load("edsr", backend="onnx", **options)
    with pytest.raises(BackendUnavailableError, match="does not export"):
        explicit.denoise(_batch(1, 32, 32)[0])
    with pytest.raises(BackendUnavailableError, match="does not export"):  # nothing else runs int8
        zoo.load("edsr", backend="auto", precision="int8", **options)


def test_openvino_in_a_process_of_its_own(tmp_path):
    """The OpenVINO cases of this file, in a pytest process where OpenVINO is offered (tests/conftest.py
    keeps it out of the main one: it and Keras training do not share a process)."""
    import importlib.util
    import os
    import subprocess
    import sys

    if os.environ.get("ZOO_TEST_OPENVINO"):
        pytest.skip("this is that process")
    if importlib.util.find_spec("openvino") is None:
        pytest.skip("openvino is not installed (denoise-zoo[openvino])")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k",
                             "(openvino or auto) and not own"], cwd=here, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "ZOO_TEST_OPENVINO": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " skipped" not in result.stdout, result.stdout[-1000:]



def test_int8_keeps_attention_convolutions_float_whatever_the_node_names():
    """Static graphs (inputs below the pooling window) come from torch.export with generic node
    names; the attention branch is found by its place in the graph too."""
    import onnx
    from onnx import TensorProto, helper

    from zoo.runtimes import quantize

    def conv(name: str, src: str, dst: str) -> onnx.NodeProto:
        return helper.make_node("Conv", [src, f"{name}.w"], [dst], name=name)

    nodes = [conv("node_conv2d", "x", "a"), helper.make_node("Relu", ["a"], ["b"], name="n1"),
             conv("node_conv2d_1", "b", "c"),  # the main path
             helper.make_node("GlobalAveragePool", ["c"], ["p"], name="n2"),
             conv("node_conv2d_2", "p", "r"), helper.make_node("Relu", ["r"], ["r2"], name="n3"),
             conv("node_conv2d_3", "r2", "e"), helper.make_node("Sigmoid", ["e"], ["g"], name="n4"),
             helper.make_node("Mul", ["c", "g"], ["m"], name="n5"),
             conv("node_conv2d_4", "m", "y1"), conv("node_conv2d_5", "y1", "y")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    kept = quantize.kept_in_float(helper.make_model(graph))
    assert kept == ["node_conv2d", "node_conv2d_2", "node_conv2d_3", "node_conv2d_5"]  # first, branch, last

    d = zoo.load("mwrcanet:awgn_small", backend="onnx")
    d.prepare()
    static = onnx.load(str(graphs.graph_for(d.torch, d.weights_sha256, 32, 32, d.min_side)))
    dynamic = onnx.load(str(graphs.graph_for(d.torch, d.weights_sha256, 256, 256, d.min_side)))
    assert static.graph.node[0].name != dynamic.graph.node[0].name  # the names differ ...
    assert len(quantize.kept_in_float(static)) == len(quantize.kept_in_float(dynamic)) == 22  # ... what stays float not
