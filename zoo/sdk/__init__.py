"""The plugin authoring kit: everything a third-party plugin builds on, in one public place.

The built-in plugins import from here exactly as yours will (CONTRIBUTING.md walks through both
tutorials)::

    from zoo.sdk import Architecture, DenoiserConfig, hookimpl, bundled   # the hook (no framework)
    from zoo.sdk.torch_base import TorchDenoiser                          # a torch backend module
    from zoo.sdk.keras_base import KerasDenoiser                          # a Keras backend module

- Contracts: ``Architecture``, ``DenoiserConfig``, ``Denoiser``, ``PretrainedWeights``, ``hookimpl``
  and the errors (the same objects as ``zoo.*``).
- Pretrained tags: ``bundled(__name__)`` gives an Architecture its ``pretrained`` cards and
  ``default_tag`` from the package's ``weights/TAG.card.json`` files (:mod:`registry.cards`);
  ``zoo ship`` puts a trained file and its card there.
- Backends: ``TorchDenoiser(config, module)`` (:mod:`zoo.sdk.torch_base`) and
  ``KerasDenoiser(config, model)`` (:mod:`zoo.sdk.keras_base`, whose layers are named after the
  torch module paths); both give ``zoo info``, ``zoo train``, ``--precision bf16`` and ``--compile``.
  ``TorchDenoiser`` and ``KerasDenoiser`` are also importable from here, lazily (importing this
  package imports no framework).
- Weights: ``check_state(expected_shapes, state, strict, label)`` raises the WeightsError the zoo
  expects for missing, unexpected and misshapen tensors.
- Sigma: ``SIGMA_SCALE``, ``estimate_sigma``, ``EstimatesSigma`` (:mod:`zoo.sdk.sigma`); a noise-level
  map input that is optional at run time: ``noise_map_field``, ``NOISE_MAP_CHANNELS`` and, in Keras,
  ``model_input`` (:mod:`zoo.sdk.common`, CONTRIBUTING section 5).
- Growing a network (``zoo train --grow``): a backend class's ``residual_ends`` names the layers
  that end its residual branches.
- What commands need: ``torch_module``, ``keras_model`` (:mod:`zoo.sdk.contract`).
"""

from __future__ import annotations

from typing import Any

from registry import (Architecture, BackendUnavailableError, Denoiser, DenoiserConfig, PretrainedWeights,
                      UnknownModelError, WeightsError, ZooError, hookimpl)
from registry.cards import bundled, load_cards
from zoo.sdk.common import check_state, tlc_kernel
from zoo.sdk.contract import keras_model, movable, torch_module
from zoo.sdk.sigma import SIGMA_SCALE, EstimatesSigma, estimate_sigma

__all__ = [
    "Architecture", "BackendUnavailableError", "Denoiser", "DenoiserConfig", "EstimatesSigma", "KerasDenoiser",
    "PretrainedWeights", "SIGMA_SCALE", "TorchDenoiser", "UnknownModelError", "WeightsError", "ZooError",
    "bundled", "check_state", "estimate_sigma", "hookimpl", "keras_model", "load_cards", "movable",
    "tlc_kernel", "torch_module",
]


def __getattr__(name: str) -> Any:
    """``TorchDenoiser`` and ``KerasDenoiser`` on first use: they import their framework."""
    if name == "TorchDenoiser":
        from zoo.sdk.torch_base import TorchDenoiser

        return TorchDenoiser
    if name == "KerasDenoiser":
        from zoo.sdk.keras_base import KerasDenoiser

        return KerasDenoiser
    raise AttributeError(f"module 'zoo.sdk' has no attribute {name!r}")
