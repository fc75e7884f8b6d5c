"""Core contracts of denoise-zoo. Imports neither torch nor tensorflow."""

from registry.config import DenoiserConfig
from registry.denoiser import Denoiser
from registry.errors import (
    BackendUnavailableError,
    ImageReadError,
    ImageWriteError,
    PluginLoadError,
    UnknownModelError,
    WeightsError,
    ZooError,
)
from registry.hookspecs import hookimpl
from registry.manager import Registry, get_registry
from registry.spec import Architecture, PretrainedWeights

__all__ = [
    "Architecture", "BackendUnavailableError", "Denoiser", "DenoiserConfig", "ImageReadError",
    "ImageWriteError", "PluginLoadError", "PretrainedWeights", "Registry", "UnknownModelError",
    "WeightsError", "ZooError", "get_registry", "hookimpl",
]
