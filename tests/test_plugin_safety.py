"""Plugins that misbehave on purpose: taking a built-in's name, calling sys.exit(), hanging,
printing to stdout. Each is installed through a real entry point on a dist-info path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import typer

from registry import manager
from tests.conftest import run_zoo, sigint_default, write_plugin_dist


def arch_plugin(name: str, body: str = "", head: str = "") -> str:
    """A plugin module registering architecture ``name``; ``body`` runs in the hook first."""
    return f"""
import sys, time
from zoo import Architecture, DenoiserConfig, hookimpl
{head}
class C(DenoiserConfig):
    pass

@hookimpl
def register_architectures(register):
    {body or 'pass'}
    register(Architecture(name={name!r}, config=C, backends={{"numpy": "x:build"}}))
"""


EVIL_DUP = arch_plugin("mwrcanet")
QUITS_ON_IMPORT = "import sys\nsys.exit(0)\n"
SLEEPS_ON_IMPORT = """
import os, time
if os.environ.get("SLEEPER_MARK"):
    open(os.environ["SLEEPER_MARK"], "w").close()
time.sleep(60)
"""
PRINTS = arch_plugin("printed", body="print('printed in the hook')", head="print('printed at import')") + """
@hookimpl
def register_commands(cli):
    print('printed in register_commands')
"""
HELLO = """
from zoo import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command()
    def hello(name: str = "zoo"):
        \"\"\"Say hello.\"\"\"
        print(f"hello {name}")
"""
HANGS_IN_COMMANDS = """
import time
from zoo import hookimpl

@hookimpl
def register_commands(cli):
    time.sleep(60)
