"""What the zoo's commands need from a backend, checked with a one-line error naming the piece.

``zoo info`` counts parameters and MACs on the torch module, ``zoo train`` trains it (or the
Keras model with ``fit``), ``zoo convert`` saves the Keras model. A backend built on
``TorchDenoiser(config, module)`` or ``KerasDenoiser(config, model)`` has all of it; a plain
``Denoiser`` does not, and these helpers say so instead of an AttributeError. The conformance kit
(zoo.testing) calls the same helpers. Framework-free: nothing is imported here.
"""

from __future__ import annotations

from typing import Any

from registry.errors import ZooError


def who(denoiser: Any) -> str:
    name = getattr(denoiser, "architecture", "") or type(denoiser).__name__
    return f"{name} ({getattr(denoiser, 'backend', '') or 'this backend'}, {type(denoiser).__name__})"


def torch_module(denoiser: Any, purpose: str) -> Any:
    """The denoiser's ``torch.nn.Module`` (``.module``), or a ZooError saying ``purpose`` needs one."""
    module = getattr(denoiser, "module", None)
    if module is None or not callable(getattr(module, "parameters", None)):
        raise ZooError(f"{purpose} needs a torch backend built on zoo.sdk.TorchDenoiser(config, module); "
                       f"{who(denoiser)} has no torch module (.module)")
    return module


def movable(denoiser: Any, purpose: str) -> Any:
    """The denoiser, checked to have ``.to(device)`` and a torch module (what training uses)."""
    torch_module(denoiser, purpose)
    if not callable(getattr(denoiser, "to", None)):
        raise ZooError(f"{purpose} needs a torch backend built on zoo.sdk.TorchDenoiser(config, module); "
                       f"{who(denoiser)} has no .to(device)")
    return denoiser


def keras_model(denoiser: Any, purpose: str) -> Any:
    """The denoiser's Keras model (``.model``), or a ZooError saying ``purpose`` needs one."""
    model = getattr(denoiser, "model", None)
    if model is None or not callable(getattr(model, "fit", None)):
        raise ZooError(f"{purpose} needs a Keras backend built on zoo.sdk.KerasDenoiser(config, model); "
                       f"{who(denoiser)} has no Keras model (.model)")
    return model
