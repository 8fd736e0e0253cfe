"""The shipped systemd unit, checked by the real `systemd-analyze verify` (Debian's systemd)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_install import fake_attuned

from attuned.system.install import (
    ServiceError,
    exec_start_line,
    render_unit,
    unit_exec_start,
    unit_template,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "systemd" / "attuned.service"


def verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze --user verify` as a user manager would load the file.

    It needs XDG_RUNTIME_DIR to exist (conftest points it into tmp_path), and says
    "Failed to lookup RuntimeDirectory path" without it. It exits 0 even for unknown
    keys, which it only warns about on stderr; so callers check stderr too, via ours().
    """
    unit_dir = tmp_path / "units"
    unit_dir.mkdir(exist_ok=True)
    unit = unit_dir / "attuned.service"
    unit.write_text(unit_text)
    return subprocess.run(
        ["systemd-analyze", "--user", "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60, env=os.environ.copy(), check=False)


def ours(done: subprocess.CompletedProcess[str], tmp_path: Path) -> list[str]:
    """verify's complaints about our unit. It also loads every unit installed in
    /usr/lib/systemd/user and may warn about those (gpg-agent's sockets under a long
    tmp_path runtime dir exceed the 108-byte socket path limit); not ours to judge."""
    prefixes = ("attuned.service:", f"{tmp_path / 'units' / 'attuned.service'}:")
    return [line for line in done.stderr.splitlines() if line.startswith(prefixes)]


@pytest.mark.parametrize("private_users", [False, True])
def test_rendered_unit_passes_systemd_analyze_verify(tmp_path: Path, private_users: bool
                                                     ) -> None:
    script = fake_attuned(tmp_path / "bin")
    done = verify(render_unit(exec_start_line([str(script)]), private_users=private_users),
                  tmp_path)
    assert (done.returncode, ours(done, tmp_path), done.stdout) == (0, [], "")


def test_python_dash_m_form_passes_verify(tmp_path: Path) -> None:
    done = verify(render_unit(exec_start_line([sys.executable, "-m", "attuned"])), tmp_path)
    assert (done.returncode, ours(done, tmp_path)) == (0, [])


def test_awkward_path_is_quoted_so_systemd_finds_the_program(tmp_path: Path) -> None:
    # A space splits words and "%c" is a specifier unless escaped; verify resolves
    # ExecStart's program, so a quoting mistake fails here. "$" is left alone in the
    # program path: systemd does not expand variables there (with "$$" verify looked for
    # a directory named with two dollars).
    script = fake_attuned(tmp_path / "my tools 100%c $dir ~é!*")
    line = exec_start_line([str(script)])
    assert line == f'"{tmp_path}/my tools 100%%c $dir ~é!*/attuned" run'
    done = verify(render_unit(line), tmp_path)
    assert (done.returncode, ours(done, tmp_path)) == (0, [])


@pytest.mark.parametrize("name", ['say "hi"', "it's", "back\\slash", "tab\there"])
def test_paths_systemd_refuses_are_refused_with_a_fix(tmp_path: Path, name: str) -> None:
    script = fake_attuned(tmp_path / name)
    # The fact behind the refusal: however it is quoted, systemd rejects the program.
    quoted = '"' + str(script).replace("\\", "\\\\").replace('"', '\\"') + '" run'
    done = verify(render_unit(quoted), tmp_path)
    complaints = ours(done, tmp_path)
    assert any("Executable name contains special characters" in line for line in complaints)
    with pytest.raises(ServiceError) as caught:
        exec_start_line([str(script)])
    assert str(caught.value) == (
        "systemd cannot start a program whose path contains quotes, backslashes or "
        f"control characters: {str(script)!r}.\nInstall attuned at a plainer path (pipx puts "
        "it in ~/.local/bin) and run `attuned service install` again.")


def test_arguments_get_dollars_doubled_but_the_program_does_not() -> None:
    assert exec_start_line(["/opt/a$b/attuned", "--flag=$HOME"]) == \
        "/opt/a$b/attuned --flag=$$HOME run"


def test_verify_catches_what_we_rely_on_it_for(tmp_path: Path) -> None:
    """The checks above can fail: a misspelt key warns, a missing program fails."""
    script = fake_attuned(tmp_path / "bin")
    text = render_unit(exec_start_line([str(script)]))
    typo = verify(text.replace("RestartSec=", "RestartSecs="), tmp_path)
    assert [line.split(": ", 1)[1] for line in ours(typo, tmp_path)] == [
        "Unknown key 'RestartSecs' in section [Service], ignoring."]
    missing = verify(render_unit(exec_start_line([str(tmp_path / "nowhere" / "attuned")])),
                     tmp_path)
    assert missing.returncode != 0
    assert ours(missing, tmp_path) == [
        f"attuned.service: Command {tmp_path}/nowhere/attuned is not executable: "
        "No such file or directory"]


def test_packaged_template_is_the_shipped_unit() -> None:
    # attuned/data/attuned.service is a symlink to systemd/attuned.service; setuptools
    # copies it into wheels as a plain file.
    assert unit_template() == SHIPPED.read_text()


def test_rendering_changes_only_exec_start(tmp_path: Path) -> None:
    template = SHIPPED.read_text()
    rendered = render_unit("/opt/attuned/bin/attuned run", template)
    before, after = template.splitlines(), rendered.splitlines()
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [("ExecStart=%h/.local/bin/attuned run",
                        "ExecStart=/opt/attuned/bin/attuned run")]
    assert unit_exec_start(rendered) == "/opt/attuned/bin/attuned run"
    # Where the user manager can run it, install adds PrivateUsers=yes: the one line more.
    sandboxed = render_unit("/opt/attuned/bin/attuned run", template, private_users=True)
    assert sandboxed.replace("\nPrivateUsers=yes\nProtectSystem=", "\nProtectSystem=") \
        == rendered


def test_render_refuses_a_template_without_one_exec_start() -> None:
    with pytest.raises(ValueError, match="exactly one ExecStart= line, not 0"):
        render_unit("/x run", "[Service]\nType=notify\n")


def settings(text: str) -> dict[str, list[str]]:
    """section.Key -> values, comments dropped (enough for our own flat unit)."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key}", []).append(value)
    return found


def test_unit_promises() -> None:
    s = settings(SHIPPED.read_text())
    expected = {
        # systemd 252 has no Type=notify-reload; the daemon sends READY/RELOADING itself.
        "Service.Type": ["notify"],
        "Service.ExecReload": ["/bin/kill -HUP $MAINPID"],
        "Service.Restart": ["on-failure"],
        "Service.RestartSec": ["5"],
        "Service.WatchdogSec": ["120"],
        "Unit.PartOf": ["graphical-session.target"],
        "Unit.After": ["graphical-session.target"],
        "Install.WantedBy": ["graphical-session.target"],
        "Service.NoNewPrivileges": ["yes"],
        "Service.ProtectSystem": ["strict"],
        "Service.ProtectHome": ["read-only"],
        # Writable even under ProtectSystem=strict; "-" tolerates a missing directory.
        "Service.ReadWritePaths": ["-%E/attuned -%h/.local/state/attuned"],
        "Service.RuntimeDirectory": ["attuned"],
        "Service.PrivateTmp": ["yes"],
        "Service.LockPersonality": ["yes"],
        "Service.RestrictRealtime": ["yes"],
    }
    assert {k: s.get(k) for k in expected} == expected
    # An explicit PrivateUsers= stops the unit starting where user namespaces are off:
    # install adds it only where the user manager showed it can start a unit with it.
    assert "Service.PrivateUsers" not in s
