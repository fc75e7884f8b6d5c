"""The robustness acceptance: one batch over a folder of unusual and broken files, through the
real console script. Every good and convertible file is written, each bad one is reported in one
line, the exit code is 1, and no traceback or temporary file is left."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.conftest import run_zoo, save_rgb


def test_a_folder_of_unusual_files(tmp_path):
    shots, out = tmp_path / "shots", tmp_path / "clean"
    shots.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        save_rgb(shots / f"good{i}.png", rng.random((24, 32, 3)))
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).convert("P").save(shots / "still.gif")
    frames = [Image.fromarray(np.full((16, 16, 3), c, np.uint8)) for c in (0, 120, 250)]
    frames[0].save(shots / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).convert("CMYK").save(shots / "print.jpg")
    data = (shots / "good0.png").read_bytes()
    (shots / "cut.png").write_bytes(data[: len(data) // 2])

    proc = run_zoo("denoise", "--model", "mwrcanet:awgn_small", "--out-dir", str(out), str(shots))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted([f"good{i}_denoised-mwrcanet-awgn_small.png" for i in range(5)]
                             + ["print_denoised-mwrcanet-awgn_small.jpg", "still_denoised-mwrcanet-awgn_small.png"])
    assert "GIF cannot be written; the output is PNG" in proc.stdout
    failed = [ln for ln in proc.stderr.splitlines() if ln.startswith("failed:")]
    assert len(failed) == 2 and any("cut.png" in ln for ln in failed) and any("animated.gif" in ln for ln in failed)
    assert "7 of 9 images denoised, 2 failed" in proc.stderr
    with Image.open(out / "print_denoised-mwrcanet-awgn_small.jpg") as cmyk:
        assert cmyk.mode == "CMYK"  # written back as it came
    leftovers = [p for p in (*shots.iterdir(), *out.iterdir()) if ".part" in p.name]
    assert leftovers == []
