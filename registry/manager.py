"""Plugin manager: entry-point discovery with per-plugin fault isolation, and lookup by name.

A plugin that fails to import, raises in its hook (``SystemExit`` and ``KeyboardInterrupt``
included), registers something invalid or a name already taken, or does not finish within
``ZOO_PLUGIN_TIMEOUT`` seconds (default 10; 0 waits forever) is rolled back as a whole, reported
with one line on stderr and listed by ``zoo plugins``. Built-in plugins (the entry points of the
denoise-zoo distribution) load first, so their names cannot be taken over; between third-party
plugins the first in name order keeps a name. Whatever plugins print while they load goes to
stderr, so machine-readable output stays valid. ``ZOO_STRICT_PLUGINS=1`` makes any failure fatal
(for plugin authors); ``ZOO_PLUGINS=a,b`` loads only the named entry points.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable, Iterable, Iterator

import pluggy

from registry import hookspecs
from registry.errors import PluginLoadError, UnknownModelError
from registry.spec import Architecture

ENTRY_POINT_GROUP = "denoise_zoo"
BUILTIN_DISTRIBUTION = "denoise-zoo"
DEFAULT_TIMEOUT = 10.0
_FAILURE_ATTR = "zoo_plugin_failure"  # set on an exception re-raised in strict mode: its one line


@dataclass(frozen=True)
class PluginInfo:
    """A plugin as `zoo plugins` shows it."""

    name: str
    source: str
    architectures: tuple[str, ...] = ()
    error: str | None = None
    builtin: bool = False


class _TimedOut(Exception):
    """Plugin code still running at its time limit."""


class _Raised(Exception):
    """Carries what plugin code raised in its thread to the waiting one."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(exc)
        self.exc = exc


