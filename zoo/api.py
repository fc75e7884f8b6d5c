"""The Python entry points: ``zoo.load`` and ``zoo.denoise``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from registry.denoiser import PRECISIONS, Denoiser
from registry.errors import UnknownModelError, WeightsError, ZooError
from registry.manager import get_registry
from registry.spec import Architecture, PretrainedWeights
from zoo import engine, runtime, weights as weights_mod

DEFAULT_MODEL = "mwrcanet"  # its default tag is the real-noise model: what photos have


def parse_model(model: str) -> tuple[str, str | None]:
    """Split 'arch:tag' or 'arch.tag' into (arch, tag)."""
    for sep in (":", "."):
        if sep in model:
            name, _, tag = model.partition(sep)
            return name, tag or None
    return model, None


def load(
    name: str,
    backend: str | None = None,
    weights: str | None = None,
    tag: str | None = None,
    *,
    preset: str | None = None,
    pretrained: bool = True,
    trust_pickle: bool = False,
    offline: bool | None = None,
    precision: str = "fp32",
    compile: bool = False,
    **config: Any,
) -> Denoiser:
    """Build a ready Denoiser.

    ``name`` is an architecture name or alias, optionally with ``:TAG``. Weights come from
    ``weights`` (a reference, see zoo.weights) when given, else from the pretrained card ``tag``
    (the architecture's default tag when None). ``pretrained=False`` gives random weights.
    ``preset`` and keyword arguments choose the config when no card fixes it; a local weight file
    with the ``.card.json`` that `zoo train` writes beside it rebuilds the preset it was trained as.
    Hub weights (``hf://``, also ``name="hf://ORG/REPO[@REV]"``) take their config from the
    repository's config.json when it has one; ``offline`` (default: HF_HUB_OFFLINE) uses the cache only.
    ``precision`` ("fp32" or "bf16") and ``compile`` pick a faster runtime (Denoiser.accelerate).
    """
    if precision not in PRECISIONS:
        raise ZooError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    runtime.tune_allocator()
    hub_config = None
    if name.startswith("hf://") or (weights or "").startswith("hf://"):
        from zoo import hub  # imported lazily: huggingface_hub is slow to import

        name, weights, hub_config = hub.model_source(name, weights, offline)
    name, parsed_tag = parse_model(name)
    arch = get_registry().get(name)
    card = _card(arch, tag or parsed_tag) if (pretrained and weights is None) else None
    if card is not None:
        cfg = arch.config.preset(card.preset, **{**card.config, **config})
    elif hub_config is not None:
        cfg = arch.config.from_hub_dict({**hub_config, **config})
    elif (run_card := _run_card(weights, arch.name)) is not None and preset is None:
        cfg = arch.config.preset(run_card.get("preset"), **{**run_card.get("config", {}), **config})
    else:
        cfg = arch.config.preset(preset, **config)
    backend = backend or arch.default_backend()
    denoiser = _build(arch, cfg, backend, precision)
    denoiser.architecture, denoiser.backend = arch.name, backend
    ref, pin = (weights, None) if weights else ((card.file, card.sha256) if card else (None, None))
    if ref is not None:
        path = weights_mod.resolve(ref, pin, package=_package(arch), offline=offline)
        denoiser.load_state_dict(weights_mod.load_state(path, trust_pickle=trust_pickle))
    elif arch.needs_weights and pretrained:
        raise WeightsError(
            f"{arch.name} has no pretrained weights yet; pass --weights FILE.safetensors "
            "(or pretrained=False for random weights)"
        )
    if precision != "fp32" or compile:
        denoiser.accelerate(precision=precision, compile=compile)
    return denoiser


def _build(arch: Architecture, cfg: Any, backend: str, precision: str) -> Denoiser:
    """Keras fixes a model's compute dtype when its layers are built, so bf16 is chosen here."""
    if backend != "tensorflow" or precision != "bf16":
        return arch.build(cfg, backend)
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        return arch.build(cfg, backend)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _run_card(weights: str | None, arch: str) -> dict[str, Any] | None:
    """The card `zoo train` wrote beside a local weight file (OUT.card.json), if it is for ``arch``:
    its preset and config rebuild the network the weights were trained as."""
    if not weights or "://" in weights or weights.startswith("bundled:"):
        return None
    card = Path(weights).expanduser().with_suffix(".card.json")
    try:
        data = json.loads(card.read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("architecture") == arch else None


def _card(arch: Architecture, tag: str | None) -> PretrainedWeights | None:
    card = arch.weights_for(tag)
    if tag is not None and card is None:
        known = ", ".join(p.tag for p in arch.pretrained) or "none"
        raise UnknownModelError(f"{arch.name} has no pretrained tag {tag!r}; known tags: {known}")
    return card


def _package(arch: Architecture) -> str:
    """The plugin package a bundled weight file ships in: where its config class lives."""
    module = arch.config.__module__
    return module.rsplit(".", 1)[0] if module.count(".") else module


def denoise(
    image: str | Path | np.ndarray,
    model: str | Denoiser = DEFAULT_MODEL,
    sigma: float | None = None,
    **load_kwargs: Any,
) -> np.ndarray:
    """Denoise a path or a float32 HxWxC array in [0, 1]; return float32 pixels.

    Grayscale (C = 1) and alpha (C = 2 or 4) are handled: alpha passes through untouched.
    """
    denoiser = model if isinstance(model, Denoiser) else load(model, **load_kwargs)
    if isinstance(image, (str, Path)):
        from zoo.imageio import read_image

        image = read_image(image).pixels
    return engine.run(denoiser, image, sigma)
