"""The configuration base every architecture's config derives from."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from registry.errors import ZooError


class DenoiserConfig(BaseModel):
    """Hyper-parameters of one architecture: frozen, strict, JSON round-trippable.

    Subclasses declare their fields with ``Field(description=...)`` and name their presets in
    ``presets`` (preset name -> field overrides); the seed's full size is the preset ``full``.
    Variants derive with ``model_copy(update=...)`` or :meth:`preset`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    default_preset: ClassVar[str | None] = None

    @classmethod
    def preset(cls, name: str | None = None, **overrides: Any) -> DenoiserConfig:
        """Build the named preset (the class's default when None), with overrides applied."""
        name = name or cls.default_preset
        if name is not None and name not in cls.presets:
            known = ", ".join(cls.presets) or "none"
            raise ZooError(f"unknown preset {name!r} for {cls.__name__}; known presets: {known}")
        fields = {**(cls.presets.get(name, {}) if name else {}), **overrides}
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise ZooError(f"invalid {cls.__name__}: {_first_error(exc)}") from exc

    def to_hub_dict(self, architecture: str) -> dict[str, Any]:
        """The Hub ``config.json`` body: the architecture's name plus every field."""
        return {"architecture": architecture, **self.model_dump(mode="json")}

    @classmethod
    def from_hub_dict(cls, data: dict[str, Any]) -> DenoiserConfig:
        """Inverse of :meth:`to_hub_dict`; the ``architecture`` key is checked by the caller."""
        fields = {k: v for k, v in data.items() if k != "architecture"}
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise ZooError(f"invalid config.json for {cls.__name__}: {_first_error(exc)}") from exc

    def to_json(self, architecture: str) -> str:
        return json.dumps(self.to_hub_dict(architecture), indent=2, sort_keys=True)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "config"
    return f"{where}: {err.get('msg', 'invalid value')}"