@dataclass
class Registry:
    """Loaded architectures, their plugins and the plugins that failed."""

    pm: pluggy.PluginManager = field(default_factory=lambda: _new_pm())
    architectures: dict[str, Architecture] = field(default_factory=dict)
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    warn: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr))
    timeout: float | None = None  # seconds per plugin; None reads ZOO_PLUGIN_TIMEOUT

    # -- loading
    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every plugin declared in the entry-point group (filtered by ZOO_PLUGINS):
        the built-ins first, then the others, each in name order."""
        wanted = _wanted_plugins()
        found = [ep for ep in entry_points(group=group) if wanted is None or ep.name in wanted]
        found.sort(key=lambda ep: (not _is_builtin(ep), ep.name, _dist_name(ep)))
        with self._plugin_code():
            for ep in found:
                builtin = _is_builtin(ep)
                where = " (built-in)" if builtin else f" of {_dist_name(ep) or 'an unnamed distribution'}"
                self._guarded(ep.name, f"entry point {ep.value}{where}", ep.load, builtin,
                              origin=_dist_name(ep) or ep.value)

    def register_plugin(self, plugin: Any, name: str, source: str = "in-process") -> None:
        """Register an already imported plugin object (module or instance), with fault isolation."""
        with self._plugin_code():
            self._guarded(name, source, lambda: plugin)

    def _guarded(self, name: str, source: str, load: Callable[[], Any], builtin: bool = False,
                 origin: str | None = None) -> None:
        if name in self.plugins:
            first = self.plugins[name]
            kind = "built-in" if first.builtin else first.source
            exc = PluginLoadError(f"a plugin named {name!r} is already loaded ({kind}), which is kept")
            # recorded under its own key, so the plugin that keeps the name is still listed as loaded
            return self._fail(name, source, exc, key=f"{name}@{origin or source}", say_source=True)
        try:
            plugin, archs = self._limited(lambda: self._load_and_collect(name, load), self._timeout(), name)
            self._check_unique(archs)
            self.pm.register(plugin, name=name)
        except _TimedOut:
            return self._fail(name, source, PluginLoadError(
                f"did not finish loading within {self._timeout():g} s"))
        except _Raised as raised:  # by the plugin's code, SystemExit and KeyboardInterrupt included
            return self._fail(name, source, raised.exc)
        except (Exception, SystemExit) as exc:  # a name clash, or pluggy refusing the plugin
            return self._fail(name, source, exc)
        self.architectures.update({a.name: a for a in archs})
        self.plugins[name] = PluginInfo(name, source, tuple(a.name for a in archs), builtin=builtin)

    def _load_and_collect(self, name: str, load: Callable[[], Any]) -> tuple[Any, list[Architecture]]:
        """Import one plugin and run its register_architectures hook, on a manager of its own (so
        a plugin given up on can never touch the shared one)."""
        plugin = load()
        own = _new_pm()
        own.register(plugin, name=name)
        found: list[Architecture] = []

        def register(arch: Architecture) -> None:
            if not isinstance(arch, Architecture):
                raise PluginLoadError(f"registered {type(arch).__name__}, not an Architecture")
            names = {n for a in found for n in (a.name, *a.aliases)}
            for n in (arch.name, *arch.aliases):
                if n in names:
                    raise PluginLoadError(f"name {n!r} is registered twice by this plugin")
            found.append(arch.model_copy(update={"plugin": name}))

        own.hook.register_architectures(register=register)
        return plugin, found

    def _check_unique(self, archs: list[Architecture]) -> None:
        taken = {n: a.plugin for a in self.architectures.values() for n in (a.name, *a.aliases)}
        for arch in archs:
            for n in (arch.name, *arch.aliases):
                if n in taken:
                    owner = self.plugins.get(taken[n])
                    kind = "built-in" if owner is not None and owner.builtin else "loaded first"
                    raise PluginLoadError(f"name {n!r} is already registered by {taken[n]} ({kind}), "
                                          "which keeps it")

    def _fail(self, name: str, source: str, exc: BaseException, key: str | None = None,
              say_source: bool = False) -> None:
        reason = _one_line(exc)
        who = f"plugin {name!r}" + (f" ({source})" if say_source else "")
        if _strict():
            _raise_strict(exc, f"{who} failed (ZOO_STRICT_PLUGINS=1): {reason}")
        self.plugins[key or name] = PluginInfo(key or name, source, error=reason)
        self.warn(f"warning: {who} skipped: {reason}")

    def _timeout(self) -> float | None:
        """Seconds one plugin may take, None for no limit."""
        if self.timeout is None:
            value = os.environ.get("ZOO_PLUGIN_TIMEOUT", "").strip()
            try:
                self.timeout = float(value) if value else DEFAULT_TIMEOUT
            except ValueError:
                self.warn(f"warning: ZOO_PLUGIN_TIMEOUT={value!r} is not a number of seconds; "
                          f"using {DEFAULT_TIMEOUT:g}")
                self.timeout = DEFAULT_TIMEOUT
        return self.timeout if self.timeout > 0 else None

    @staticmethod
    def _limited(work: Callable[[], Any], limit: float | None, name: str) -> Any:
        """Run plugin code in a daemon thread and wait for it at most ``limit`` seconds; one that
        is still running then is abandoned (it cannot keep the process alive) and _TimedOut raised.

        The rule for SystemExit and KeyboardInterrupt: anything raised in that thread is plugin
        code's own doing (Python runs signal handlers in the main thread only), so it comes back
        wrapped in _Raised and is a plugin failure like any other. A real Ctrl-C is raised here,
        in the waiting thread, unwrapped, and interrupts as usual (short joins keep it prompt)."""
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = work()
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                box["error"] = exc
            finally:
                with _abandon_lock:
                    box["done"] = True
                    _abandoned.discard(threading.get_ident())

        thread = threading.Thread(target=run, name=f"zoo-plugin-{name}", daemon=True)
        thread.start()
        deadline = None if limit is None else time.monotonic() + limit
        while thread.is_alive():
            left = 0.1 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                with _abandon_lock:
                    if not box.get("done"):
                        _abandoned.add(thread.ident or 0)
                        raise _TimedOut()
                break
            thread.join(min(left, 0.1))
        if "error" in box:
            raise _Raised(box["error"])
        return box["value"]

    @contextlib.contextmanager
    def _plugin_code(self) -> Iterator[None]:
        """Plugins' prints go to stderr while they load; afterwards, those of abandoned plugin
        threads still do."""
        with contextlib.redirect_stdout(sys.stderr):
            yield
        if _abandoned and sys.stdout is not None and not isinstance(sys.stdout, _PluginSafeStdout):
            sys.stdout = _PluginSafeStdout(sys.stdout)

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
        """Let each loaded plugin add CLI commands, isolating failures (and hangs) per plugin."""
        with self._plugin_code():
            for name, plugin in list(self.pm.list_name_plugin()):
                others = [p for p in self.pm.get_plugins() if p is not plugin]
                caller = self.pm.subset_hook_caller("register_commands", remove_plugins=others)
                try:
                    self._limited(lambda c=caller: c(cli=cli), self._timeout(), name)
                except _TimedOut:
                    limit = self._timeout()
                    self._commands_failed(name, f"did not finish registering commands within {limit:g} s")
                except _Raised as raised:
                    self._commands_failed(name, _one_line(raised.exc), raised.exc)

    def _commands_failed(self, name: str, reason: str, exc: BaseException | None = None) -> None:
        if _strict():
            _raise_strict(exc or PluginLoadError(reason), f"plugin {name!r} commands failed "
                          f"(ZOO_STRICT_PLUGINS=1): {reason}")
        self.warn(f"warning: plugin {name!r} commands skipped: {reason}")


class _PluginSafeStdout:
    """``sys.stdout`` once a plugin thread has been abandoned: that thread's late prints go to
    stderr, everyone else's to the real stdout."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def write(self, text: str) -> int:
        return (sys.stderr if threading.get_ident() in _abandoned else self._real).write(text)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._real, attr)


