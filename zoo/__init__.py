"""denoise-zoo: a plugin-based zoo of deep-learning denoisers for colour photos.

Plugin authors import the public contracts from here::

    from zoo import hookimpl, Architecture, DenoiserConfig, Denoiser
"""

from registry import (
    Architecture,
    BackendUnavailableError,
    Denoiser,
    DenoiserConfig,
    ImageReadError,
    ImageWriteError,
    PluginLoadError,
    PretrainedWeights,
    UnknownModelError,
    WeightsError,
    ZooError,
    hookimpl,
)
from zoo.api import denoise, load

__version__ = "0.1.0"

__all__ = [
    "Architecture", "BackendUnavailableError", "Denoiser", "DenoiserConfig", "ImageReadError",
    "ImageWriteError", "PluginLoadError", "PretrainedWeights", "UnknownModelError", "WeightsError",
    "ZooError", "denoise", "hookimpl", "load",
]
