"""Build a ready Denoiser from a model name, a pretrained tag or a weights reference.

What ``zoo.load`` does; the trainers, the benchmarks and the commands that read models (export,
convert) call it here, below the public API.
"""

from __future__ import annotations

from typing import Any

from registry.denoiser import PRECISIONS, Denoiser
from registry.errors import WeightsError, ZooError
from registry.manager import get_registry
from registry.spec import Architecture
from zoo.inference import runtime
from zoo.weights.files import check_finite, load_state
from zoo.weights.names import parse_model, plugin_package, pretrained_card, run_card
from zoo.weights.resolve import resolve


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
    ``weights`` (a reference, see zoo.weights.resolve) when given, else from the pretrained card ``tag``
    (the architecture's default tag when None). ``pretrained=False`` gives random weights.
    ``preset`` and keyword arguments choose the config when no card fixes it; a local weight file
    with the ``.card.json`` that `zoo train` writes beside it rebuilds the preset it was trained as.
    Hub weights (``hf://``, also ``name="hf://ORG/REPO[@REV]"``) take their config from the
    repository's config.json when it has one; ``offline`` (default: HF_HUB_OFFLINE) uses the cache only.
    ``precision`` ("fp32" or "bf16") and ``compile`` pick a faster runtime (Denoiser.accelerate).
    """
    if not isinstance(name, str) or not name:
        raise ZooError(f"a model is named by a string like 'mwrcanet' or 'mwrcanet:awgn_small', got {name!r}")
    if precision not in PRECISIONS:
        raise ZooError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    runtime.tune_allocator()
    hub_config = None
    if name.startswith("hf://") or (weights or "").startswith("hf://"):
        from zoo.weights import hub  # imported lazily: huggingface_hub is slow to import

        name, weights, hub_config = hub.model_source(name, weights, offline)
    name, parsed_tag = parse_model(name)
    arch = get_registry().get(name)
    card = pretrained_card(arch, tag or parsed_tag) if (pretrained and weights is None) else None
    if card is not None:
        cfg = arch.config.preset(card.preset, **{**card.config, **config})
    elif hub_config is not None:
        cfg = arch.config.from_hub_dict({**hub_config, **config})
    elif (trained := run_card(weights, arch.name)) is not None and preset is None:
        cfg = arch.config.preset(trained.get("preset"), **{**trained.get("config", {}), **config})
    else:
        cfg = arch.config.preset(preset, **config)
    backend = backend or arch.default_backend()
    denoiser = _build(arch, cfg, backend, precision)
    denoiser.architecture, denoiser.backend = arch.name, backend
    ref, pin = (weights, None) if weights else ((card.file, card.sha256) if card else (None, None))
    if ref is not None:
        path = resolve(ref, pin, package=plugin_package(arch), offline=offline)
        denoiser.load_state_dict(check_finite(load_state(path, trust_pickle=trust_pickle), path))
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
