"""Golden checks: every shipped weight file reproduces the number its card states."""

from __future__ import annotations

import pytest

from registry.manager import get_registry
from zoo.testing import golden_psnr

pytest.importorskip("torch")

MARGIN_DB = 0.05


def shipped() -> list[tuple[str, str]]:
    return [(a.name, p.tag) for a in get_registry().architectures.values() for p in a.pretrained]


@pytest.mark.parametrize("arch, tag", shipped())
def test_golden_crop_matches_the_card(arch, tag):
    import zoo

    card = get_registry().get(arch).weights_for(tag)
    assert "golden_psnr" in card.metrics, f"{arch}.{tag} card states no golden_psnr"
    measured = golden_psnr(zoo.load(f"{arch}:{tag}", backend="torch"), card.noise)
    assert measured >= card.metrics["golden_psnr"] - MARGIN_DB, f"{arch}.{tag}: {measured:.2f} dB"


@pytest.mark.parametrize("arch, tag", shipped())
def test_shipped_files_are_small_and_verified(arch, tag):
    from zoo.weights.resolve import resolve
    from zoo.weights.names import plugin_package as _package

    a = get_registry().get(arch)
    card = a.weights_for(tag)
    path = resolve(card.file, card.sha256, package=_package(a))
    assert path.stat().st_size < 20_000_000
