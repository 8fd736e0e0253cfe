"""The manual: `attuned help [COMMAND...]` prints what `--help` prints, and docs/attuned.1 is
made from that same help by scripts/make-man.py, so it is never out of date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from attuned.cli.root import cli

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "attuned.1"
ATTUNED = Path(sys.executable).with_name("attuned")


def every_command(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        found.append((*path, name))
        if isinstance(command, click.Group):
            found.extend(every_command(command, (*path, name)))
    return found


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), prog_name="attuned", terminal_width=80)


def test_help_of_each_command_is_its_help_option() -> None:
    paths = every_command(cli)
    assert ("service", "install") in paths and ("help",) in paths
    for path in [(), *paths]:
        asked, option = run("help", *path), run(*path, "--help")
        assert (asked.exit_code, option.exit_code) == (0, 0), path
        assert asked.output == option.output, path


def test_help_as_a_person_runs_it(isolated_dirs: Path) -> None:
    proc = subprocess.run([str(ATTUNED), "help", "disable"], capture_output=True, text=True,
                          timeout=30)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("Usage: attuned disable [OPTIONS] ID\n\n"
                                  "  Pause a practice without deleting it.\n")


def test_help_of_what_is_not_there_says_where_to_look() -> None:
    r = run("help", "servic")
    assert r.exit_code == 2
    assert r.output.splitlines()[-1] == (
        'Error: `attuned` has no command "servic"; `attuned --help` lists its commands')
    r = run("help", "service", "restart")
    assert r.output.splitlines()[-1] == (
        'Error: `attuned service` has no command "restart"; `attuned service --help` lists '
        "its commands")
    r = run("help", "init", "now")
    assert r.output.splitlines()[-1] == (
        "Error: `attuned init` has no commands of its own; `attuned init --help` shows its "
        "help")


def test_the_committed_man_page_is_what_the_script_makes_now(tmp_path: Path) -> None:
    out = tmp_path / "attuned.1"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make-man.py"), "-o", str(out)],
                   check=True, timeout=60)
    assert out.read_text() == PAGE.read_text(), (
        "docs/attuned.1 is out of date: run python scripts/make-man.py and commit it")


def test_the_man_page_has_every_command_and_renders_without_a_warning() -> None:
    page = PAGE.read_text()
    for section in (".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH COMMANDS"):
        assert f"\n{section}\n" in page
    headings = [line for line in page.splitlines() if line.startswith(".SS ")]
    assert len(headings) == len(every_command(cli))
    assert '.SS "attuned service install"' in headings
    # As man shows it (groff, which man-db uses): no warning, and options that can be
    # pasted into a shell (ASCII hyphens, not typographic ones).
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-rLL=80n", "-P-cbou"], input=page,
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")
    text = proc.stdout
    assert "attuned - gentle nudges for practising attunement with your partner" in text
    assert "attuned next --count 5" in text
    assert "marked ✗" in text  # attuned doctor's help, beyond ASCII
