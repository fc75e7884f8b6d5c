"""`zoo denoise` in a real terminal: a pseudo-terminal carries stdout and stderr, and pyte (a
terminal emulator) renders what a person would see when the batch is over."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import save_rgb

pyte = pytest.importorskip("pyte")


def run_in_terminal(args: list[str], columns: int = 220, rows: int = 60, timeout: float = 180) -> str:
    """Run ``python -m zoo ARGS`` on a pty of that size; the screen's text at the end."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": str(rows), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "zoo", *args], stdin=follower, stdout=follower,
                            stderr=follower, env=env, close_fds=True)
    os.close(follower)
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            stream.feed(data.replace(b"\n", b"\r\n") if b"\r\n" not in data else data)
        elif proc.poll() is not None:
            break
    proc.wait(30)
    os.close(leader)
    return "\n".join(line.rstrip() for line in screen.display).strip()


def test_a_batch_in_a_terminal_leaves_whole_lines_and_no_stale_bars(tmp_path):
    shots, out = tmp_path / "shots", tmp_path / "o"
    shots.mkdir()
    for i in range(4):
        save_rgb(shots / f"photo_number_{i}.png", np.random.default_rng(i).random((200, 260, 3)))
    shown = run_in_terminal(["denoise", "--model", "mwrcanet:awgn_small", "--tile", "64", "--out-dir", str(out),
                             str(shots)])
    lines = shown.splitlines()
    for i in range(4):
        target = out / f"photo_number_{i}_denoised-mwrcanet-awgn_small.png"
        assert target.is_file()
        assert sum(line.strip() == f"wrote {target}" for line in lines) == 1, shown  # whole, once
    assert not [ln for ln in lines if "tiles of" in ln or " MP " in ln], shown  # the live bars were cleared
    assert lines[-1].startswith("4 of 4 images denoised, 0 failed"), shown
