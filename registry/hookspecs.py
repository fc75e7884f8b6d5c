"""Plugin hooks. Plugins call ``register(...)``; the manager validates and stamps each entry.

Each plugin's import and hooks run in a thread of their own, within ZOO_PLUGIN_TIMEOUT seconds
(default 10), with stdout sent to stderr; whatever they raise, ``SystemExit`` included, skips
that plugin only. A plugin must not take a built-in's name: the built-in keeps it.
"""

import pluggy

hookspec = pluggy.HookspecMarker("denoise_zoo")
hookimpl = pluggy.HookimplMarker("denoise_zoo")


@hookspec
def register_architectures(register):
    """Register architectures: call register(Architecture(...)) once per architecture."""


@hookspec
def register_commands(cli):
    """Add commands to the `zoo` typer app. Called only when the command line names a command
    that is not built in, so a plugin cannot replace a built-in command."""
