"""The `zoo` command line: thin commands that parse options and call the API and the mechanisms.

One module per command group (models, denoise, hub, convert, train, bench), ``console`` for output
and errors, ``app`` to put them together. ``zoo.cli:run`` is the console script.
"""

from zoo.cli.app import app, run

__all__ = ["app", "run"]