"""


def install(root, entry: str, source: str, dist: str | None = None, module: str | None = None) -> None:
    module = module or entry
    write_plugin_dist(root, dist or entry, {entry: module}, {module: source})


def load(warnings: list[str]) -> manager.Registry:
    """Load from entry points; anything escaping (SystemExit, KeyboardInterrupt) fails the test
    instead of ending pytest."""
    reg = manager.Registry(warn=warnings.append)
    try:
        reg.load_entry_points()
    except BaseException as exc:  # noqa: BLE001 - the point is that nothing escapes
        pytest.fail(f"plugin loading let {type(exc).__name__} escape: {exc!r}")
    return reg


def one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert fragment in lines[0] and "Traceback" not in proc.stderr


# -- 1. a plugin cannot take over a built-in, and the warning names the intruder

def test_builtin_keeps_its_name_and_the_intruder_is_named(plugin_dir):
    install(plugin_dir, "evil_dup", EVIL_DUP)
    warnings: list[str] = []
    reg = load(warnings)
    assert reg.get("mwrcanet").plugin == "mwrcanet"
    assert reg.plugins["mwrcanet"].error is None
    assert "already registered by mwrcanet (built-in)" in reg.plugins["evil_dup"].error
    assert len(warnings) == 1, warnings
    assert "'evil_dup'" in warnings[0] and "'mwrcanet'" in warnings[0] and "\n" not in warnings[0]


def test_an_entry_point_named_like_a_builtin_does_not_replace_it(plugin_dir):
    install(plugin_dir, "mwrcanet", arch_plugin("shadow"), dist="evil_dist", module="evil_mod")
    warnings: list[str] = []
    reg = load(warnings)
    assert reg.plugins["mwrcanet"].error is None and reg.get("mwrcanet").plugin == "mwrcanet"
    assert "shadow" not in reg.architectures
    assert len(warnings) == 1 and "evil_mod" in warnings[0] and "evil-dist" in warnings[0], warnings
    assert any(p.error and "evil_mod" in p.source for p in reg.plugins.values())


def test_clash_between_third_party_plugins_keeps_the_first(plugin_dir):
    install(plugin_dir, "aaa_first", arch_plugin("twin"))
    install(plugin_dir, "bbb_second", arch_plugin("twin"))
    warnings: list[str] = []
    reg = load(warnings)
    assert reg.get("twin").plugin == "aaa_first"
    assert len(warnings) == 1 and "'bbb_second'" in warnings[0] and "'twin'" in warnings[0], warnings


def test_cli_lists_the_real_builtin(plugin_dir):
    install(plugin_dir, "evil_dup", EVIL_DUP)
    listed = run_zoo("list", "--json", timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert {m["name"]: m["plugin"] for m in json.loads(listed.stdout)}["mwrcanet"] == "mwrcanet"
    assert "plugin 'evil_dup' skipped" in listed.stderr and "'mwrcanet'" in listed.stderr


# -- 3. sys.exit() and KeyboardInterrupt from plugin code are plugin failures

@pytest.mark.parametrize("entry, source, reason", [
    ("quits_on_import", QUITS_ON_IMPORT, "SystemExit"),
    ("quits_in_hook", arch_plugin("quitter", body="sys.exit(3)"), "SystemExit"),
    ("interrupts_in_hook", arch_plugin("quitter", body="raise KeyboardInterrupt"), "KeyboardInterrupt"),
])
def test_exit_and_interrupt_from_a_plugin_are_failures(plugin_dir, entry, source, reason):
    install(plugin_dir, entry, source)
    warnings: list[str] = []
    reg = load(warnings)
    assert reason in reg.plugins[entry].error
    assert len(warnings) == 1 and entry in warnings[0]
    assert "quitter" not in reg.architectures and reg.get("cbm3d").plugin == "classical"


def test_cli_survives_a_plugin_calling_sys_exit(plugin_dir):
    install(plugin_dir, "quitter", QUITS_ON_IMPORT)
    listed = run_zoo("list", "--json", timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "cbm3d" in {m["name"] for m in json.loads(listed.stdout)}
    assert listed.stderr.count("warning: plugin 'quitter' skipped: SystemExit") == 1, listed.stderr
    plugins = {p["name"]: p for p in json.loads(run_zoo("plugins", "--json", timeout=60).stdout)}
    assert not plugins["quitter"]["loaded"] and "SystemExit" in plugins["quitter"]["error"]


@pytest.mark.parametrize("source, fragment", [
    (QUITS_ON_IMPORT, "SystemExit"), ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
])
def test_strict_mode_failures_are_one_line_errors(plugin_dir, source, fragment):
    install(plugin_dir, "quitter", source)
    one_line_error(run_zoo("list", "--json", env={"ZOO_STRICT_PLUGINS": "1"}, timeout=60), fragment)


def test_a_real_ctrl_c_while_loading_still_interrupts(plugin_dir, tmp_path):
    install(plugin_dir, "sleeper", SLEEPS_ON_IMPORT)
    mark = tmp_path / "loading"
    env = {**os.environ, "SLEEPER_MARK": str(mark), "ZOO_PLUGIN_TIMEOUT": "30"}
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "list", "--json"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=sigint_default)
    try:
        deadline = time.monotonic() + 30
        while not mark.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert mark.exists(), "the sleeping plugin never started loading"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and out == ""


# -- 5. a hung plugin neither blocks help nor hangs a command; 9. plugin prints stay off stdout

@pytest.fixture
def unruly(plugin_dir):
    install(plugin_dir, "printer", PRINTS)
    install(plugin_dir, "sleeper", SLEEPS_ON_IMPORT)
    return plugin_dir


@pytest.mark.parametrize("args", [["--help"], ["list", "--help"], ["bench", "--help"], ["--version"], []])
def test_help_and_version_do_not_wait_for_plugins(unruly, args):
    start = time.monotonic()
    proc = run_zoo(*args, timeout=30)
    assert time.monotonic() - start < 5, "help waited for the sleeping plugin"
    assert ("zoo " if args == ["--version"] else "Usage") in proc.stdout + proc.stderr, proc.stderr  # bare `zoo`: help on stderr
    assert "printed" not in proc.stdout + proc.stderr  # no plugin code ran at all


def test_list_json_stays_valid_with_printing_and_hanging_plugins(unruly):
    start = time.monotonic()
    listed = run_zoo("list", "--json", env={"ZOO_PLUGIN_TIMEOUT": "1"}, timeout=40)
    assert time.monotonic() - start < 30
    assert listed.returncode == 0, listed.stderr
    assert {"cbm3d", "printed"} <= {m["name"] for m in json.loads(listed.stdout)}
    assert "printed at import" in listed.stderr and "printed in the hook" in listed.stderr
    assert "plugin 'sleeper' skipped: did not finish loading within 1 s" in listed.stderr
    plugins = {p["name"]: p for p in json.loads(run_zoo("plugins", "--json", env={"ZOO_PLUGIN_TIMEOUT": "1"},
                                                        timeout=40).stdout)}
    assert not plugins["sleeper"]["loaded"] and "within 1 s" in plugins["sleeper"]["error"]


def test_plugin_commands_work_past_a_plugin_hanging_in_register_commands(plugin_dir):
    install(plugin_dir, "hello", HELLO)
    install(plugin_dir, "hangs_in_commands", HANGS_IN_COMMANDS)
    env = {"ZOO_PLUGIN_TIMEOUT": "1"}
    ran = run_zoo("hello", "--name", "you", env=env, timeout=40)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "hello you"
    assert "plugin 'hangs_in_commands' commands skipped: did not finish" in ran.stderr
    shown = run_zoo("hello", "--help", env=env, timeout=40)
    assert shown.returncode == 0 and "--name" in shown.stdout, shown.stderr


def test_a_hook_past_the_time_limit_fails_and_its_late_prints_stay_off_stdout(plugin_dir, monkeypatch, capsys):
    late = arch_plugin("late", body="time.sleep(0.6); print('late garbage'); open(MARK, 'w').close()",
                       head=f"MARK = {str(plugin_dir / 'done')!r}")
    install(plugin_dir, "late", late)
    monkeypatch.setenv("ZOO_PLUGIN_TIMEOUT", "0.2")
    warnings: list[str] = []
    reg = load(warnings)
    assert reg.plugins["late"].error == "did not finish loading within 0.2 s"
    assert "late" not in reg.architectures and reg.get("cbm3d").plugin == "classical"
    deadline = time.monotonic() + 10
    while not (plugin_dir / "done").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    captured = capsys.readouterr()
    assert "late garbage" not in captured.out and "late garbage" in captured.err
    assert "late" not in reg.architectures  # a late registration is ignored


def test_prints_while_loading_and_registering_commands_go_to_stderr(plugin_dir, capsys):
    install(plugin_dir, "printer", PRINTS)
    reg = load([])
    reg.call_register_commands(typer.Typer())
    captured = capsys.readouterr()
    assert captured.out == ""
    for where in ("at import", "in the hook", "in register_commands"):
        assert f"printed {where}" in captured.err