_abandoned: set[int] = set()  # idents of plugin threads still running past their time limit
_abandon_lock = threading.Lock()


def plugin_failure(exc: BaseException) -> str | None:
    """The one-line report of a plugin failure re-raised in strict mode, else None."""
    return getattr(exc, _FAILURE_ATTR, None)


def _raise_strict(exc: BaseException, line: str) -> None:
    """Strict mode: re-raise an ordinary exception as it is (its traceback helps the plugin's
    author), marked with its one line for the CLI; SystemExit, KeyboardInterrupt and time-outs
    become a PluginLoadError, so they cannot pass for an exit or a Ctrl-C."""
    if isinstance(exc, Exception):
        try:
            setattr(exc, _FAILURE_ATTR, line)
        except (AttributeError, TypeError):  # an exception type without a __dict__: wrap it below
            pass
        else:
            raise exc
    error = PluginLoadError(line)
    setattr(error, _FAILURE_ATTR, line)
    raise error from exc


def _new_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("denoise_zoo")
    pm.add_hookspecs(hookspecs)
    return pm


def _strict() -> bool:
    return os.environ.get("ZOO_STRICT_PLUGINS") == "1"


def _dist_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) or ""
    return re.sub(r"[-_.]+", "-", name).lower()


def _is_builtin(ep: EntryPoint) -> bool:
    return _dist_name(ep) == BUILTIN_DISTRIBUTION


def _wanted_plugins() -> set[str] | None:
    value = os.environ.get("ZOO_PLUGINS")
    return None if value is None else {p.strip() for p in value.split(",") if p.strip()}


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit: the plugin called sys.exit({'' if exc.code is None else repr(exc.code)})"
    if isinstance(exc, KeyboardInterrupt):
        return "KeyboardInterrupt: raised by the plugin itself"
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if type(exc).__name__ == "ValidationError" and len(text) > 2:  # pydantic: say which field
        first = f"{first}: {text[1].strip()}: {text[2].strip()}"
    if isinstance(exc, PluginLoadError) and first:  # the zoo's own words about the plugin
        return first
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
