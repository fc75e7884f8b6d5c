"""`zoo bench speed`: peaks, the fields of a run, bf16 accuracy, skips and the JSON. No test asserts
a timing: only that the numbers exist and are sane (positive, finite)."""

from __future__ import annotations

import csv
import json
import math

import pytest
from typer.testing import CliRunner

from registry.errors import UnknownModelError, ZooError
from registry.manager import get_registry
from zoo.bench import peaks as bench_peaks
from zoo.bench import speed as bench_speed
from zoo.cli import app

pytest.importorskip("torch")
runner = CliRunner()


@pytest.fixture(scope="module")
def speed_run(tmp_path_factory):
    """One small CLI run shared by the tests below: mwrcanet tiny, torch, fp32 and bf16, 64x64."""
    path = tmp_path_factory.mktemp("speed") / "speed.json"
    result = runner.invoke(app, ["bench", "speed", "--models", "mwrcanet@tiny,nosuch", "--size", "64x64",
                                 "--dtype", "fp32,bf16", "--repeat", "1", "--warmup", "0", "--threads", "1",
                                 "--peers", "", "--peak-size", "128", "--json", str(path)])
    assert result.exit_code == 0, result.output
    return result, json.loads(path.read_text()), path


def test_peaks_are_positive_gflops():
    peaks = bench_peaks.measure_peaks(("fp32", "bf16"), size=128, repeat=1)
    assert set(peaks) == {"matmul_torch_fp32", "matmul_numpy_fp32", "conv3x3_torch_fp32",
                          "matmul_torch_bf16", "conv3x3_torch_bf16"}
    assert all(math.isfinite(v) and v > 0 for v in peaks.values())


def test_run_reports_environment_and_both_peaks(speed_run):
    _, data, _ = speed_run
    env = data["environment"]
    assert {"cpu_model", "cpu_flags", "bf16", "amx", "torch", "torch_threads", "tensorflow"} <= env.keys()
    assert env["torch_threads"] == 1
    assert data["peaks"].keys() == {"before", "after", "max"}
    conv = [data["peaks"][k]["conv3x3_torch_fp32"] for k in ("before", "after", "max")]
    assert min(conv) > 0 and conv[2] == max(conv[:2])


def test_fp32_row_has_sane_throughput_memory_and_ratio(speed_run):
    _, data, _ = speed_run
    row = next(r for r in data["rows"] if r["dtype"] == "fp32")
    assert (row["label"], row["backend"], row["weights"]) == ("mwrcanet@tiny", "torch", "random")
    assert row["megapixels"] == pytest.approx(64 * 64 / 1e6) and len(row["seconds_all"]) == 1
    assert row["mp_per_s"] > 0 and row["gflops"] > 0 and row["pct_of_conv_peak"] > 0
    assert row["macs_per_mp"] > 0 and row["peak_basis"] == "conv3x3_torch_fp32"
    assert row["peak_rss_mb"] > 0 and row["mem_growth_mb"] >= 0


def test_bf16_row_has_psnr_delta(speed_run):
    _, data, _ = speed_run
    row = next(r for r in data["rows"] if r["dtype"] == "bf16")
    assert row["bf16_psnr_vs_fp32"] is None or row["bf16_psnr_vs_fp32"] > 20  # None: identical outputs
    assert row["bf16_psnr_loss"] is None  # random weights: no clean-image loss to report
    assert row["peak_basis"] == "conv3x3_torch_bf16" and row["pct_of_conv_peak"] > 0


def test_unknown_model_is_skipped_with_one_line(speed_run):
    result, data, _ = speed_run
    lines = [ln for ln in result.stderr.splitlines() if "nosuch" in ln]
    assert lines == ["skipped nosuch: unknown model 'nosuch'; run `zoo list` to see them"]
    assert data["skipped"].keys() == {"nosuch"} and len(data["rows"]) == 2


def test_cli_writes_json_csv_and_a_table(speed_run):
    result, data, path = speed_run
    assert data["benchmark"] == "speed" and data["config"]["size"] == [64, 64]
    rows = list(csv.DictReader(path.with_suffix(".csv").open()))
    assert [(r["label"], r["dtype"], r["size"]) for r in rows] == [("mwrcanet@tiny", "fp32", "64x64"),
                                                                   ("mwrcanet@tiny", "bf16", "64x64")]
    assert "MP/s" in result.stdout and "conv3x3_torch_fp32" in result.stdout


def test_missing_backend_is_skipped_once_per_model_and_backend():
    lines = []
    config = bench_speed.SpeedConfig(models=("cbm3d",), backends=("torch",), dtypes=("fp32", "bf16"), peers=())
    cases, skipped = bench_speed.plan_cases(config, lines.append)
    assert cases == [] and list(skipped) == ["cbm3d torch"] and len(lines) == 1


