"""`zoo list` and `zoo info` as a person reads them in an 80-column terminal."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import run_zoo

SNAPSHOT = Path(__file__).parent / "snapshots" / "zoo_list_80.txt"
COLUMNS = {"COLUMNS": "80", "LINES": "50", "TERM": "dumb"}


def test_zoo_list_at_80_columns_matches_its_snapshot():
    """Regenerate with `COLUMNS=80 python -m zoo list > tests/snapshots/zoo_list_80.txt` when the
    tags change; every tag must be whole, the default marked, nothing wider than 80."""
    shown = run_zoo("list", env=COLUMNS).stdout
    if os.environ.get("ZOO_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(shown)
    assert shown == SNAPSHOT.read_text()
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert " camera_incamera_urban_medium * " in shown and "mwrcanet.came" not in shown


def test_zoo_info_is_short_by_default_and_full_on_request():
    short = run_zoo("info", "mwrcanet", env=COLUMNS).stdout
    full = run_zoo("info", "mwrcanet", "--full", env=COLUMNS).stdout
    assert len(short.splitlines()) < 40 and "zoo train" not in short and "polyu 38.31" in short
    assert "zoo train" in full and "attention_pooling" in full and len(full.splitlines()) > len(short.splitlines())
    assert "/work/" not in full  # cards carry no machine's absolute paths
