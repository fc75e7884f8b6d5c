"""Build a ready Denoiser from a model name, a pretrained tag or a weights reference.

What ``zoo.load`` does; the trainers, the benchmarks and the commands that read models (export,
convert) call it here, below the public API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from registry.denoiser import PRECISIONS, Denoiser
from registry.errors import BackendUnavailableError, UnknownModelError, WeightsError, ZooError
from registry.manager import get_registry
from registry.spec import Architecture
from zoo.inference import runtime
from zoo.runtimes import RUNTIMES, supports
from zoo.runtimes import auto as runtimes_auto
from zoo.weights import metadata
from zoo.weights.files import check_finite, load_state
from zoo.weights.names import DEFAULT_MODEL, parse_model, plugin_package, pretrained_card, run_card
from zoo.weights.resolve import resolve


def load(
    name: str | None = None,
    backend: str | None = None,
    weights: str | None = None,
    tag: str | None = None,
    **options: Any,
) -> Denoiser:
    """Build a ready Denoiser (see :func:`_load_once` for every argument).

    ``backend="auto"`` takes zoo.runtimes.auto's choice; when that is a runtime, its graph is
    exported (or taken from the cache) here, and a model whose graph does not export or compile
    falls back to its architecture's default backend, so auto never fails where that would run.
    """
    denoiser = _load_once(name, backend, weights, tag, **options)
    if backend != "auto" or denoiser.backend not in RUNTIMES:
        return denoiser
    try:
        denoiser.prepare()
    except BackendUnavailableError:
        if options.get("precision", "fp32") == "int8":  # nothing else runs int8: say why
            raise
        return _load_once(name, None, weights, tag, **options)
    return denoiser


def _load_once(
    name: str | None,
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

    ``name`` is an architecture name or alias, optionally with ``:TAG``; None takes the
    architecture from the weights file's metadata (zoo.weights.metadata), else the default model.
    Weights come from ``weights`` (a reference, see zoo.weights.resolve) when given, else from the
    pretrained card ``tag`` (the architecture's default tag when None). ``pretrained=False`` gives
    random weights. The config, first found wins: the card of a tag named explicitly (also with
    ``weights``); the Hub repository's config.json; the config in the weights' metadata; the
    ``.card.json`` `zoo train` wrote beside a local file; ``preset`` and keyword arguments; and
    for a bare state dict the preset whose tensor shapes it fits. ``offline`` (default:
    HF_HUB_OFFLINE) uses the Hub cache only. ``precision`` ("fp32" or "bf16"; "int8" on the
    runtimes) and ``compile`` pick a faster runtime (Denoiser.accelerate). ``backend`` "onnx" or
    "openvino" runs the architecture's torch graph there (zoo.runtimes) unless it declares that
    backend itself; "auto" is zoo.runtimes.auto's choice, recorded in ``denoiser.backend``.
    """
    if name is not None and (not isinstance(name, str) or not name):
        raise ZooError(f"a model is named by a string like 'mwrcanet' or 'mwrcanet:awgn_small', got {name!r}")
    if precision not in (*PRECISIONS, "int8"):
        raise ZooError(f"precision must be one of {', '.join(PRECISIONS)}, int8, got {precision!r}")
    runtime.tune_allocator()
    hub_config = None
    if name is not None and _is_path(name):  # a folder `zoo export` wrote: config.json + model.safetensors
        name, weights, hub_config = _local_repository(name, weights)
    if (name or "").startswith("hf://") or (weights or "").startswith("hf://"):
        from zoo.weights import hub  # imported lazily: huggingface_hub is slow to import

        name, weights, hub_config = hub.model_source(name or "", weights, offline)
    early = weights is not None and not weights.startswith("bundled:")  # bundled: needs the plugin first
    path = resolve(weights, None, offline=offline) if early else None
    meta = metadata.read(path) if path is not None else {}
    if name is None and not meta and path is not None:  # a bare state dict: which architecture is it?
        name = _identify(check_finite(load_state(path, trust_pickle=trust_pickle), path), backend, path.name)
    name, parsed_tag = parse_model(name or meta.get("architecture") or DEFAULT_MODEL)
    arch = get_registry().get(name)
    _check_metadata(meta, arch, weights)
    tag = tag or parsed_tag
    card = pretrained_card(arch, tag) if pretrained and (weights is None or tag is not None) else None
    fit = False
    if card is not None:
        cfg = arch.config.preset(card.preset, **{**card.config, **config})
    elif hub_config is not None:
        cfg = arch.config.from_hub_dict({**hub_config, **config})
    elif preset is None and (recorded := metadata.config_of(meta, arch, **config)) is not None:
        cfg = recorded
    elif (trained := run_card(weights, arch.name)) is not None and preset is None:
        cfg = arch.config.preset(trained.get("preset"), **{**trained.get("config", {}), **config})
    else:
        cfg = arch.config.preset(preset, **config)
        fit = preset is None and not config and arch.weights_reader is None  # a reader's plugin sizes from the weights
    if backend == "auto":  # --compile is torch's or Keras', so auto leaves the runtimes out then
        backend = arch.default_backend() if compile else runtimes_auto.choose(arch, precision, cfg)
    backend = backend or arch.default_backend()
    if precision == "int8" and backend not in RUNTIMES:
        raise ZooError(f"int8 runs on the onnx and openvino backends (or --backend auto), not {backend}")
    denoiser = _build(arch, cfg, backend, precision)
    if weights is not None:
        path = path or resolve(weights, None, package=plugin_package(arch), offline=offline)
        state = check_finite(_read_state(arch, path, trust_pickle), path)
        denoiser = _load_fitting(denoiser, arch, state, backend, precision, path.name) if fit else _loaded(denoiser, state)
    elif card is not None:
        path = resolve(card.file, card.sha256, package=plugin_package(arch), offline=offline)
        denoiser = _loaded(denoiser, check_finite(_read_state(arch, path, False), path))
    elif arch.needs_weights and pretrained:
        raise WeightsError(
            f"{arch.name} has no pretrained weights yet; pass --weights FILE.safetensors "
            "(or pretrained=False for random weights)"
        )
    denoiser.architecture, denoiser.backend = arch.name, backend
    if precision != "fp32" or compile:
        denoiser.accelerate(precision=precision, compile=compile)
    return denoiser


