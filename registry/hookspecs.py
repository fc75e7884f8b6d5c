"""Plugin hooks. Plugins call ``register(...)``; the manager validates and stamps each entry."""

import pluggy

hookspec = pluggy.HookspecMarker("denoise_zoo")
hookimpl = pluggy.HookimplMarker("denoise_zoo")


@hookspec
def register_architectures(register):
    """Register architectures: call register(Architecture(...)) once per architecture."""


@hookspec
def register_commands(cli):
    """Add commands to the `zoo` typer app."""
