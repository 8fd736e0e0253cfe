"""The `attuned` command's entry point keeps the daemon lean (issue 3: RSS <= 30 MiB on
the example schedule; bench/daemon_bench.py has the figures): no OpenSSL in the process,
and `attuned [--config FILE] run [-v...]` starts the daemon without click. Every other
command line still goes to click, with click's help and errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from buses import DBusDaemon
from daemon_harness import SRC, Daemons, due_in, practice, settings

from attuned.entry import daemon_args


@pytest.mark.parametrize(("argv", "expected"), [
    (["run"], (None, 0)),
    (["run", "-v"], (None, 1)),
    (["run", "-vv"], (None, 2)),
    (["run", "-v", "--verbose"], (None, 2)),
    (["--config", "/x/c.toml", "run"], ("/x/c.toml", 0)),
    (["--config=/x/c.toml", "run", "-vvv"], ("/x/c.toml", 3)),
    # Everything else is click's: help, typos, other commands, odd options.
    (["run", "--help"], None),
    (["run", "-h"], None),
    (["run", "-x"], None),
    (["run", "-"], None),
    (["run", "extra"], None),
    (["rnu"], None),
    (["next"], None),
    ([], None),
    (["--config"], None),
    (["--config", "run"], None),
    (["--config=", "run"], None),
    (["--version"], None),
    (["-v", "run"], None),
])
def test_only_a_plain_run_line_skips_click(argv: list[str],
                                          expected: tuple[str | None, int] | None) -> None:
    assert daemon_args(argv) == expected


def test_a_directory_as_config_is_left_to_click_to_refuse(tmp_path: Path) -> None:
    assert daemon_args(["--config", str(tmp_path), "run"]) is None
    r = subprocess.run([sys.executable, "-m", "attuned", "--config", str(tmp_path), "run"],
                       capture_output=True, text=True, timeout=30, cwd=SRC)
    assert r.returncode == 1  # one line of attuned's, as every wrong schedule path gets
    assert r.stderr.endswith(f" ERROR attuned: {tmp_path} is a directory, not a schedule "
                             "file; point --config at a file\n")  # run's log line
    assert "Traceback" not in r.stderr


def test_run_help_is_still_clicks_help() -> None:
    r = subprocess.run([sys.executable, "-m", "attuned", "run", "--help"],
                       capture_output=True, text=True, timeout=30, cwd=SRC)
    assert r.returncode == 0
    assert "Run the daemon in the foreground" in r.stdout
    assert "attuned run -v" in r.stdout


def test_the_daemon_runs_without_openssl_or_click(daemons: Daemons,
                                                   session_bus: DBusDaemon,
                                                   notification_server: object) -> None:
    # PYTHONPROFILEIMPORTTIME writes one stderr line per module imported, in order.
    d = daemons(bus=session_bus.address,
                config_text=settings() + practice("soon", once=due_in(2.0)),
                env={"PYTHONPROFILEIMPORTTIME": "1"}).start()
    d.wait_for_log(r"nudged soon ", 15)
    maps = Path(f"/proc/{d.pid}/maps").read_text()
    assert "libssl" not in maps and "libcrypto" not in maps
    imported = {m.group(1) for m in
                (re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
                 for line in d.lines) if m}
    assert {"asyncio", "dbus_fast", "attuned.daemon.lifecycle"} <= imported
    assert "apscheduler" not in imported
    # (ssl and _hashlib are listed too: importtime logs the refused attempts. The maps
    # above are the proof that OpenSSL never loaded.)
    assert imported & {"click", "attuned.cli", "attuned.cli.practising"} == set()
    assert d.stop() == 0


def test_with_a_phone_configured_openssl_may_load(daemons: Daemons) -> None:
    # ntfy.sh and Apprise's services speak TLS: the daemon keeps ssl importable then.
    d = daemons(config_text=settings() + '[phone]\nntfy = "https://ntfy.invalid/attuned-x"\n'
                + practice("soon", once=due_in(2.0))).start()
    d.wait_for_log(r"nudged soon ", 15)
    d.call("status")
    r = subprocess.run([sys.executable, "-c", "import sys; from attuned import entry; "
                        f"print(entry.phone_configured({str(d.config)!r}))"],
                       capture_output=True, text=True, cwd=str(SRC), timeout=20)
    assert r.stdout.strip() == "True"
    assert entry_masks(["--config", str(d.config), "run"], d.config) is False
    assert d.stop() == 0


def entry_masks(argv: list[str], config: Path) -> bool:
    """Would `attuned ARGV` keep OpenSSL out? (ssl is absent after main's first step.)"""
    code = ("import sys; from attuned import entry; entry.without_openssl = lambda: "
            "print('masked'); sys.argv = ['attuned', *sys.argv[1:]]; "
            "entry.daemon_args = lambda a: None; "
            "import attuned.cli.root as r; r.main = lambda: None; entry.main()")
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                       text=True, cwd=str(SRC), timeout=20)
    return "masked" in r.stdout


def test_without_a_phone_openssl_is_kept_out(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(settings())
    assert entry_masks(["--config", str(config), "next"], config) is True
    assert entry_masks(["--config", str(config), "phone", "setup"], config) is False
    # A phone over plain http (a server at home) needs no TLS either.
    config.write_text(settings() + '[phone]\nntfy = "http://192.168.1.2/attuned-x"\n')
    assert entry_masks(["--config", str(config), "run"], config) is True
    config.write_text(settings() + '[phone]\napprise = ["tgram://1/2"]\n')
    assert entry_masks(["--config", str(config), "run"], config) is False