def _is_path(name: str) -> bool:
    """A folder is written as one (./out, ~/m, a/b): a bare name is always a model name."""
    return "://" not in name and (name.startswith((".", "/", "~")) or "/" in name)


def _local_repository(name: str, weights: str | None) -> tuple[str, str, dict[str, Any]]:
    """(architecture, weights path, config) of an exported folder, as for an hf:// repository."""
    folder = Path(name).expanduser()
    config_file, weights_file = folder / "config.json", folder / "model.safetensors"
    if not folder.is_dir():
        raise UnknownModelError(f"--model {name}: no such folder (a model is a name from `zoo list`, hf://ORG/REPO, "
                                "or a folder written by `zoo export`)")
    if not config_file.is_file():
        raise WeightsError(f"{folder} has no config.json; a model folder is what `zoo export` writes "
                           "(or use --model ARCH --weights FILE)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{config_file} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict) or not isinstance(config.get("architecture"), str):
        raise WeightsError(f"{config_file} does not name an 'architecture'")
    if weights is None and not weights_file.is_file():
        raise WeightsError(f"{folder} has no model.safetensors")
    return config["architecture"], weights or str(weights_file), config


def _check_metadata(meta: dict[str, str], arch: Architecture, weights: str | None) -> None:
    if meta and get_registry().get(meta["architecture"]).name != arch.name:
        raise WeightsError(f"{weights} holds {meta['architecture']} weights, not {arch.name}; "
                           f"use --model {meta['architecture']} (or leave --model out)")


def _read_state(arch: Architecture, path: Path, trust_pickle: bool) -> dict:
    """The weights at ``path``: through the plugin's own reader where it declares one (a bridged
    loader's formats and restricted unpickler), else the zoo's (safetensors; pickles if trusted)."""
    if arch.weights_reader is not None:
        return arch.read_weights(path, trust_pickle=trust_pickle)
    return load_state(path, trust_pickle=trust_pickle)


def _loaded(denoiser: Denoiser, state: dict) -> Denoiser:
    denoiser.load_state_dict(state)
    return denoiser


def _load_fitting(denoiser: Denoiser, arch: Architecture, state: dict, backend: str, precision: str,
                  source: str) -> Denoiser:
    """A bare state dict (no metadata, no card): the default preset, else the preset whose tensor
    shapes it fits; when none does, the error names the nearest preset and what differs."""
    try:
        return _loaded(denoiser, state)
    except WeightsError:
        pass
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    misfits = []
    for preset in arch.config.presets:
        candidate = _build(arch, arch.config.preset(preset), backend, precision)
        expected = {k: tuple(v.shape) for k, v in candidate.state_dict().items()}
        if expected == shapes:
            return _loaded(candidate, state)
        misfits.append((_differences(expected, shapes), preset))
    if not misfits:
        raise WeightsError(f"{source} does not fit {arch.name}'s config (it has no presets to try)")
    diffs, nearest = min(misfits, key=lambda m: len(m[0]))
    raise WeightsError(f"{source} fits no {arch.name} preset; nearest is {nearest!r}, where "
                       f"{len(diffs)} tensor(s) differ, e.g. {'; '.join(diffs[:2])}")


def _identify(state: dict, backend: str | None, source: str) -> str:
    """The architecture whose preset a bare state dict fits, found by its tensor names and shapes."""
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    for arch in get_registry().architectures.values():
        chosen = backend if backend in arch.backends else None
        if not arch.needs_weights or not arch.config.presets or arch.weights_reader is not None:
            continue  # (a plugin with its own reader sizes its network from the weights, not a preset)
        try:
            chosen = chosen or arch.default_backend()
        except ZooError:  # no backend of it is installed
            continue
        for preset in arch.config.presets:
            built = arch.build(arch.config.preset(preset), chosen)
            if {k: tuple(v.shape) for k, v in built.state_dict().items()} == shapes:
                return arch.name
    raise WeightsError(f"{source} has no metadata and its tensors fit no installed architecture's preset; "
                       "name it with --model ARCH (and --preset)")


def _differences(expected: dict[str, tuple], found: dict[str, tuple]) -> list[str]:
    missing = [f"{k} missing" for k in expected if k not in found]
    extra = [f"{k} unexpected" for k in found if k not in expected]
    shaped = [f"{k} is {found[k]}, the preset has {expected[k]}" for k in expected if k in found and found[k] != expected[k]]
    return shaped + missing + extra


def _build(arch: Architecture, cfg: Any, backend: str, precision: str) -> Denoiser:
    """Keras fixes a model's compute dtype when its layers are built, so bf16 is chosen here.
    onnx and openvino, where the architecture does not declare them, run its torch graph."""
    if supports(arch, backend):
        from zoo.runtimes.backends import build

        return build(arch, cfg, backend)
    if backend != "tensorflow" or precision != "bf16":
        return arch.build(cfg, backend)
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        return arch.build(cfg, backend)
    finally:
        keras.mixed_precision.set_global_policy("float32")
