"""What a plugin registers: an :class:`Architecture` and its :class:`PretrainedWeights` cards."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from registry.config import DenoiserConfig
from registry.errors import BackendUnavailableError

# Frameworks a backend name implies; any other backend needs only what `requires` lists.
FRAMEWORK_MODULES = {"torch": "torch", "tensorflow": "tensorflow"}
INSTALL_HINTS = {"torch": "denoise-zoo[torch]", "tensorflow": "denoise-zoo[tensorflow]"}


class PretrainedWeights(BaseModel):
    """One model card entry: a trained weight file for an architecture, named ``arch.tag``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # -- identity
    tag: str = Field(description="Short tag, e.g. 'awgn_small'; the card is named ARCH.TAG.")
    description: str = Field("", description="One line for `zoo list`.")
    # -- file
    file: str = Field(description="Weight reference: 'bundled:<file>', 'hf://ORG/REPO/FILE@REV' or a path.")
    sha256: str = Field(description="Pinned sha256 of the safetensors file, checked on every load.")
    preset: str | None = Field(None, description="Config preset the weights were trained with.")
    config: dict[str, Any] = Field(default_factory=dict, description="Config overrides on top of the preset.")
    # -- what it was trained for
    noise: Literal["awgn", "awgn_blind", "real", "none"] = Field(
        description="Noise domain: fixed-sigma AWGN, blind AWGN range, or realistic camera noise."
    )
    sigma_range: tuple[float, float] | None = Field(None, description="AWGN sigma range (0-255 scale).")
    # -- provenance and measurements
    training: str = Field("", description="The command that trained it and the data it saw.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Measured metrics, e.g. cbsd68_s25_psnr.")
    license: str = Field("MIT", description="Licence of the weights.")

    @property
    def source(self) -> str:
        """'bundled', 'hub' or 'local', for listings."""
        if self.file.startswith("bundled:"):
            return "bundled"
        return "hub" if self.file.startswith("hf://") else "local"

    @field_validator("sha256")
    @classmethod
    def _hex64(cls, v: str) -> str:
        if len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return v


class Architecture(BaseModel):
    """A denoising architecture as a plugin registers it, with all its backends at once.

    Backend targets are import strings (``"pkg.module:build"``) resolved on first use, so listing
    architectures imports no framework. ``build(config) -> Denoiser`` is the target's contract.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    # -- identity
    name: str = Field(description="Name users type, lowercase, e.g. 'mwrcanet'.")
    aliases: tuple[str, ...] = Field((), description="Other accepted names.")
    description: str = Field("", description="One line for `zoo list`.")
    paper: str = Field("", description="Reference to the paper or seed work.")
    # -- implementation
    config: type[DenoiserConfig] = Field(description="The architecture's DenoiserConfig subclass.")
    backends: dict[str, str] = Field(description="Backend name -> 'module:function' building a Denoiser.")
    requires: tuple[str, ...] = Field((), description="Extra importable modules every backend needs.")
    install: str = Field("", description="What to pip install when a module of `requires` is missing, "
                         "e.g. 'denoise-zoo[spandrel]'; the missing module names when empty.")
    license: str = Field("", description="Licence of the network's code where it is not the zoo's own "
                         "(a bridged or peer implementation); `zoo list` and `zoo info` show it.")
    weights_reader: str | None = Field(
        None, description="'module:function(path, trust_pickle) -> state dict' reading this architecture's "
        "weight files instead of the zoo's reader (a bridged loader's formats); imported on first use.")
    # -- weights
    pretrained: tuple[PretrainedWeights, ...] = Field((), description="Trained weight cards.")
    default_tag: str | None = Field(None, description="Tag used when the user names no tag.")
    needs_weights: bool = Field(True, description="False for weight-free (classical) methods.")
    # -- stamped by the plugin manager
    plugin: str = Field("", description="Name of the plugin that registered it (set by the manager).")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or v != v.lower() or not v.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"architecture name {v!r} must be lowercase letters, digits, '-' or '_'")
        return v

    @field_validator("config")
    @classmethod
    def _config(cls, v: type) -> type:
        if not (isinstance(v, type) and issubclass(v, DenoiserConfig)):
            raise ValueError("config must be a DenoiserConfig subclass")
        v.preset()  # the default config must validate
        for preset in v.presets:
            v.preset(preset)
        return v

    @field_validator("weights_reader")
    @classmethod
    def _reader(cls, v: str | None) -> str | None:
        if v is not None and v.count(":") != 1:
            raise ValueError(f"weights_reader {v!r} must be 'module:function'")
        return v

    @field_validator("backends")
    @classmethod
    def _backends(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("an architecture needs at least one backend")
        for backend, target in v.items():
            if target.count(":") != 1:
                raise ValueError(f"backend {backend!r} target {target!r} must be 'module:function'")
        return v

    @model_validator(mode="after")
    def _tags(self) -> Architecture:
        tags = [p.tag for p in self.pretrained]
        if len(set(tags)) != len(tags):
            raise ValueError("pretrained tags must be unique")
        if self.default_tag is not None and self.default_tag not in tags:
            raise ValueError(f"default_tag {self.default_tag!r} is not one of the pretrained tags")
        return self

    # -- queries
    def weights_for(self, tag: str | None) -> PretrainedWeights | None:
        """The card for ``tag`` (the default tag when None); None when there is none."""
        tag = tag or self.default_tag
        return next((p for p in self.pretrained if p.tag == tag), None)

    def backend_installed(self, backend: str) -> bool:
        modules = [FRAMEWORK_MODULES.get(backend), *self.requires]
        return backend in self.backends and all(
            importlib.util.find_spec(m) is not None for m in modules if m
        )

    def default_backend(self) -> str:
        """The first installed backend in registration order."""
        for backend in self.backends:
            if self.backend_installed(backend):
                return backend
        first = next(iter(self.backends))
        raise BackendUnavailableError(self._missing(first))

    def build(self, config: DenoiserConfig, backend: str | None = None) -> Any:
        """Import the backend's target and build an (unweighted) Denoiser."""
        backend = backend or self.default_backend()
        if backend not in self.backends:
            known = ", ".join(self.backends)
            raise BackendUnavailableError(f"{self.name} has no backend {backend!r}; it has: {known}")
        if not self.backend_installed(backend):
            raise BackendUnavailableError(self._missing(backend))
        module, _, func = self.backends[backend].partition(":")
        return getattr(importlib.import_module(module), func)(config)

    def read_weights(self, path: Any, trust_pickle: bool = False) -> Any:
        """The plugin's ``weights_reader`` applied to ``path`` (only for architectures that declare one)."""
        if self.weights_reader is None:
            raise ValueError(f"{self.name} declares no weights_reader")
        module, _, func = self.weights_reader.partition(":")
        return getattr(importlib.import_module(module), func)(path, trust_pickle=trust_pickle)

    def _missing(self, backend: str) -> str:
        framework = FRAMEWORK_MODULES.get(backend)
        absent = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if absent and (framework is None or importlib.util.find_spec(framework) is not None):
            hint = self.install or " ".join(absent)  # the framework is there: name what is not
        else:
            hint = INSTALL_HINTS.get(backend) or self.install or " ".join(self.requires) or backend
        return f"backend {backend!r} of {self.name} is not installed: pip install '{hint}'"
