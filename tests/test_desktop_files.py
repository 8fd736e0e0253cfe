"""attuned's face on the desktop and its start without systemd, on real files: the shipped
desktop entry and the entries install writes pass desktop-file-validate (Debian's
desktop-file-utils); GLib's launcher (`gio launch`, as a desktop session starts an
autostart entry) runs the autostart entry's Exec= as meant, whatever the path; the icon
PNGs are what scripts/render-icons.sh makes of the SVG (rsvg-convert, Debian's
librsvg2-bin); install and uninstall honour XDG_DATA_HOME and touch nothing else."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from attuned import paths
from attuned.cli import service as cli_service
from attuned.cli.root import cli
from attuned.daemon import control, lock
from attuned.system import desktop
from attuned.system.install import install, uninstall
from attuned.system.runner import CommandResult

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "attuned" / "data" / "icons"


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["desktop-file-validate", str(path)], capture_output=True,
                          text=True, timeout=30, check=False)


def no_systemd(argv: object) -> CommandResult:
    return CommandResult(1, "", "Failed to connect to bus: No medium found\n")


def fake_attuned(directory: Path) -> Path:
    """An `attuned` that writes its arguments to args.txt beside it and a line to stdout
    (which the autostart entry sends to the log)."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "attuned"
    script.write_text('#!/bin/sh\nprintf \'%s\\n\' "$@" > "$(dirname "$0")/args.txt"\n'
                      "echo started\n")
    script.chmod(0o755)
    return script


def test_the_shipped_desktop_entry_is_valid_and_names_the_icon() -> None:
    shipped = ROOT / "attuned" / "data" / "attuned.desktop"
    result = validate(shipped)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    text = shipped.read_text()
    assert "\nIcon=attuned\n" in text and "\nName=attuned\n" in text
    assert desktop.entry_exec(text) == "attuned run"


# A path with a space, a quote, a dollar, a percent and a backslash: each is quoted
# differently by the Desktop Entry spec, the shell and the two together.
AWKWARD = "it's $HOME 100% \\ here"


@pytest.mark.parametrize("where", ["plain", AWKWARD])
def test_the_written_entries_are_valid_and_the_autostart_one_runs_as_meant(
        where: str, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = fake_attuned(isolated_dirs / where / "bin")
    state = isolated_dirs / f"state {where}"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    result = install(False, no_systemd, argv=[str(exe)], start=lambda argv: None)
    entry = isolated_dirs / "data" / "applications" / "attuned.desktop"
    for path in (result.path, entry):
        checked = validate(path)
        assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", ""), path
    # As the desktop session starts it: GLib parses Exec= by the spec and runs it.
    log = state / "attuned" / "attuned.log"
    assert result.log == log
    launched = subprocess.run(["gio", "launch", str(result.path)], capture_output=True,
                              text=True, timeout=30, check=False,
                              env={**os.environ, "DISPLAY": ""})
    assert launched.returncode == 0, launched.stderr
    args = exe.parent / "args.txt"
    deadline = time.monotonic() + 10
    while not (args.exists() and log.exists() and log.read_text()):
        assert time.monotonic() < deadline, "the autostart entry's command did not run"
        time.sleep(0.05)
    assert args.read_text() == "run\n"
    assert log.read_text() == "started\n"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_icon_pngs_are_the_svg_rendered_at_each_size() -> None:
    for n in desktop.ICON_SIZES:
        assert png_size(ICONS / f"attuned-{n}.png") == (n, n)
    # scripts/render-icons.sh --check renders the SVG afresh and compares.
    checked = subprocess.run([str(ROOT / "scripts" / "render-icons.sh"), "--check"],
                             capture_output=True, text=True, timeout=120, check=False)
    assert (checked.returncode, checked.stderr) == (0, "")


def test_install_honours_xdg_data_home_and_uninstall_removes_exactly_its_files(
        isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = fake_attuned(isolated_dirs / "bin")
    data = isolated_dirs / "elsewhere"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    apps = data / "applications"
    apps.mkdir(parents=True)
    (apps / "other.desktop").write_text("[Desktop Entry]\n")  # someone else's
    hicolor = data / "icons" / "hicolor"
    result = install(False, no_systemd, argv=[str(exe)], start=lambda argv: None)
    assert result.files_changed
    icons = [hicolor / f"{n}x{n}" / "apps" / "attuned.png" for n in desktop.ICON_SIZES]
    assert result.files == (apps / "attuned.desktop", *icons,
                            hicolor / "scalable" / "apps" / "attuned.svg")
    for n, path in zip(desktop.ICON_SIZES, icons, strict=True):
        assert path.read_bytes() == (ICONS / f"attuned-{n}.png").read_bytes()
    assert (apps / "attuned.desktop").read_text().splitlines()[7] == f"Exec={exe} run"
    again = install(False, no_systemd, argv=[str(exe)], start=lambda argv: None)
    assert not again.files_changed and not again.changed

    gone = uninstall(no_systemd)
    assert (gone.manager, gone.removed) == ("autostart", True)
    assert gone.files == result.files
    assert not result.path.exists()
    left = sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file())
    assert left == ["applications/other.desktop"]


def test_exec_quoting_follows_the_desktop_entry_spec() -> None:
    assert desktop.exec_value(["/usr/bin/attuned", "run"]) == "/usr/bin/attuned run"
    assert desktop.exec_value(["/a b/attuned"]) == '"/a b/attuned"'
    # In quotes ", `, $ and \ take a backslash; then the string's own \ is doubled.
    assert desktop.exec_value(['/x"y', "$v", "a\\b"]) == '"/x\\\\"y" "\\\\$v" "a\\\\\\\\b"'
    assert desktop.exec_value(["50%"]) == "50%%"
    with pytest.raises(desktop.ServiceError, match="cannot put a line break"):
        desktop.exec_value(["a\nb"])


def test_autostart_now_starts_the_real_daemon_with_its_log_and_status_sees_it(
        isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`attuned service install --autostart --now` as a person runs it where there is no
    systemd: the daemon really starts, detached, writing to the log file the entry
    names; status says it runs. (It is stopped by its pid at the end: ours to end.)"""
    argv = [sys.executable, "-m", "attuned"]
    result = install(True, no_systemd, argv=argv, autostart=True)
    log = isolated_dirs / "state" / "attuned" / "attuned.log"
    assert (result.manager, result.started, result.log) == ("autostart", True, log)
    try:
        deadline = time.monotonic() + 30
        while not control.is_running():
            assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
            time.sleep(0.05)
        assert "INFO attuned:" in log.read_text()  # its log, in the file the entry names
        again = install(True, no_systemd, argv=argv, autostart=True)
        assert (again.started, again.commands) == (False, ())  # one daemon, not two
        monkeypatch.setattr(cli_service, "DEPS", cli_service.Deps(runner=no_systemd))
        out = CliRunner().invoke(cli, ["service", "status"], catch_exceptions=False)
        assert out.stdout.splitlines()[2] == "running:   active"
    finally:
        pid = lock.read_holder(paths.lock_file())
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while os.waitpid(pid, os.WNOHANG) == (0, 0):
                assert time.monotonic() < deadline, "the daemon did not stop"
                time.sleep(0.05)
