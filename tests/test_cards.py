"""Cards shipped beside bundled weights become the architecture's pretrained entries."""

import json

from registry.cards import bundled

CARD = {"file": "awgn.safetensors", "sha256": "a" * 64, "preset": "tiny", "noise": "awgn_blind",
        "sigma_range": [0, 50], "metrics": {"cbsd68_s25_psnr": 30.0},
        "training": {"command": "zoo train x", "data": "CBSD432", "steps": 5, "wall_time_s": 1.0}}


def test_bundled_cards_and_default_tag(plugin_dir):
    weights = plugin_dir / "cardpkg" / "weights"
    weights.mkdir(parents=True)
    (plugin_dir / "cardpkg" / "__init__.py").write_text("")
    (weights / "awgn_tiny.card.json").write_text(json.dumps({**CARD, "default": True}))
    (weights / "real_tiny.card.json").write_text(json.dumps({**CARD, "noise": "real", "sigma_range": None}))
    found = bundled("cardpkg")
    assert found["default_tag"] == "awgn_tiny"
    awgn, real = found["pretrained"]
    assert awgn.file == "bundled:awgn.safetensors" and awgn.sigma_range == (0, 50) and real.noise == "real"
    assert "zoo train x | data: CBSD432 | 5 steps" in awgn.training


def test_no_weights_folder_means_no_cards(plugin_dir):
    (plugin_dir / "bare").mkdir()
    (plugin_dir / "bare" / "__init__.py").write_text("")
    assert bundled("bare") == {"pretrained": (), "default_tag": None}
