"""Noise synthesis: reproducible, the right statistics, clear errors for bad specs."""

import numpy as np
import pytest

from registry.errors import ZooError
from zoo.imaging.noise import (
    CameraPipeline, NoiseSpec, demosaic, in_camera_noise_processing, linear_to_srgb, mosaic, srgb_to_linear,
)


def flat(value: float, size: int = 128) -> np.ndarray:
    return np.full((size, size, 3), value, np.float32)


def test_same_seed_same_noise_for_every_kind():
    for text in ("awgn:25", "awgn:0-50", "camera", "camera:nojpeg", "camera:wide", "camera:wide,nojpeg",
                 "camera:isp", "camera:isp,wide,nojpeg", "camera:sharp", "camera:isp,sharp,wide,nojpeg",
                 "camera:isp,sharp,incamera", "camera:incamera,nojpeg"):
        spec = NoiseSpec.parse(text)
        a, sa = spec.apply(flat(0.4), np.random.default_rng(7))
        b, sb = spec.apply(flat(0.4), np.random.default_rng(7))
        assert np.array_equal(a, b) and sa == sb and str(spec) == text


def test_awgn_has_the_requested_sigma_and_is_not_clipped():
    noisy, sigma = NoiseSpec.parse("awgn:25").apply(flat(0.02, 256), np.random.default_rng(0))
    assert sigma == 25 and abs(np.std(noisy) * 255 - 25) < 0.5 and noisy.min() < 0


def test_blind_awgn_draws_sigma_in_range():
    spec = NoiseSpec.parse("awgn:5-50")
    sigmas = [spec.apply(flat(0.5, 8), np.random.default_rng(i))[1] for i in range(50)]
    assert 5 <= min(sigmas) < 15 and 40 < max(sigmas) <= 50


def test_camera_noise_grows_with_signal_and_is_spatially_correlated():
    spec = NoiseSpec.parse("camera:nojpeg")
    dark, _ = spec.apply(flat(0.05), np.random.default_rng(3))
    bright, _ = spec.apply(flat(0.7), np.random.default_rng(3))
    # in linear light the variance grows with the signal (shot noise)
    assert np.var(srgb_to_linear(bright)) > np.var(srgb_to_linear(dark))
    residual = bright[..., 1] - bright[..., 1].mean()
    neighbour = np.corrcoef(residual[:, :-1].ravel(), residual[:, 1:].ravel())[0, 1]
    assert neighbour > 0.1  # demosaicing correlates neighbours, unlike white noise
    assert 0 <= bright.min() and bright.max() <= 1


def test_mosaic_and_demosaic_keep_a_flat_image_flat():
    img = flat(0.3, 16).astype(np.float64)
    assert np.allclose(demosaic(mosaic(img)), img)
    assert np.allclose(linear_to_srgb(srgb_to_linear(img)), img)


def test_camera_pipeline_unprocess_then_process_is_the_identity():
    rng = np.random.default_rng(5)
    grey = rng.uniform(0.1, 0.8, (16, 16, 1))  # below the highlight roll-off; mild colours stay
    img = grey + rng.uniform(-0.05, 0.05, (16, 16, 3))  # inside every camera's gamut
    for seed in range(5):
        camera = CameraPipeline.random(np.random.default_rng(seed))
        assert np.allclose(camera.rgb2cam.sum(axis=1), 1.0)
        assert 1.9 <= camera.red_gain <= 2.4 and 1.5 <= camera.blue_gain <= 1.9
        assert np.abs(camera.process(camera.unprocess(img)) - img).max() < 1e-4


def test_isp_camera_noise_is_stronger_in_red_and_blue_than_green():
    # white balance multiplies the red and blue sensor noise by about 2 after it is added
    spec = NoiseSpec.parse("camera:isp,nojpeg")
    stds = np.mean([np.std(spec.apply(flat(0.4), np.random.default_rng(i))[0] - 0.4, axis=(0, 1))
                    for i in range(8)], axis=0)
    assert stds[0] > 1.2 * stds[1] and stds[2] > 1.2 * stds[1]


def test_wide_camera_noise_reaches_milder_levels():
    def psnrs(spec):
        clean = flat(0.5, 32)
        return [-np.log10(np.mean((spec.apply(clean, np.random.default_rng(i))[0] - clean) ** 2)) for i in range(40)]

    assert max(psnrs(NoiseSpec.parse("camera:wide,nojpeg"))) > max(psnrs(NoiseSpec.parse("camera:nojpeg")))


def test_sharp_camera_noise_keeps_the_detail_a_bilinear_demosaic_would_blur():
    yy, xx = np.mgrid[:48, :48]
    texture = (0.5 + 0.3 * np.sin(2.2 * xx + 1.3 * yy))[..., None] * np.array([1.0, 0.8, 0.6], np.float32)
    texture = texture.astype(np.float32)

    def error(text):
        spec = NoiseSpec.parse(text)
        return np.mean([np.abs(spec.apply(texture, np.random.default_rng(i))[0] - texture).mean() for i in range(6)])

    assert error("camera:isp,sharp,nojpeg") < 0.5 * error("camera:isp,nojpeg")


def test_sharp_camera_noise_is_still_spatially_correlated():
    noisy = NoiseSpec.parse("camera:sharp,nojpeg").apply(flat(0.4, 64), np.random.default_rng(0))[0] - 0.4
    lag1 = np.corrcoef(noisy[:, :-1, 1].ravel(), noisy[:, 1:, 1].ravel())[0, 1]
    assert noisy.std() > 0 and lag1 > 0.2  # demosaicing spreads each site's noise to its neighbours


def test_incamera_processing_changes_the_noise_not_the_photo():
    yy, xx = np.mgrid[:48, :48]
    texture = (0.5 + 0.3 * np.sin(2.2 * xx + 1.3 * yy))[..., None] * np.array([1.0, 0.8, 0.6])
    texture = texture.astype(np.float32)
    assert np.allclose(in_camera_noise_processing(texture, texture, np.random.default_rng(0)), texture, atol=1e-6)


def test_incamera_processing_reduces_chroma_noise_and_sharpens_luma_noise():
    to_cb = np.array([-0.168736, -0.331264, 0.5])
    to_y = np.array([0.299, 0.587, 0.114])

    def stats(text):
        spec = NoiseSpec.parse(text)
        noise = [spec.apply(flat(0.4, 64), np.random.default_rng(i))[0] - 0.4 for i in range(8)]
        cb = np.mean([np.std(n @ to_cb) for n in noise])
        luma = [n @ to_y for n in noise]
        lag1 = np.mean([np.corrcoef(y[:, :-1].ravel(), y[:, 1:].ravel())[0, 1] for y in luma])
        return cb, lag1

    (cb_plain, lag_plain), (cb_incamera, lag_incamera) = stats("camera:isp,sharp,nojpeg"), stats(
        "camera:isp,sharp,incamera,nojpeg")
    assert cb_incamera < 0.7 * cb_plain  # chroma noise reduction
    assert lag_incamera < lag_plain  # the unsharp mask takes neighbours' correlation away


@pytest.mark.parametrize("text", ["gauss:25", "awgn:abc", "awgn:50-5", "camera:raw", "camera:isp,raw"])
def test_bad_specs_are_refused(text):
    with pytest.raises(ZooError):
        NoiseSpec.parse(text)
