"""What the CLI shows when something is wrong: an AttunedError is one line (and a non-zero
exit, never a traceback); anything else is a bug in attuned and surfaces as one, instead of
being dressed up as the person's mistake."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from attuned.cli.root import cli
from attuned.core import cron, days, durations, moments
from attuned.errors import AttunedError, BadValue

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "config.example.toml").read_text()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "schedule" / "config.toml"  # its own folder: drafts are looked for there
    path.parent.mkdir()
    path.write_text(EXAMPLE)
    return path


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(cli, args)


def assert_one_line(r: Result, code: int, text: str) -> None:
    """Exactly `text` on stderr, nothing on stdout, exit `code`, no exception escaping."""
    assert isinstance(r.exception, SystemExit), r.exception
    assert (r.exit_code, r.stderr, r.stdout) == (code, text + "\n", "")


# --------------------------------------------------------------------------- the boundary


@pytest.mark.parametrize("parse", [
    lambda: durations.parse_duration("soon"),
    lambda: durations.parse_clock("7.30"),
    lambda: durations.parse_window("17:00"),
    lambda: days.parse_days("funday"),
    lambda: cron.parse("0 19 * *"),
    lambda: moments.parse_moment("someday", now=datetime(2026, 12, 1, tzinfo=UTC),
                                 zone=ZoneInfo("UTC")),
], ids=["duration", "clock", "window", "days", "cron", "moment"])
def test_the_parsers_of_what_people_type_raise_bad_value(parse: Callable[[], object]) -> None:
    # An AttunedError, so the CLI shows it as the person's mistake; a ValueError still, so
    # the schedule's validator, which catches ValueError around each value, is unchanged.
    with pytest.raises(BadValue) as info:
        parse()
    assert isinstance(info.value, AttunedError) and isinstance(info.value, ValueError)
    assert info.value.exit_code == 2


def test_a_value_error_that_is_no_attuned_error_is_a_bug_not_a_user_error(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from attuned.core import timing

    def broken(*args: object, **kwargs: object) -> None:  # FAKE: a bug deep in the library
        raise ValueError("a bug in attuned")

    monkeypatch.setattr(timing, "next_n", broken)
    r = invoke(["--config", str(config), "next"])
    # Not "attuned: a bug in attuned" and exit 2, as if the person had typed it wrong.
    assert isinstance(r.exception, ValueError) and str(r.exception) == "a bug in attuned"
    assert "attuned: a bug in attuned" not in r.output


# --------------------------------------------------------------------------- the editor


@pytest.mark.parametrize(("env", "text"), [
    ({"EDITOR": 'vi "', "VISUAL": ""},
     "attuned: $EDITOR is 'vi \"': No closing quotation; set EDITOR to a command like \"vim\""),
    ({"VISUAL": "code \\", "EDITOR": "vim"},
     "attuned: $VISUAL is 'code \\\\': No escaped character; set VISUAL to a command like "
     '"vim"'),
    ({"VISUAL": "  ", "EDITOR": ""},
     "attuned: $VISUAL is '  ', which names no command; set VISUAL to a command like \"vim\""),
], ids=["unclosed-quote", "trailing-backslash", "blank"])
def test_an_editor_variable_that_names_no_command_is_one_line(
        config: Path, env: dict[str, str], text: str) -> None:
    before = config.read_bytes()
    r = invoke(["--config", str(config), "edit"], env)
    assert_one_line(r, 1, text)
    assert config.read_bytes() == before
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]  # no draft


def test_an_editor_that_cannot_be_run_is_one_line_and_leaves_no_draft(config: Path,
                                                                       tmp_path: Path) -> None:
    editor = tmp_path / "not-executable"
    editor.write_text("#!/bin/sh\n")
    editor.chmod(0o644)  # no x bit: not even root may run it
    r = invoke(["--config", str(config), "edit"], {"EDITOR": str(editor), "VISUAL": ""})
    assert_one_line(r, 1, f'attuned: could not start the editor "{editor}": Permission '
                          "denied; set $VISUAL or $EDITOR to one that is installed")
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]


def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-editor"  # FAKE: stands in for an editor that misbehaves
    script.write_text(f"#!{sys.executable}\nimport os, sys\ndraft = sys.argv[1]\n{body}\n")
    script.chmod(0o755)
    return str(script)


def _draft(config: Path) -> Path:
    return config.with_name(f".{config.stem}.edit-{os.getpid()}.toml")


@pytest.mark.parametrize("body", ["os.unlink(draft)", "os.rename(draft, draft + '~')"],
                         ids=["deleted", "renamed"])
def test_an_editor_that_takes_the_draft_away_is_one_line(config: Path, tmp_path: Path,
                                                         body: str) -> None:
    before = config.read_bytes()
    r = invoke(["--config", str(config), "edit"],
               {"EDITOR": _editor(tmp_path, body), "VISUAL": ""})
    assert_one_line(r, 1, (
        f"attuned: the draft {_draft(config)} is gone (the editor deleted or renamed it), so "
        f"nothing was saved and {config} is as it was; run `attuned edit` again and save "
        "under the name the editor opened"))
    assert config.read_bytes() == before


def test_a_draft_taken_away_when_there_was_no_file_yet(tmp_path: Path) -> None:
    config = tmp_path / "new" / "config.toml"
    r = invoke(["--config", str(config), "edit"],
               {"EDITOR": _editor(tmp_path, "os.unlink(draft)"), "VISUAL": ""})
    assert_one_line(r, 1, (
        f"attuned: the draft {_draft(config)} is gone (the editor deleted or renamed it), so "
        f"nothing was saved and no {config} was made; run `attuned edit` again and save "
        "under the name the editor opened"))
    assert not config.exists()


def test_a_draft_that_cannot_be_written_is_one_line(config: Path, tmp_path: Path) -> None:
    _draft(config).mkdir()  # something in the way where the draft goes
    r = invoke(["--config", str(config), "edit"],
               {"EDITOR": _editor(tmp_path, "pass"), "VISUAL": ""})
    assert_one_line(r, 1, f"attuned: cannot write the draft {_draft(config)}: Is a directory; "
                          f"check that you may write in {config.parent}")


def test_edit_with_the_schedule_under_a_regular_file_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "notes"
    blocker.write_text("mine\n")
    config = blocker / "config.toml"
    r = invoke(["--config", str(config), "edit"], {"EDITOR": _editor(tmp_path, "pass"),
                                                   "VISUAL": ""})
    assert_one_line(r, 1, f"attuned: cannot make the folder {blocker}: {blocker} is a file, "
                          "not a folder; move that file away, or give another schedule file "
                          "with --config")
    assert blocker.read_text() == "mine\n"


# --------------------------------------------------------------------------- the state folder


COMMANDS_THAT_MAKE_THE_STATE_FOLDER = [
    ["history"], ["stats"], ["review"], ["show"], ["done"], ["skip"],
    ["reflect", "breakfast", "--landed"], ["together", "on"], ["list"], ["next"],
]


@pytest.mark.parametrize("args", COMMANDS_THAT_MAKE_THE_STATE_FOLDER,
                         ids=[" ".join(a) for a in COMMANDS_THAT_MAKE_THE_STATE_FOLDER])
def test_a_state_folder_under_a_regular_file_is_one_line(config: Path, tmp_path: Path,
                                                         args: list[str]) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("mine\n")
    state = blocker / "state"
    # No daemon runs (the runtime folder is empty): each command uses the folder itself.
    r = invoke(["--config", str(config), *args], {"ATTUNED_STATE_DIR": str(state)})
    assert_one_line(r, 1, f"attuned: cannot make the folder {state}: {blocker} is a file, "
                          "not a folder; move that file away, or set ATTUNED_STATE_DIR to "
                          "another folder")
    assert blocker.read_text() == "mine\n"


def test_a_state_folder_that_is_a_regular_file_is_one_line(config: Path,
                                                           tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("")
    r = invoke(["--config", str(config), "history"], {"ATTUNED_STATE_DIR": str(state)})
    assert_one_line(r, 1, f"attuned: cannot make the folder {state}: {state} is a file, not "
                          "a folder; move that file away, or set ATTUNED_STATE_DIR to another "
                          "folder")


def test_a_folder_it_may_not_write_in_is_named_with_the_fix(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             ) -> None:
    # The suite may run as root, whom permission bits do not stop: the words are checked
    # on the error mkdir would raise.
    from attuned import paths

    state = tmp_path / "locked" / "state"
    (tmp_path / "locked").mkdir()
    monkeypatch.setenv("ATTUNED_STATE_DIR", str(state))
    denied = PermissionError(13, "Permission denied")
    assert paths._cannot_make(state, denied, None) == (
        f"cannot make the folder {state}: Permission denied; check that you may write in "
        f"{tmp_path / 'locked'}, or set ATTUNED_STATE_DIR to another folder")


@pytest.mark.parametrize("variable", ["ATTUNED_STATE_DIR", "ATTUNED_RUNTIME_DIR"])
def test_the_daemon_says_the_same_in_its_log_and_exits_1(config: Path, tmp_path: Path,
                                                         variable: str) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("")
    folder = blocker / "dir"
    env = {**os.environ, "ATTUNED_CONFIG": str(config), variable: str(folder)}
    proc = subprocess.run([sys.executable, "-m", "attuned", "run"], capture_output=True,
                          text=True, env=env, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    # The log line: "<date> <time> ERROR attuned: <message>".
    assert proc.stderr.splitlines()[-1].split(" ", 2)[2] == (
        f"ERROR attuned: cannot make the folder {folder}: {blocker} is a file, not a folder; "
        f"move that file away, or set {variable} to another folder")


# --------------------------------------------------------------------------- refused options


def test_a_refused_add_names_the_option_not_a_line_never_written(config: Path) -> None:
    before = config.read_bytes()
    r = invoke(["--config", str(config), "add", "x1", "--title", "X", "--message", "m",
                "--at", "25:00"])
    assert_one_line(r, 2, 'attuned: add x1: --at: "25:00" is not a time of day; hours go '
                          "00-23 and minutes 00-59")
    assert config.read_bytes() == before


def test_a_refused_add_names_each_option_it_refuses(config: Path) -> None:
    r = invoke(["--config", str(config), "add", "x1", "--title", "X", "--message", "m",
                "--at", "10:00", "--days", "wekdays"])
    assert_one_line(r, 2, 'attuned: add x1: --days: "wekdays" is not a day; did you mean '
                          '"weekdays"?')
    r = invoke(["--config", str(config), "add", "x1", "--title", "X", "--message", "m"])
    assert_one_line(r, 2, "attuned: add x1: no rule saying when to nudge; give exactly one "
                          "of at, every, random, cron, once")


def test_an_add_under_an_id_in_the_file_points_at_that_line(config: Path) -> None:
    # The old practice is in the file: its line is the right place to look.
    r = invoke(["--config", str(config), "add", "breakfast", "--title", "X", "--message",
                "m", "--at", "10:00"])
    assert r.exit_code == 1
    assert r.stderr.startswith(f'{config}:')
    assert 'practice "breakfast": id: a practice with this id is already in the file' \
        in r.stderr


@pytest.mark.parametrize("args, pid", [
    (["breakfast"], "breakfast"),  # one already in the file: a new period on it
    (["breakfast", "--as", "b2"], "b2"),  # a new one
])
def test_a_refused_try_names_the_option(config: Path, args: list[str], pid: str) -> None:
    before = config.read_bytes()
    r = invoke(["--config", str(config), "try", *args, "--at", "25:00"])
    assert_one_line(r, 2, f'attuned: try {pid}: --at: "25:00" is not a time of day; '
                          "hours go 00-23 and minutes 00-59")
    assert config.read_bytes() == before


def _full_disk() -> None:
    """In the child: files may grow to 1000 bytes, as on a disk that fills up (Python
    ignores SIGXFSZ, so a write past it fails with EFBIG instead of killing)."""
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))


def test_edit_on_a_full_disk_is_one_line_and_leaves_no_partial_draft(config: Path) -> None:
    assert len(EXAMPLE.encode()) > 1000
    env = {**os.environ, "EDITOR": "true", "VISUAL": ""}
    env.pop("ATTUNED_CONFIG", None)
    r = subprocess.run([sys.executable, "-m", "attuned", "--config", str(config), "edit"],
                       capture_output=True, text=True, timeout=30, env=env, cwd=ROOT,
                       preexec_fn=_full_disk)
    draft = r.stderr.split("cannot write the draft ", 1)[-1].split(":", 1)[0]
    assert (r.returncode, r.stdout, r.stderr) == (
        1, "", f"attuned: cannot write the draft {draft}: File too large; check that you may "
               f"write in {config.parent}\n")
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]
    assert config.read_text() == EXAMPLE


def _no_room() -> None:
    """In the child: no file may grow at all, as in a full runtime directory."""
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def test_run_with_a_full_runtime_dir_is_one_line(config: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "ATTUNED_RUNTIME_DIR": str(run_dir),
           "ATTUNED_STATE_DIR": str(tmp_path / "state")}
    env.pop("ATTUNED_CONFIG", None)
    r = subprocess.run([sys.executable, "-m", "attuned", "--config", str(config), "run"],
                       capture_output=True, text=True, timeout=30, env=env, cwd=ROOT,
                       preexec_fn=_no_room)
    lines = r.stderr.splitlines()
    assert (r.returncode, len(lines)) == (1, 1), r.stderr
    assert lines[0].endswith(
        f"ERROR attuned: cannot write the lock file {run_dir}/daemon.lock: File too large; "
        "free space there, or set ATTUNED_RUNTIME_DIR to a directory of yours with room")
