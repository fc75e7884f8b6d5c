"""`zoo bench quality`: metrics, reproducible noise, both modes, outputs, and skipped models."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from registry.errors import ZooError
from registry.manager import get_registry
from tests.conftest import DATASETS, save_rgb
from zoo import Architecture, Denoiser, DenoiserConfig, hookimpl
from zoo.bench import quality as bench
from zoo.imaging import metrics
from zoo.cli import app

runner = CliRunner()


# -- a trivial test plugin: a 3x3 box blur, and one that always fails ----------------------------
class BoxBlur(Denoiser):
    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        from scipy.ndimage import uniform_filter

        return uniform_filter(batch, size=(1, 3, 3, 1), mode="reflect")


class Skew(Denoiser):
    """Mixes in the left neighbour only: not flip-equivariant, so the self-ensemble changes it."""

    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        return 0.5 * batch + 0.5 * np.roll(batch, 1, axis=2)


class Broken(Denoiser):
    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        raise RuntimeError("out of cheese")


def build_blur(config: DenoiserConfig) -> Denoiser:
    return BoxBlur(config)


def build_broken(config: DenoiserConfig) -> Denoiser:
    return Broken(config)


def build_skew(config: DenoiserConfig) -> Denoiser:
    return Skew(config)


class ToyPlugin:
    @hookimpl
    def register_architectures(self, register):
        for name in ("blur", "broken", "skew"):
            register(Architecture(name=name, config=DenoiserConfig, needs_weights=False,
                                  backends={"numpy": f"tests.test_bench:build_{name}"}))


@pytest.fixture
def toy():
    get_registry().register_plugin(ToyPlugin(), "toy")


def _photo(seed: int, size: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([xx, yy, (xx + yy) / 2], axis=-1)
    return base + 0.1 * np.sin(np.random.default_rng(seed).uniform(3, 9) * (xx + 2 * yy))[..., None]


@pytest.fixture
def clean_dir(tmp_path) -> Path:
    folder = tmp_path / "clean"
    folder.mkdir()
    for i in range(3):
        save_rgb(folder / f"img{i}.png", _photo(i))
    return folder


@pytest.fixture
def real_dirs(tmp_path) -> tuple[Path, Path]:
    """PolyU-style pairs: noisy/X_real.png and clean/X_mean.png, plus an unmatched noisy photo."""
    clean, noisy = tmp_path / "clean", tmp_path / "noisy"
    clean.mkdir(), noisy.mkdir()
    rng = np.random.default_rng(1)
    for i, name in enumerate(("a", "b")):
        save_rgb(clean / f"{name}_mean.png", _photo(i))
        save_rgb(noisy / f"{name}_real.png", _photo(i) + rng.normal(0, 0.06, (32, 32, 3)))
    save_rgb(noisy / "orphan_real.png", _photo(5))
    return clean, noisy


def _config(dataset: Path, **kw) -> bench.QualityConfig:
    return bench.QualityConfig(models=kw.pop("models", ("cbm3d", "blur")), dataset=dataset, **kw)


def _quiet(msg: str) -> None:
    pass


def _scores(result: bench.QualityResult) -> list[tuple]:
    return [(r.model, r.sigma, r.image, r.psnr, r.ssim) for r in result.records]


# -- metrics -------------------------------------------------------------------------------------
def test_identical_images_score_inf_and_one():
    img = _photo(0)
    assert metrics.psnr(img, img) == np.inf
    assert metrics.ssim(img, img) == 1.0


def test_known_mse_gives_exact_psnr():
    clean = np.full((16, 16, 3), 0.5)
    assert metrics.psnr(clean, clean + 0.1) == pytest.approx(20.0, abs=1e-9)  # MSE 0.01 -> 20 dB
    assert metrics.psnr(clean, clean - 0.01) == pytest.approx(40.0, abs=1e-9)


def test_metrics_refuse_mismatched_or_tiny_images():
    with pytest.raises(ZooError, match="shapes"):
        metrics.psnr(np.zeros((16, 16, 3)), np.zeros((16, 15, 3)))
    with pytest.raises(ZooError, match="at least 11"):
        metrics.ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))


# -- noise and pairing ---------------------------------------------------------------------------
def test_synthetic_noise_is_reproducible_unclipped_and_per_image():
    clean = np.ones((16, 16, 3), np.float32)
    a = bench.synthetic_noisy(clean, 25, seed=3, index=0)
    assert np.array_equal(a, bench.synthetic_noisy(clean, 25, seed=3, index=0))
    assert not np.array_equal(a, bench.synthetic_noisy(clean, 25, seed=3, index=1))
    assert not np.array_equal(a, bench.synthetic_noisy(clean, 25, seed=4, index=0))
    assert a.max() > 1.0 and np.std(a - clean) == pytest.approx(25 / 255, rel=0.15)


@pytest.mark.parametrize("noisy, clean", [
    ("X_real.JPG", "X_mean.JPG"), ("img-noisy.png", "img-clean.png"), ("0001_NOISY.png", "0001_GT.png"),
    ("same.png", "same.png"),
])
def test_pair_key_strips_pair_suffixes(noisy, clean):
    assert bench.pair_key(Path(noisy)) == bench.pair_key(Path(clean))


def test_pair_key_with_explicit_glob():
    assert bench.pair_key(Path("shot12_n.png"), "shot*_n.png") == "12"
    assert bench.pair_key(Path("other.png"), "shot*_n.png") is None


# -- running -------------------------------------------------------------------------------------
def test_same_seed_gives_identical_numbers(clean_dir, toy):
    config = _config(clean_dir, sigmas=(25.0,), seed=7, models=("blur",))
    first, again = (bench.run_quality(config, _quiet) for _ in range(2))
    assert _scores(first) == _scores(again)
    other = bench.run_quality(_config(clean_dir, sigmas=(25.0,), seed=8, models=("blur",)), _quiet)
    assert _scores(other) != _scores(first)


def test_synthetic_mode_scores_every_model_and_the_noisy_input(clean_dir, toy):
    result = bench.run_quality(_config(clean_dir, sigmas=(15.0, 50.0), limit=1), _quiet)
    rows = {(r["model"], r["sigma"]): r for r in result.summary()}
    assert set(rows) == {(m, s) for m in ("noisy", "cbm3d", "blur") for s in (15.0, 50.0)}
    assert all(r["images"] == 1 for r in rows.values())
    assert rows["noisy", 50.0]["psnr"] == pytest.approx(20 * np.log10(255 / 50), abs=0.3)
    assert rows["cbm3d", 50.0]["psnr"] > rows["noisy", 50.0]["psnr"] + 3
    assert rows["noisy", 15.0]["seconds_per_mp"] is None and rows["cbm3d", 15.0]["seconds_per_mp"] > 0


def test_real_noise_mode_pairs_by_name_and_runs_blind(real_dirs, toy):
    clean, noisy = real_dirs
    result = bench.run_quality(_config(clean, noisy_dir=noisy), _quiet)
    assert result.images == 2  # the orphan has no reference
    rows = {r["model"]: r for r in result.summary()}
    assert set(rows) == {"noisy", "cbm3d", "blur"}
    assert all(r["sigma"] is None and r["noise"] == "real" for r in rows.values())
    assert rows["cbm3d"]["psnr"] > rows["noisy"]["psnr"]  # CBM3D estimated the sigma itself


def test_real_noise_mode_with_pair_glob(real_dirs, toy):
    clean, noisy = real_dirs
    result = bench.run_quality(_config(clean, noisy_dir=noisy, pair_glob="*_real.png:*_mean.png",
                                       models=("blur",)), _quiet)
    assert sorted({r.image for r in result.records}) == ["a_real", "b_real"]
    with pytest.raises(ZooError, match="pair-glob"):
        bench.find_pairs(_config(clean, noisy_dir=noisy, pair_glob="*_real.png"))


def test_model_failing_mid_run_is_skipped_and_others_go_on(clean_dir, toy):
    messages = []
    result = bench.run_quality(_config(clean_dir, sigmas=(25.0,), models=("broken", "blur")), messages.append)
    assert "out of cheese" in result.skipped["broken"]
    assert {r.model for r in result.records} == {"noisy", "blur"}
    assert any(m.startswith("skipped broken") for m in messages)


def test_x8_suffix_runs_the_self_ensemble_in_the_same_run(clean_dir, toy):
    models = ("blur", "blur+x8", "skew", "skew+x8", "skew+x2")
    result = bench.run_quality(_config(clean_dir, sigmas=(25.0,), models=models), _quiet)
    rows = {r["model"]: r for r in result.summary()}
    assert set(rows) == {"noisy", *models}
    assert [m["ensemble"] for m in result.models] == [1, 8, 1, 8, 2]
    # a flip-equivariant model is unchanged by the ensemble; a one-sided one is not
    assert rows["blur+x8"]["psnr"] == pytest.approx(rows["blur"]["psnr"], abs=1e-4)
    assert abs(rows["skew+x8"]["psnr"] - rows["skew"]["psnr"]) > 0.01
    assert abs(rows["skew+x2"]["psnr"] - rows["skew"]["psnr"]) > 0.01
    assert abs(rows["skew+x2"]["psnr"] - rows["skew+x8"]["psnr"]) > 1e-4
    assert bench.split_suffixes("mwrcanet:camera_sharp_small+x8") == ("mwrcanet:camera_sharp_small", 8, False)
    assert bench.split_suffixes("mwrcanet:camera_sharp_small+x2") == ("mwrcanet:camera_sharp_small", 2, False)
    assert bench.split_suffixes("edsr=/runs/a+x8b.safetensors") == ("edsr=/runs/a+x8b.safetensors", 1, False)
    assert bench.split_suffixes("mwrcanet:awgn_map_small+blind+x4") == ("mwrcanet:awgn_map_small", 4, True)
    assert bench.split_suffixes("mwrcanet:awgn_map_small+x8+blind") == ("mwrcanet:awgn_map_small", 8, True)


# -- the command ---------------------------------------------------------------------------------
def test_cli_writes_csv_json_png_and_skips_bad_models(clean_dir, tmp_path, toy):
    out = tmp_path / "out"
    result = runner.invoke(app, ["bench", "quality", "--models", "cbm3d,nosuch,blur", "--dataset", str(clean_dir),
                                 "--sigma", "25", "--crop", "24", "--limit", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "skipped nosuch: unknown model 'nosuch'" in result.stderr
    rows = list(csv.DictReader((out / "quality.csv").open()))
    assert [r["model"] for r in rows] == ["noisy", "cbm3d", "blur"]
    data = json.loads((out / "quality.json").read_text())
    assert data["skipped"].keys() == {"nosuch"} and len(data["per_image"]) == 6
    assert (out / "quality.png").read_bytes()[:4] == b"\x89PNG"
    assert "cbm3d" in result.stdout and "PSNR" in result.stdout


@pytest.mark.parametrize("args, fragment", [
    (["--sigma", "abc"], "--sigma takes numbers"), (["--sigma", "0"], "(0, 255]"),
    (["--crop", "4"], "--crop must be at least"), (["--seed", "-1"], "--seed must be"),
])
def test_cli_bad_options_are_one_line_errors(clean_dir, tmp_path, args, fragment):
    result = runner.invoke(app, ["bench", "quality", "--models", "cbm3d", "--dataset", str(clean_dir),
                                 "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0]


# -- the shared evaluation set -------------------------------------------------------------------
CBSD68 = DATASETS / "CBSD68" / "clean"


@pytest.mark.skipif(not CBSD68.is_dir(), reason="needs ../shared/datasets/CBSD68")
def test_cbsd68_noisy_input_scores_the_textbook_psnr(toy):
    config = bench.QualityConfig(models=("blur",), dataset=CBSD68, sigmas=(25.0,), limit=2, crop=96)
    rows = {r["model"]: r for r in bench.run_quality(config, _quiet).summary()}
    assert rows["noisy"]["psnr"] == pytest.approx(20.17, abs=0.1)  # 20 log10(255 / 25), unclipped
    assert rows["blur"]["psnr"] > rows["noisy"]["psnr"]
