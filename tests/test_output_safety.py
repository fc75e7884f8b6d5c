"""Outputs never land where they must not: on an input of the batch, over a file that appeared
meanwhile, outside the output folder, under a non-image name; FIFOs are never opened; SIGTERM
leaves no temp file, and the zoo's temp names are never taken for inputs."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from registry.config import DenoiserConfig
from registry.errors import ZooError
from tests._zoo_models import Identity
from tests.conftest import write_plugin_dist
from zoo import atomic
from zoo.cli import app
from zoo.inference import batch

# An identity model, and "gate": an identity that waits in forward() until GATE_COUNT processes
# got there (a barrier through files, so two real runs both plan before either writes), and, with
# GATE_STUCK set, whose PNG encoder announces itself and then blocks (to be killed mid-write).
PLUGINS = {
    "zoo_ident": '''
from zoo import Architecture, DenoiserConfig, hookimpl

@hookimpl
def register_architectures(register):
    register(Architecture(name="ident", config=DenoiserConfig, backends={"numpy": "tests._zoo_models:build_identity"},
                          needs_weights=False))
''',
    "zoo_gate": '''
import os, time
from pathlib import Path
from zoo import Architecture, DenoiserConfig, hookimpl
from tests._zoo_models import Identity


def _wait(gate, count):
    deadline = time.monotonic() + 60  # a safety net only: the other side normally arrives at once
    while len(list(gate.glob("ready-*"))) < count and time.monotonic() < deadline:
        time.sleep(0.02)


class Gate(Identity):
    def forward(self, batch, sigma):
        gate = Path(os.environ["GATE_DIR"])
        (gate / f"ready-{os.getpid()}").touch()
        _wait(gate, int(os.environ.get("GATE_COUNT", "1")))
        return batch


def build(config):
    if os.environ.get("GATE_STUCK"):
        from zoo.photo import imageio

        def stuck(tmp, data, photo):
            Path(os.environ["GATE_DIR"], "writing").touch()
            time.sleep(60)

        for key in imageio._ENCODERS:  # the temp file exists, the encoder never finishes
            imageio._ENCODERS[key] = stuck
    return Gate(config)


@hookimpl
def register_architectures(register):
    register(Architecture(name="gate", config=DenoiserConfig, backends={"numpy": "zoo_gate:build"},
                          needs_weights=False))
''',
}


@pytest.fixture
def plugins(plugin_dir, monkeypatch):
    write_plugin_dist(plugin_dir, "zoo-ident", {"ident": "zoo_ident", "gate": "zoo_gate"}, PLUGINS)
    monkeypatch.setenv("ZOO_PLUGINS", "ident,gate")
    return plugin_dir


def _png(path, size=(16, 20), seed=1):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path


def zoo(*args: str):
    return CliRunner().invoke(app, ["denoise", "-m", "ident", *args])


def one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.output


def zoo_process(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zoo", "denoise", "-m", "gate", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def leftovers(folder):
    return sorted(p.name for p in folder.rglob(".*.part*"))


def wait_for(path, proc) -> None:
    deadline = time.monotonic() + 60  # a safety net, not a timing: the child normally gets there at once
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), proc.communicate()


# -- 2: an output that is an input of the same batch


def test_an_output_that_is_another_input_is_refused_and_the_batch_goes_on(plugins, tmp_path):
    c, c2 = _png(tmp_path / "c.png", seed=1), _png(tmp_path / "c2.png", seed=2)
    before = c2.read_bytes()
    for overwrite in (["--overwrite"], []):
        (tmp_path / "c22.png").unlink(missing_ok=True)
        result = zoo(*overwrite, "--name-template", "{stem}2{ext}", str(c), str(c2))
        assert result.exit_code == 1, result.output
        assert f"failed: output {c2} is also an input of this batch" in result.stderr
        assert "1 of 2 images denoised, 1 failed" in result.stderr
        assert c2.read_bytes() == before
        assert np.array_equal(np.asarray(Image.open(tmp_path / "c22.png")), np.asarray(Image.open(c2)))


def test_a_hard_link_to_an_input_is_an_input(tmp_path):
    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png")
    os.link(a, tmp_path / "b_x.png")
    jobs = batch.expand_inputs([str(a), str(b)])
    batch.plan_outputs(jobs, "m", None, None, True, "{stem}_x{ext}")
    assert "is also an input" in jobs[1].error and jobs[0].error is None


# -- 4: never over a file that appeared meanwhile


def test_two_runs_for_one_output_one_writes_the_other_fails_and_leaves_nothing(plugins, tmp_path):
    source, target, gate = _png(tmp_path / "in.png"), tmp_path / "out.png", tmp_path / "gate"
    gate.mkdir()
    env = {"GATE_DIR": str(gate), "GATE_COUNT": "2"}
    procs = [zoo_process("-o", str(target), str(source), env=env) for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert sorted(code for code, _, _ in results) == [0, 1], results
    (_, won, _), = [r for r in results if r[0] == 0]
    (_, _, lost), = [r for r in results if r[0] == 1]
    assert f"wrote {target}" in won
    lines = lost.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: output") and "appeared" in lines[0], lost
    assert Image.open(target).size == (20, 16)
    assert leftovers(tmp_path) == []


def test_no_replace_publish_keeps_a_file_that_appeared(tmp_path, monkeypatch):
    job = batch.expand_inputs([str(_png(tmp_path / "a.png"))])
    batch.plan_outputs(job, "id", None, tmp_path / "out", False)
    (tmp_path / "out" / "a_denoised-id.png").write_bytes(b"theirs")  # appears after planning
    failed = batch.run_jobs(Identity(DenoiserConfig()), job)
    assert "appeared" in failed[0].error and "\n" not in failed[0].error
    assert (tmp_path / "out" / "a_denoised-id.png").read_bytes() == b"theirs"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_denoised-id.png"]


def _no_hard_links(monkeypatch):
    def link(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")  # what FAT and some network shares say

    monkeypatch.setattr(atomic.os, "link", link)


def test_no_replace_without_hard_links_uses_rename_noreplace(tmp_path, monkeypatch):
    _no_hard_links(monkeypatch)
    with atomic.atomic_path(tmp_path / "x.txt", replace=False) as tmp:
        tmp.write_text("first")
    with pytest.raises(FileExistsError), atomic.atomic_path(tmp_path / "x.txt", replace=False) as tmp:
        tmp.write_text("second")
    assert (tmp_path / "x.txt").read_text() == "first" and os.listdir(tmp_path) == ["x.txt"]


def test_no_replace_where_nothing_can_do_it_refuses_and_leaves_nothing(tmp_path, monkeypatch):
    _no_hard_links(monkeypatch)
    monkeypatch.setattr(atomic.ctypes, "CDLL", lambda *args, **kwargs: object())  # no renameat2
    with pytest.raises(OSError, match="without replacing"), atomic.atomic_path(tmp_path / "x.txt", replace=False) as tmp:
        tmp.write_text("first")
    assert os.listdir(tmp_path) == []


def test_atomic_path_still_replaces_by_default(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"old")
    with atomic.atomic_path(tmp_path / "w.bin") as tmp:
        tmp.write_bytes(b"new")
    assert (tmp_path / "w.bin").read_bytes() == b"new" and os.listdir(tmp_path) == ["w.bin"]


# -- 6: FIFOs, devices and sockets are refused without being opened


def test_non_regular_inputs_are_refused_without_opening(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    jobs = batch.expand_inputs([str(fifo), os.devnull, str(_png(tmp_path / "ok.png"))])
    assert jobs[0].error == f"{fifo} is a FIFO (named pipe), not an image file; it was not read"
    assert jobs[1].error == f"{os.devnull} is a device, not an image file; it was not read"
    assert jobs[2].error is None
    assert [j.source.name for j in batch.expand_inputs([str(tmp_path)])] == ["ok.png"]


def test_a_fifo_in_a_batch_fails_and_the_batch_goes_on(plugins, tmp_path):
    fifo, good = tmp_path / "pipe.png", _png(tmp_path / "ok.png")
    os.mkfifo(fifo)
    cmd = [sys.executable, "-m", "zoo", "denoise", "-m", "ident", str(fifo), str(good)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)  # it used to block for ever
    assert result.returncode == 1, result.stderr
    assert f"failed: {fifo} is a FIFO" in result.stderr and "1 of 2 images denoised, 1 failed" in result.stderr
    assert (tmp_path / "ok_denoised-ident.png").is_file()


def test_an_output_that_is_a_fifo_is_not_replaced(plugins, tmp_path):
    os.mkfifo(tmp_path / "out.png")
    one_line_error(zoo("--overwrite", "-o", str(tmp_path / "out.png"), str(_png(tmp_path / "a.png"))), "is a FIFO")
    assert (tmp_path / "out.png").is_fifo()


# -- 10: earlier outputs are looked for where outputs go


def test_folder_to_folder_with_the_same_names(plugins, tmp_path):
    shots, clean = tmp_path / "shots", tmp_path / "clean"
    _png(shots / "a.png"), _png(shots / "b.png", seed=2)
    for overwrite in ([], ["--overwrite"]):
        result = zoo(*overwrite, "--out-dir", str(clean), "--name-template", "{name}", str(shots))
        assert result.exit_code == 0, result.output
        assert "ignored" not in result.stderr
        assert sorted(p.name for p in clean.iterdir()) == ["a.png", "b.png"]


def test_earlier_outputs_inside_the_input_folder_are_still_ignored(plugins, tmp_path):
    shots = tmp_path / "shots"
    _png(shots / "a.png"), _png(shots / "sub" / "b.png", seed=2)
    args = ["-r", "--out-dir", str(shots / "clean"), "--name-template", "{name}", str(shots)]
    assert zoo(*args).exit_code == 0
    again = zoo("--overwrite", *args)
    assert again.exit_code == 0, again.output
    assert "ignored 2 earlier output(s) of this command found in the output folder" in again.stderr
    assert sorted(str(p.relative_to(shots)) for p in shots.rglob("*.png")) == [
        "a.png", "clean/a.png", "clean/sub/b.png", "sub/b.png"]


def test_outputs_of_another_folder_are_inputs_here(tmp_path):
    for name in ("a.png", "a_denoised-m.png"):
        (tmp_path / "in" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"")
    beside = batch.expand_inputs([str(tmp_path / "in")])
    assert batch.drop_own_outputs(beside, "m") == 1
    elsewhere = batch.expand_inputs([str(tmp_path / "in")])
    assert batch.drop_own_outputs(elsewhere, "m", out_dir=tmp_path / "out") == 0 and len(elsewhere) == 2


# -- 11: SIGTERM cleans up, and temp names are never inputs


def test_sigterm_while_writing_leaves_no_temp_file(plugins, tmp_path):
    source, gate = _png(tmp_path / "in" / "a.png"), tmp_path / "gate"
    gate.mkdir()
    proc = zoo_process("--out-dir", str(tmp_path / "out"), str(source), env={"GATE_DIR": str(gate), "GATE_STUCK": "1"})
    wait_for(gate / "writing", proc)
    assert leftovers(tmp_path / "out")  # the write in progress
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines() == ["terminated; no partial output was left"]
    assert list((tmp_path / "out").iterdir()) == []


def test_sigterm_handler_is_put_back(plugins, tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    assert zoo(str(_png(tmp_path / "a.png"))).exit_code == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_zoos_temp_files_are_never_inputs(tmp_path):
    _png(tmp_path / "a.png")
    for name in (".a_denoised-m.png.k2j3h4g5.part.png", "..b.png.abc_1234.part.png.x9y8z7w6.part.png"):
        (tmp_path / name).write_bytes(b"")
    assert atomic.is_temp_name(atomic.temp_path(tmp_path / "c.tif").name)
    assert [j.source.name for j in batch.expand_inputs([str(tmp_path)])] == ["a.png"]
    assert [j.source.name for j in batch.expand_inputs([str(tmp_path / ".*.png")])] == [".*.png"]  # none: an error
    assert batch.expand_inputs([str(tmp_path / ".*.png")])[0].error.startswith("no file matches")


# -- 14: outputs stay in the output folder


@pytest.mark.parametrize("template", ["../../{stem}{ext}", "../{name}", "sub/../../{name}"])
def test_a_template_that_leaves_the_output_folder_is_refused_before_anything_runs(plugins, tmp_path, template):
    source = _png(tmp_path / "shots" / "a.png")
    one_line_error(zoo("--out-dir", str(tmp_path / "deep" / "clean"), "--name-template", template, str(source)),
                   "leads out of the output folder")
    one_line_error(zoo("--name-template", template, str(source)), "leads out of the output folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shots", "site"]  # no out-dir made, nothing written
    assert os.listdir(tmp_path / "shots") == ["a.png"]


def test_a_link_out_of_the_output_folder_is_refused(plugins, tmp_path):
    (tmp_path / "clean").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "clean" / "link").symlink_to(tmp_path / "elsewhere")
    result = zoo("--out-dir", str(tmp_path / "clean"), "--name-template", "link/{name}", str(_png(tmp_path / "a.png")))
    one_line_error(result, "outside")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_templates_inside_the_folder_and_absolute_ones_are_allowed(plugins, tmp_path):
    source = _png(tmp_path / "a.png")
    (tmp_path / "clean" / "sub").mkdir(parents=True)
    assert zoo("--out-dir", str(tmp_path / "clean"), "--name-template", "sub/../x_{name}", str(source)).exit_code == 0
    assert (tmp_path / "clean" / "x_a.png").is_file()
    (tmp_path / "mine").mkdir()
    result = zoo("--out-dir", str(tmp_path / "clean"), "--name-template", str(tmp_path / "mine" / "{name}"), str(source))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mine" / "a.png").is_file()


# -- 15: output names are image formats


@pytest.mark.parametrize("output", ["x.txt", "x", "x.png.bak"])
def test_an_output_that_is_not_an_image_format_is_refused(plugins, tmp_path, output):
    one_line_error(zoo("-o", str(tmp_path / output), str(_png(tmp_path / "a.png"))), "not an image format")
    assert not (tmp_path / output).exists()


def test_a_template_with_a_non_image_extension_is_refused(plugins, tmp_path):
    one_line_error(zoo("--name-template", "{stem}.txt", str(_png(tmp_path / "a.png"))), "not an image format")
    with pytest.raises(ZooError, match="not an image format"):
        batch.check_template("{name}.bak")


def test_an_input_whose_format_cannot_be_written_comes_out_as_png(plugins, tmp_path):
    Image.open(_png(tmp_path / "a.png")).save(tmp_path / "b.bmp")
    result = zoo(str(tmp_path / "a.png"), str(tmp_path / "b.bmp"))
    assert result.exit_code == 0, result.output
    assert "b_denoised-ident.png (BMP cannot be written; the output is PNG)" in result.stdout
    assert (tmp_path / "b_denoised-ident.png").is_file() and not (tmp_path / "b_denoised-ident.bmp").exists()
