"""The zoo's one error hierarchy.

Every message is one line that says what went wrong and what to do; the CLI prints it and exits
non-zero without a traceback (``--debug`` shows it).
"""

from __future__ import annotations


class ZooError(Exception):
    """Base class: anything the zoo reports to a user as a one-line error."""


class UnknownModelError(ZooError):
    """No architecture, alias or pretrained tag of that name."""


class BackendUnavailableError(ZooError):
    """The architecture has no such backend, or its framework is not installed."""


class WeightsError(ZooError):
    """Weights could not be resolved, verified or loaded."""


class PluginLoadError(ZooError):
    """A plugin failed to import or registered something invalid."""


class ImageReadError(ZooError):
    """An input image is missing, unreadable, corrupt or of an unsupported kind."""


class ImageWriteError(ZooError):
    """An output image could not be written (exists, unwritable, same as the input...)."""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none), for reports
    that must stay one line per failure."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
