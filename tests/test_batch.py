"""Batches: inputs, output names, skips, bad files that do not stop the batch, Ctrl-C, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from registry.config import DenoiserConfig
from registry.errors import ZooError
from tests._zoo_models import Identity
from zoo.inference import batch

PLUGIN = '''
from zoo import Architecture, DenoiserConfig, hookimpl

@hookimpl
def register_architectures(register):
    register(Architecture(name="ident", config=DenoiserConfig, backends={"numpy": "tests._zoo_models:build_identity"},
                          needs_weights=False))
'''


def _png(path, size=(24, 32)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def folder(tmp_path):
    """a.png, b.jpg, sub/c.png, a truncated bad.png and a text file."""
    root = tmp_path / "in"
    _png(root / "a.png"), _png(root / "sub" / "c.png")
    Image.open(_png(root / "x.png")).save(root / "b.jpg")
    (root / "x.png").unlink()
    (root / "bad.png").write_bytes((root / "a.png").read_bytes()[:200])
    (root / "notes.txt").write_text("not an image")
    return root


def test_inputs_from_files_directories_and_globs(folder):
    names = lambda jobs: sorted(j.source.name for j in jobs)  # noqa: E731
    assert names(batch.expand_inputs([str(folder)])) == ["a.png", "b.jpg", "bad.png"]
    assert names(batch.expand_inputs([str(folder)], recursive=True)) == ["a.png", "b.jpg", "bad.png", "c.png"]
    assert names(batch.expand_inputs([str(folder / "*.png")])) == ["a.png", "bad.png"]
    missing = batch.expand_inputs([str(folder / "nope.png"), str(folder / "*.tif")])
    assert [j.error for j in missing] == [f"no such file: {folder / 'nope.png'}", f"no file matches {folder / '*.tif'}"]


def test_out_dir_template_and_subfolders(folder, tmp_path):
    jobs = batch.expand_inputs([str(folder)], recursive=True)
    batch.plan_outputs(jobs, "m", None, tmp_path / "out", False, "{stem}.clean{ext}")
    targets = {j.source.name: j.target for j in jobs}
    assert targets["a.png"] == tmp_path / "out" / "a.clean.png"
    assert targets["c.png"] == tmp_path / "out" / "sub" / "c.clean.png"


@pytest.mark.parametrize("template", ["{stem}{nope}.png", "fixed.png", "{stem"])
def test_bad_template_is_refused(template):
    with pytest.raises(ZooError, match="--name-template"):
        batch.check_template(template)


def test_duplicate_targets_fail(tmp_path):
    jobs = [batch.Job(_png(tmp_path / "a" / "x.png")), batch.Job(_png(tmp_path / "b" / "x.png"))]
    batch.plan_outputs(jobs, "m", None, tmp_path / "out", False)
    assert jobs[0].error is None and "also the output of" in jobs[1].error


def test_bad_file_is_reported_and_the_batch_completes(folder, tmp_path):
    jobs = batch.expand_inputs([str(folder)], recursive=True)
    batch.plan_outputs(jobs, "id", None, tmp_path / "out", False)
    failed = batch.run_jobs(Identity(DenoiserConfig()), jobs, batch.Options(tile=16))
    assert [j.source.name for j in failed] == ["bad.png"]
    assert "corrupt or truncated" in failed[0].error and "\n" not in failed[0].error
    written = sorted(p.name for p in (tmp_path / "out").rglob("*.*"))
    assert written == ["a_denoised-id.png", "b_denoised-id.jpg", "c_denoised-id.png"]
    lines, code = batch.summary(jobs)
    assert code == 1 and lines[-1].startswith("3 of 4 images denoised, 1 failed in ")
    # the batch's wall time when given (workers overlap), not the files' times added up
    assert batch.summary(jobs, wall=12.34)[0][-1] == "3 of 4 images denoised, 1 failed in 12.3 s"


def test_existing_outputs_are_skipped_unless_overwrite(folder, tmp_path):
    out = tmp_path / "out"
    _png(out / "a_denoised-id.png", size=(4, 4))
    jobs = batch.expand_inputs([str(folder / "a.png"), str(folder / "b.jpg")])
    batch.plan_outputs(jobs, "id", None, out, False)
    batch.run_jobs(Identity(DenoiserConfig()), jobs)
    assert Image.open(out / "a_denoised-id.png").size == (4, 4)
    lines, code = batch.summary(jobs)
    assert code == 0 and lines[0].startswith("skipped: output") and "1 skipped" in lines[-1]
    jobs = batch.expand_inputs([str(folder / "a.png")])
    batch.plan_outputs(jobs, "id", None, out, True)
    batch.run_jobs(Identity(DenoiserConfig()), jobs)
    assert Image.open(out / "a_denoised-id.png").size == (32, 24)


def test_ctrl_c_leaves_no_partial_output(folder, tmp_path):
    class Interrupted(Identity):
        def forward(self, batch_, sigma):
            raise KeyboardInterrupt

    jobs = batch.expand_inputs([str(folder / "a.png")])
    batch.plan_outputs(jobs, "id", None, tmp_path / "out", False)
    with pytest.raises(KeyboardInterrupt):
        batch.run_jobs(Interrupted(DenoiserConfig()), jobs)
    assert list((tmp_path / "out").iterdir()) == []


def test_progress_bar_counts_megapixels_and_tiles(folder, tmp_path):
    jobs = batch.expand_inputs([str(folder / "a.png"), str(_png(tmp_path / "big.png", size=(200, 180)))])
    batch.plan_outputs(jobs, "id", None, tmp_path / "out", False)
    with batch.BatchProgress(jobs, enabled=False) as progress:
        batch.run_jobs(Identity(DenoiserConfig()), jobs, batch.Options(tile=16), progress=progress)
        files, tiles = progress.bar.tasks
    megapixels = sum(batch.megapixels(j.source) for j in jobs)  # the ETA follows pixels, not file counts
    assert files.total == pytest.approx(megapixels) and files.completed == pytest.approx(megapixels)
    assert tiles.completed == tiles.total > 1


def test_cli_batch_summary_and_exit_code(folder, tmp_path, plugin_dir):
    from tests.conftest import run_zoo, write_plugin_dist

    write_plugin_dist(plugin_dir, "zoo-ident", {"ident": "zoo_ident"}, {"zoo_ident": PLUGIN})
    args = ["denoise", "-m", "ident", "-r", str(folder), "--out-dir", str(tmp_path / "out"), "--max-memory", "64M"]
    first = run_zoo(*args, env={"ZOO_PLUGINS": "ident"})
    assert first.returncode == 1, first.stderr
    assert "failed: " in first.stderr and "3 of 4 images denoised, 1 failed" in first.stderr
    assert "Traceback" not in first.stderr
    again = run_zoo(*args[:-2], "--max-memory", "lots", env={"ZOO_PLUGINS": "ident"})
    assert again.returncode == 1 and "bad memory size 'lots'" in again.stderr


def test_a_second_run_over_a_folder_ignores_its_own_outputs(tmp_path):
    from zoo.inference import batch

    for name in ("a.png", "a_denoised-cbm3d.png", "b_denoised-other.png", "c_denoised-cbm3d.jpg"):
        (tmp_path / name).write_bytes(b"")
    jobs = batch.expand_inputs([str(tmp_path)])
    assert batch.drop_own_outputs(jobs, "cbm3d") == 2
    assert [j.source.name for j in jobs] == ["a.png", "b_denoised-other.png"]
    named = batch.expand_inputs([str(tmp_path / "a_denoised-cbm3d.png")])  # named explicitly: kept
    assert batch.drop_own_outputs(named, "cbm3d") == 0 and len(named) == 1
    custom = batch.expand_inputs([str(tmp_path / "*.png")])
    assert batch.drop_own_outputs(custom, "cbm3d", "{stem}_denoised-{model}{ext}") == 1


def test_jobs_are_reported_in_order_once_written_and_write_failures_are_recorded(tmp_path, monkeypatch):
    from zoo.photo import imageio

    sources = [_png(tmp_path / f"{n}.png") for n in ("a", "b", "c", "d")]
    (tmp_path / "c.png").write_bytes(b"not a png")  # fails to read
    jobs = batch.expand_inputs([str(p) for p in sources])
    batch.plan_outputs(jobs, "id", None, tmp_path / "out", False)
    real_write = imageio.write_image

    def write(path, photo, fmt=None, quality=None):
        if "b_denoised" in path.name:  # the target, or the hidden temp name it is written under
            raise imageio.ImageWriteError(f"cannot write {path}: disk full")
        return real_write(path, photo, fmt, quality)

    monkeypatch.setattr(batch, "write_image", write)
    seen = []
    failed = batch.run_jobs(Identity(DenoiserConfig()), jobs, on_done=lambda j: seen.append(
        (j.source.name, j.error is None and j.target.exists())))
    assert seen == [("a.png", True), ("b.png", False), ("c.png", False), ("d.png", True)]
    assert [j.source.name for j in failed] == ["b.png", "c.png"] and "disk full" in jobs[1].error
