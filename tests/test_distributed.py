"""`zoo denoise --engine ray` and zoo.distributed on a local Ray (2 CPUs, 127.0.0.1, started once per
session): the local engine's outputs bit for bit, skip and resume, a worker killed mid-file, a bad
file, --files-from, an unreachable cluster; and that nothing else in the zoo imports Ray."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.conftest import save_rgb
from zoo.atomic import is_temp_name
from zoo import inference as zoo_inference
from zoo.cli import app

runner = CliRunner()


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray for every test that needs it, shut down at the end of the session."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    os.environ.pop("RAY_ADDRESS", None)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20, log_to_driver=False,
             _node_ip_address="127.0.0.1", logging_level="ERROR")
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    yield ray
    ray.shutdown()


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(4):
        save_rgb(folder / f"p{i}.png", rng.uniform(0, 1, (20 + 2 * i, 24, 3)))
    return folder


def zoo(*args: str, engine: str = "ray", workers: str = "1"):
    """zoo denoise on the torch backend (fp32), through the local engine or Ray's."""
    extra = ["--engine", "ray", "--workers", workers] if engine == "ray" else []
    return runner.invoke(app, ["denoise", "--backend", "torch", *extra, *args])


def outputs(folder) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.iterdir()) if not is_temp_name(p.name)}


