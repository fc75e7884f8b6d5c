"""The tutorial's code is the fixture plugin's code, so the tutorial cannot rot."""

import re

from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "zoo-gaussian"


def test_contributing_shows_the_fixture_plugin_verbatim():
    blocks = re.findall(r"```(?:python|toml)\n(.*?)```", (ROOT / "CONTRIBUTING.md").read_text(), re.S)
    for path in ("pyproject.toml", "zoo_gaussian/__init__.py", "zoo_gaussian/backend.py"):
        assert (FIXTURE / path).read_text() in blocks, f"CONTRIBUTING.md lost {path}"