@pytest.mark.parametrize("spec, parsed", [
    ("mwrcanet@tiny", ("mwrcanet", "tiny", None)), ("mwrcanet:full", ("mwrcanet", "full", None)),
    ("mwrcanet", ("mwrcanet", None, "DEFAULT")), ("cbm3d", ("cbm3d", None, None)),
])
def test_model_specs_name_a_preset_or_a_tag(spec, parsed):
    from registry.manager import get_registry

    default = get_registry().get(parsed[0]).default_tag  # a bare name means the default weights
    assert bench_speed.parse_spec(spec) == tuple(default if p == "DEFAULT" else p for p in parsed)


def test_bad_specs_and_sizes_raise_one_line_errors():
    with pytest.raises(UnknownModelError, match="no preset or pretrained tag 'huge'"):
        bench_speed.parse_spec("mwrcanet:huge")
    with pytest.raises(ZooError, match="unknown preset"):
        bench_speed.parse_spec("mwrcanet@huge")
    assert bench_speed.parse_size("640x480") == (480, 640)
    for bad in ("640", "0x10", "axb"):
        with pytest.raises(ZooError, match="width x height"):
            bench_speed.parse_size(bad)
    with pytest.raises(ZooError, match="--dtype takes fp32, bf16"):
        bench_speed.check_dtypes(("fp16",))


def test_cpu_info_reads_bf16_and_amx_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Test CPU\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    info = bench_peaks.cpu_info(cpuinfo)
    assert info["cpu_model"] == "Test CPU" and info["cpu_flags"] == ["avx2", "avx512f", "avx512_bf16"]
    assert info["bf16"] and not info["amx"]


def test_compiled_runs_are_a_dimension_and_report_their_first_call(tmp_path):
    path = tmp_path / "speed.json"
    result = runner.invoke(app, ["bench", "speed", "--models", "edsr@tiny", "--size", "32x32", "--compile", "off,on",
                                 "--repeat", "1", "--warmup", "1", "--threads", "1", "--peers", "",
                                 "--peak-size", "64", "--json", str(path)])
    assert result.exit_code == 0, result.output
    rows = json.loads(path.read_text())["rows"]
    assert [r["compile"] for r in rows] == [False, True]
    assert all(r["first_call_s"] > 0 and r["mp_per_s"] > 0 for r in rows)
    assert all(r["allocator_tuned"] in (True, False) for r in rows) and "jit" in result.stdout


@pytest.mark.parametrize("text", ["yes", "", "on,maybe"])
def test_bad_compile_values_are_refused(text):
    with pytest.raises(ZooError, match="--compile takes"):
        bench_speed.parse_compile(text)


def test_engine_overhead_is_measured_against_the_whole_photo_call(tmp_path):
    path = tmp_path / "speed.json"
    result = runner.invoke(app, ["bench", "speed", "--models", "edsr@tiny", "--size", "32x32", "--engine",
                                 "--engine-size", "96x64", "--repeat", "1", "--warmup", "1", "--threads", "1",
                                 "--peers", "", "--peak-size", "64", "--json", str(path)])
    assert result.exit_code == 0, result.output
    row = json.loads(path.read_text())["rows"][0]
    assert row["engine_megapixels"] == pytest.approx(96 * 64 / 1e6) and row["engine_tiles"] >= 1
    assert row["engine_model_whole_s"] > 0 and math.isfinite(row["engine_overhead"])
    assert row["engine_seconds"] >= row["engine_read_s"] + row["engine_write_s"] and "eng +%" in result.stdout


def test_runtime_backends_are_planned_and_auto_is_resolved(monkeypatch):
    """onnx and openvino run any architecture with a torch backend (zoo.runtimes); auto becomes
    the backend it chooses for the model, so the row names the runtime that ran."""
    from zoo import runtimes
    from zoo.runtimes import auto

    config = bench_speed.SpeedConfig(models=("mwrcanet@tiny",), backends=("onnx", "openvino", "auto"),
                                     dtypes=("fp32", "int8"), peers=())
    lines: list[str] = []
    cases, skipped = bench_speed.plan_cases(config, lines.append)
    planned = {(c.backend, c.dtype) for c in cases}
    for runtime in runtimes.RUNTIMES:  # the runtimes this process offers (conftest keeps openvino out)
        if runtimes.installed(runtime):
            assert {(runtime, "fp32"), (runtime, "int8")} <= planned
        else:
            assert f"mwrcanet@tiny {runtime}" in skipped and "pip install" in skipped[f"mwrcanet@tiny {runtime}"]
    chosen = auto.choose(get_registry().get("mwrcanet"))
    assert all(b != "auto" for b, _ in planned) and (chosen, "fp32") in planned
    assert all("\n" not in line for line in lines)
