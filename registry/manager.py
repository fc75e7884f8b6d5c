"""Plugin manager: entry-point discovery with per-plugin fault isolation, and lookup by name.

A plugin that fails to import, raises in its hook, or registers something invalid or a duplicate
name is rolled back as a whole, reported with one line on stderr and listed by ``zoo plugins``.
``ZOO_STRICT_PLUGINS=1`` re-raises instead (for plugin authors); ``ZOO_PLUGINS=a,b`` loads only
the named entry points.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable

import pluggy

from registry import hookspecs
from registry.errors import PluginLoadError, UnknownModelError
from registry.spec import Architecture

ENTRY_POINT_GROUP = "denoise_zoo"


@dataclass(frozen=True)
class PluginInfo:
    """A plugin as `zoo plugins` shows it."""

    name: str
    source: str
    architectures: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class Registry:
    """Loaded architectures, their plugins and the plugins that failed."""

    pm: pluggy.PluginManager = field(default_factory=lambda: _new_pm())
    architectures: dict[str, Architecture] = field(default_factory=dict)
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    warn: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr))

    # -- loading
    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every plugin declared in the entry-point group (filtered by ZOO_PLUGINS)."""
        wanted = _wanted_plugins()
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            if wanted is None or ep.name in wanted:
                self._guarded(ep.name, f"entry point {ep.value}", ep.load)

    def register_plugin(self, plugin: Any, name: str, source: str = "in-process") -> None:
        """Register an already imported plugin object (module or instance), with fault isolation."""
        self._guarded(name, source, lambda: plugin)

    def _guarded(self, name: str, source: str, load: Callable[[], Any]) -> None:
        if name in self.plugins:
            return self._fail(name, source, PluginLoadError(f"a plugin named {name!r} is already loaded"))
        try:
            plugin = load()
            self.pm.register(plugin, name=name)
        except Exception as exc:  # a broken plugin must never break the zoo
            return self._fail(name, source, exc)
        try:
            archs = self._collect(name, plugin)
        except Exception as exc:
            self.pm.unregister(plugin)
            return self._fail(name, source, exc)
        self.architectures.update({a.name: a for a in archs})
        self.plugins[name] = PluginInfo(name, source, tuple(a.name for a in archs))

    def _collect(self, name: str, plugin: Any) -> list[Architecture]:
        """Run one plugin's register_architectures hook and validate what it registers."""
        found: list[Architecture] = []

        def register(arch: Architecture) -> None:
            if not isinstance(arch, Architecture):
                raise PluginLoadError(f"registered {type(arch).__name__}, not an Architecture")
            self._check_unique(arch, found)
            found.append(arch.model_copy(update={"plugin": name}))

        others = [p for p in self.pm.get_plugins() if p is not plugin]
        self.pm.subset_hook_caller("register_architectures", remove_plugins=others)(register=register)
        return found

    def _check_unique(self, arch: Architecture, found: list[Architecture]) -> None:
        taken = {n: a.plugin or "this plugin" for a in [*self.architectures.values(), *found]
                 for n in (a.name, *a.aliases)}
        for n in (arch.name, *arch.aliases):
            if n in taken:
                raise PluginLoadError(f"name {n!r} is already registered by {taken[n]}")

    def _fail(self, name: str, source: str, exc: Exception) -> None:
        if os.environ.get("ZOO_STRICT_PLUGINS") == "1":
            raise exc
        reason = _one_line(exc)
        self.plugins[name] = PluginInfo(name, source, error=reason)
        self.warn(f"warning: plugin {name!r} skipped: {reason}")

    # -- lookup
    def get(self, name: str) -> Architecture:
        """Architecture by name or alias (case-insensitive), with a did-you-mean on failure."""
        key = name.strip().lower()
        for arch in self.architectures.values():
            if key == arch.name or key in arch.aliases:
                return arch
        names = [n for a in self.architectures.values() for n in (a.name, *a.aliases)]
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else "; run `zoo list` to see them"
        raise UnknownModelError(f"unknown model {name!r}{hint}")

    def failed(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.error]

    def call_register_commands(self, cli: Any) -> None:
        """Let each loaded plugin add CLI commands, isolating failures per plugin."""
        for name, plugin in list(self.pm.list_name_plugin()):
            others = [p for p in self.pm.get_plugins() if p is not plugin]
            try:
                self.pm.subset_hook_caller("register_commands", remove_plugins=others)(cli=cli)
            except Exception as exc:
                if os.environ.get("ZOO_STRICT_PLUGINS") == "1":
                    raise
                self.warn(f"warning: plugin {name!r} commands skipped: {_one_line(exc)}")


def _new_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("denoise_zoo")
    pm.add_hookspecs(hookspecs)
    return pm


def _wanted_plugins() -> set[str] | None:
    value = os.environ.get("ZOO_PLUGINS")
    return None if value is None else {p.strip() for p in value.split(",") if p.strip()}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if type(exc).__name__ == "ValidationError" and len(text) > 2:  # pydantic: say which field
        first = f"{first}: {text[1].strip()}: {text[2].strip()}"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


_default: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded from entry points on first use."""
    global _default
    if _default is None:
        _default = Registry()
        _default.load_entry_points()
    return _default


def reset_registry(registry: Registry | None = None) -> None:
    """Replace (or drop, to reload lazily) the process-wide registry; used by tests."""
    global _default
    _default = registry


def iter_architectures() -> Iterable[Architecture]:
    return get_registry().architectures.values()