def said(stderr: str) -> list[str]:
    """stderr's lines but plugin warnings (a broken third-party plugin in the environment warns on every run)."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("warning: plugin")]


def temp_files(folder) -> list[str]:
    return [p.name for p in folder.rglob("*") if is_temp_name(p.name)]


def test_ray_outputs_equal_the_local_engines_bit_for_bit(ray_cluster, photos, tmp_path):
    local = zoo("--out-dir", str(tmp_path / "local"), str(photos), engine="local")
    ray_run = zoo("--out-dir", str(tmp_path / "ray"), str(photos), workers="2")
    assert local.exit_code == 0 and ray_run.exit_code == 0, ray_run.output
    mine, theirs = outputs(tmp_path / "local"), outputs(tmp_path / "ray")
    assert len(mine) == 4 and mine.keys() == theirs.keys()
    assert all(np.array_equal(mine[name], theirs[name]) for name in mine)
    said = sorted(ray_run.stdout.replace(str(tmp_path / "ray"), "OUT").splitlines())
    assert said == sorted(local.stdout.replace(str(tmp_path / "local"), "OUT").splitlines())  # the same 'wrote' lines
    assert "4 of 4 images denoised, 0 failed" in ray_run.stderr


def test_a_rerun_skips_finished_outputs_and_writes_the_missing(ray_cluster, photos, tmp_path):
    out = tmp_path / "out"
    assert zoo("--out-dir", str(out), str(photos / "p0.png"), str(photos / "p1.png")).exit_code == 0
    rerun = zoo("--out-dir", str(out), "--json", str(photos))
    assert rerun.exit_code == 0, rerun.output
    statuses = sorted((r.split('"input": ')[1].split(",")[0], '"skipped"' in r) for r in rerun.stdout.splitlines())
    assert [skipped for _, skipped in statuses] == [True, True, False, False]
    assert len(outputs(out)) == 4 and temp_files(out) == []


def test_a_worker_killed_mid_file_has_its_file_retried_and_every_output_once(ray_cluster, photos, tmp_path,
                                                                             monkeypatch):
    marker = tmp_path / "died"
    monkeypatch.setenv("ZOO_TEST_RAY_CRASH", f"p2.png@{marker}")
    out = tmp_path / "out"
    result = zoo("--out-dir", str(out), str(photos))
    assert marker.exists(), "the worker was not killed"
    assert result.exit_code == 0, result.output
    assert sorted(outputs(out)) == [f"p{i}_denoised-mwrcanet.png" for i in range(4)]
    assert temp_files(out) == []
    assert result.stdout.count("wrote ") == 4


def test_a_bad_file_in_the_middle_fails_alone(ray_cluster, photos, tmp_path):
    (photos / "p1b.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    result = zoo("--out-dir", str(out), str(photos))
    assert result.exit_code == 1
    assert len(outputs(out)) == 4 and temp_files(out) == []
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and "p1b.png" in failed[0]
    assert "4 of 5 images denoised, 1 failed" in result.stderr


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_files_from_names_the_inputs_and_a_missing_one_fails_alone(ray_cluster, photos, tmp_path, engine):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{photos / 'p0.png'}\n\n{photos / 'gone.png'}\n{photos / 'p3.png'}\n")
    out = tmp_path / "out"
    result = zoo("--out-dir", str(out), "--files-from", str(listing), engine=engine)
    assert result.exit_code == 1, result.output
    assert sorted(outputs(out)) == ["p0_denoised-mwrcanet.png", "p3_denoised-mwrcanet.png"]
    assert f"failed: no such file: {photos / 'gone.png'}" in result.stderr


def test_files_from_a_list_that_is_not_there_is_one_line(tmp_path):
    result = zoo("--files-from", str(tmp_path / "nope.txt"), engine="local")
    assert result.exit_code == 1 and len(said(result.stderr)) == 1
    assert said(result.stderr)[0].startswith("error: cannot read --files-from")


@pytest.mark.parametrize("address", ["127.0.0.1:9", "ray://127.0.0.1:9"])
def test_an_unreachable_ray_address_is_one_line_without_a_traceback(photos, address):
    pytest.importorskip("ray")
    ran = subprocess.run([sys.executable, "-m", "zoo", "denoise", "--engine", "ray", "--ray-address", address,
                          str(photos)], capture_output=True, text=True, timeout=30)
    assert ran.returncode == 1
    assert len(said(ran.stderr)) == 1 and said(ran.stderr)[0].startswith("error: cannot reach Ray")
    assert "Traceback" not in ran.stderr + ran.stdout and not list(photos.glob("*denoised*"))


def test_ray_options_without_the_ray_engine_are_refused(photos):
    result = zoo("--workers", "2", str(photos), engine="local")
    assert result.exit_code == 1 and "go with --engine ray" in result.stderr


def test_denoise_dataset_gives_a_status_row_per_file(ray_cluster, photos, tmp_path):
    from zoo.distributed import denoise_dataset

    paths = ray_cluster.data.from_items([{"path": str(p)} for p in [*sorted(photos.iterdir()), photos / "missing.png"]])
    dataset = denoise_dataset(paths, "mwrcanet", out_dir=tmp_path / "out", workers=1, backend="torch")
    rows = sorted(dataset.take_all(), key=lambda r: r["input"])
    assert [r["status"] for r in rows] == ["failed", "written", "written", "written", "written"]
    assert rows[0]["error"].startswith("no such file") and all(r["model"] == "mwrcanet" for r in rows)
    assert len(outputs(tmp_path / "out")) == 4


def test_denoise_dataset_takes_the_mix_and_compare_as_zoo_denoise_does(ray_cluster, photos, tmp_path):
    from registry.errors import ZooError
    from zoo.distributed import denoise_dataset

    with pytest.raises(ZooError, match="strength"):
        denoise_dataset([str(photos)], "mwrcanet", strength=2)  # refused on the driver, before any work
    dataset = denoise_dataset([str(photos)], "mwrcanet", out_dir=tmp_path / "out", workers=1, backend="torch",
                              strength=0, compare=True)
    rows = dataset.take_all()
    assert [r["status"] for r in rows] == ["written"] * 4
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert all("mwrcanet-strength0" in n for n in names) and sum("_compare-" in n for n in names) == 4
    for row in rows:  # strength 0 is the input itself
        assert np.array_equal(np.asarray(Image.open(row["output"])), np.asarray(Image.open(row["input"])))


def test_a_file_that_kills_its_worker_every_time_fails_after_the_retries(tmp_path):
    pytest.importorskip("ray")
    from zoo import atomic
    from zoo.inference import batch, ray_engine
    from zoo.inference.planning import Job

    target = tmp_path / "x_out.png"
    for _ in range(ray_engine.RETRIES + 1):  # the tries that died before this one
        atomic.count_try(target, "run1")
    worker = ray_engine.Worker(lambda: None, batch.Options(temp_tag="run1"), "m")
    row = worker.run(0, Job(tmp_path / "x.png", target))
    assert row["status"] == "failed" and "died 4 times" in row["error"]
    assert list(tmp_path.iterdir()) == []  # the try count is gone too


def test_zoo_list_and_a_plain_denoise_never_import_ray(photos):
    probe = textwrap.dedent("""
        import atexit, sys
        atexit.register(lambda: print("RAY" if "ray" in sys.modules else "NO RAY", file=sys.stderr))
        from zoo.cli import run
        sys.argv = ["zoo", *sys.argv[1:]]
        run()
    """)
    plain = ["denoise", "--backend", "torch", "--out-dir", str(photos / "out"), str(photos / "p0.png")]  # the local engine
    for args in (["list"], plain):
        ran = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        assert said(ran.stderr)[-1] == "NO RAY"


def test_the_ray_engine_without_ray_installed_says_which_extra(photos, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as where it is not installed
    monkeypatch.delitem(sys.modules, "zoo.inference.ray_engine", raising=False)
    monkeypatch.delattr(zoo_inference, "ray_engine", raising=False)  # imported by the tests before this one
    result = zoo(str(photos / "p0.png"))
    assert result.exit_code == 1 and said(result.stderr)[-1].startswith("error: the Ray engine needs Ray")
    assert "denoise-zoo[distributed]" in said(result.stderr)[-1] and not list(photos.glob("*denoised*"))
