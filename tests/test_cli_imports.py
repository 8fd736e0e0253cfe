"""The CLI's quick commands stay quick: `attuned list`, `next` and `check` must not import
APScheduler, dbus-fast, asyncio or the daemon's modules (issue 2, "CLI speed"; together
they cost about 150 ms and 15 MiB a run; bench/cli_bench.py has the wall times).

Each command runs in a fresh interpreter (a subprocess, so no module imported by another
test can hide or fake anything), through click with standalone_mode=False, and then the
interpreter writes sorted(sys.modules) to a file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"

# What the daemon needs and the quick commands must never pay for.
FORBIDDEN = (
    "apscheduler",
    "dbus_fast",
    "asyncio",
    "plyer",
    "attuned.daemon.lifecycle",
    "attuned.daemon.scheduler",
    "attuned.app.service",
    "attuned.notify",
    "attuned.daemon.sleepwatch",
    "attuned.daemon.clockwatch",
    "attuned.daemon.filewatch",
)

# Runs one CLI command, then records every module the interpreter has imported.
WRAPPER = """
import json, sys
out, args = sys.argv[1], sys.argv[2:]
from attuned.cli.root import cli
code = 0
try:
    cli.main(args=args, prog_name="attuned", standalone_mode=False)
except SystemExit as e:
    code = e.code
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def modules_after(tmp_path: Path, *args: str, code: str = WRAPPER) -> tuple[str, list[str]]:
    """stdout of the command, and the modules imported by the end of it."""
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out), *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["code"] in (0, None), proc.stderr
    return proc.stdout, result["modules"]


def imported(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    shutil.copyfile(EXAMPLE, path)
    return path


@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (["list"], "breakfast"),
        (["next", "--count", "10"], "look-up"),  # random evenings: always in the next 10
        (["check"], "ok, 8 practices (4 enabled)"),
    ],
    ids=["list", "next", "check"],
)
def test_quick_commands_do_not_import_the_daemon(tmp_path: Path, config: Path,
                                                 args: list[str], shows: str) -> None:
    stdout, modules = modules_after(tmp_path, "--config", str(config), *args)
    assert shows in stdout
    # The list is the real one, taken after the command ran through the CLI.
    assert "attuned.cli" in modules and "click" in modules
    assert [name for name in FORBIDDEN if imported(modules, name)] == []


def test_check_of_a_file_argument_does_not_import_the_daemon(tmp_path: Path,
                                                             config: Path) -> None:
    stdout, modules = modules_after(tmp_path, "check", str(config))
    assert "ok, 8 practices (4 enabled)" in stdout
    assert [name for name in FORBIDDEN if imported(modules, name)] == []


def test_the_check_would_see_the_daemon_if_it_were_imported(tmp_path: Path,
                                                           config: Path) -> None:
    # The same wrapper with the daemon imported first: the names above are the ones that
    # show up in sys.modules, so the tests above can fail.
    code = "import attuned.daemon.lifecycle\n" + WRAPPER
    _, modules = modules_after(tmp_path, "--config", str(config), "list", code=code)
    assert imported(modules, "attuned.daemon.lifecycle")
    assert imported(modules, "asyncio")


@pytest.mark.parametrize("args", [["history"], ["stats", "--week"]], ids=["history", "stats"])
def test_reading_the_history_does_not_load_the_event_loop(tmp_path: Path, config: Path,
                                                          args: list[str]) -> None:
    # These go through attuned.app.service (the one core), but need no event loop, scheduler
    # or bus: asyncio alone costs about 20 ms a run.
    _, modules = modules_after(tmp_path, "--config", str(config), *args)
    assert "attuned.app.service" in modules
    assert [name for name in ("asyncio", "apscheduler", "dbus_fast")
            if imported(modules, name)] == []


@pytest.mark.parametrize("args", [["list"], ["next"], ["check"]], ids=["list", "next", "check"])
def test_a_schedule_command_imports_no_other_commands_module(tmp_path: Path, config: Path,
                                                             args: list[str]) -> None:
    # The root group names every command without importing its module.
    _, modules = modules_after(tmp_path, "--config", str(config), *args)
    assert "attuned.cli.schedule" in modules
    others = ("answers", "daemon", "history", "manual", "phone", "practising", "service")
    assert [m for m in others if imported(modules, f"attuned.cli.{m}")] == []
