"""The config of a bridged network: which spandrel architecture, and its constructor's arguments."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from zoo import DenoiserConfig
from plugins.spandrel.arches import ANY, ARCHES, BY_ID, Bridged

_JSON = (str, int, float, bool, type(None))
DEFAULT_RECEPTIVE_FIELD = 64  # for networks outside the table: generous, as seams cost more than overlap


class SpandrelConfig(DenoiserConfig):
    """A network spandrel knows. Loaded weights set both fields from what spandrel detects in them
    (so `zoo export` writes the network the weights are for); the ``tiny`` preset is the small
    random-weight network the conformance kit builds."""

    only: ClassVar[str | None] = None  # the one spandrel architecture a named model accepts

    # -- network
    network: str = Field("DnCNN", description="spandrel's architecture id (SCUNet, NAFNet, DRUNet, ...).")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments of spandrel's network class, as its `hyperparameters` record them; "
        "empty means the class defaults.",
    )

    @field_validator("params")
    @classmethod
    def _plain(cls, v: dict[str, Any]) -> dict[str, Any]:
        """JSON values only, tuples as lists, so the config survives config.json unchanged."""
        return {k: _plain(x, k) for k, x in v.items()}

    @model_validator(mode="after")
    def _network(self) -> SpandrelConfig:
        if self.only is not None and self.network != self.only:
            raise ValueError(f"network must be {self.only!r} for this model, got {self.network!r}")
        if not self.network:
            raise ValueError("network must name a spandrel architecture")
        return self

    @property
    def bridged(self) -> Bridged | None:
        """The zoo's entry for the network; None for one only ``spandrel`` takes (a 1x ESRGAN, say)."""
        return BY_ID.get(self.network)

    @property
    def receptive_field(self) -> int:
        return self.bridged.receptive_field if self.bridged else DEFAULT_RECEPTIVE_FIELD


def _plain(value: Any, key: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v, key) for v in value]
    if not isinstance(value, _JSON):
        raise ValueError(f"params[{key!r}] is a {type(value).__name__}, not a JSON value")
    return value


def config_class(bridged: Bridged | None) -> type[SpandrelConfig]:
    """The config of one named architecture (its network fixed, its tiny preset the default), or of
    ``spandrel`` itself (any network; the default a tiny DnCNN) when ``bridged`` is None."""
    source = bridged or next(a for a in ARCHES if a.arch_id == "DnCNN")
    name = f"{source.arch_id}Config" if bridged else "AnySpandrelConfig"
    doc = f"{source.arch_id} through spandrel." if bridged else "Any denoising network spandrel recognises."
    namespace = {
        "__doc__": doc,
        "__module__": __name__,
        "__annotations__": {"network": str},
        "only": bridged.arch_id if bridged else None,
        "presets": {"tiny": {"network": source.arch_id, "params": source.tiny}},
        "default_preset": "tiny",
        "network": Field(source.arch_id, description=f"spandrel's architecture id ({'fixed' if bridged else 'any'})."),
    }
    return type(name, (SpandrelConfig,), namespace)


CONFIGS: dict[str, type[SpandrelConfig]] = {a.name: config_class(a) for a in ARCHES}
CONFIGS[ANY] = config_class(None)
