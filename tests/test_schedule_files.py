"""Schedule paths that are not plain small files: a FIFO, a device, a huge file, a file
nested too deeply for the TOML reader. Each is one line naming the path, without a hang
(every command here runs under a timeout) and without reading without end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def attuned(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDITOR": "true", "VISUAL": "",  # an editor that saves at once
           "ATTUNED_STATE_DIR": str(tmp_path / "state"),
           "ATTUNED_RUNTIME_DIR": str(tmp_path / "run")}
    env.pop("ATTUNED_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "attuned", *args], capture_output=True,
                          text=True, timeout=20, env=env, cwd=tmp_path)


NOT_REGULAR = ("is not a regular file ({}); a schedule is a plain text file: point --config "
               "at one")


@pytest.mark.parametrize("command", [["check"], ["list"], ["next"]])
def test_a_fifo_as_the_schedule_is_refused_without_waiting_for_a_writer(
        tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    r = attuned(tmp_path, "--config", str(fifo), *command)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"attuned: {fifo} {NOT_REGULAR.format('a named pipe')}\n"


def test_done_with_a_fifo_as_the_schedule_does_not_wait_for_it(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    r = attuned(tmp_path, "--config", str(fifo), "done")
    assert (r.returncode, r.stderr) == (
        1, "attuned: there is no open nudge to answer; `attuned history` shows recent ones\n")


def test_a_schedule_linked_to_dev_zero_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "config.toml"
    link.symlink_to("/dev/zero")
    r = attuned(tmp_path, "--config", str(link), "check")
    assert (r.returncode, r.stderr) == (1, f"attuned: {link} {NOT_REGULAR.format('a device')}\n")


def test_a_schedule_over_the_size_cap_says_what_the_cap_is(tmp_path: Path) -> None:
    big = tmp_path / "config.toml"
    big.write_bytes(b"# padding\n" * (110 * 1024))  # 1.07 MiB of comments
    r = attuned(tmp_path, "check", str(big))
    assert (r.returncode, r.stderr) == (
        1, f"attuned: {big} is larger than 1 MiB, the most a schedule file may be; "
           "is it the right file?\n")


def test_a_schedule_of_exactly_the_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    body = b'[[practice]]\nid = "p"\ntitle = "T"\nmessage = "M"\nat = "07:30"\n'
    path.write_bytes(body + b"#" * (1024 * 1024 - len(body) - 1) + b"\n")
    r = attuned(tmp_path, "check", str(path))
    assert (r.returncode, r.stdout) == (0, f"{path}: ok, 1 practice (1 enabled)\n"), r.stderr


def test_a_hundred_thousand_nested_brackets_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    r = attuned(tmp_path, "check", str(path))
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (f"{path}: TOML nested too deeply (arrays or tables inside one "
                        "another, thousands of levels); a schedule needs at most two levels\n")


COMMANDS = [["check"], ["list"], ["next"], ["add", "x", "--title", "X", "--message", "m",
            "--at", "10:00"], ["edit"], ["remove", "a"], ["disable", "a"], ["enable", "a"],
            ["try", "breakfast"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("kind", ["name too long", "loop of links"])
def test_a_schedule_path_the_system_refuses_is_one_line_naming_it(
        tmp_path: Path, command: list[str], kind: str) -> None:
    if kind == "name too long":
        path = tmp_path / ("a" * 300 + ".toml")
        reason = "File name too long"
    else:
        path = tmp_path / "config.toml"
        path.symlink_to(tmp_path / "other.toml")
        (tmp_path / "other.toml").symlink_to(path)
        reason = "Too many levels of symbolic links"
    r = attuned(tmp_path, "--config", str(path), *command)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"attuned: cannot read {path}: {reason}\n"
    assert not [p for p in tmp_path.iterdir() if "draft" in p.name or "edit" in p.name]


@pytest.mark.parametrize("command", [["done"], ["skip"]])
def test_an_answer_does_not_need_a_schedule_path_that_cannot_be_read(
        tmp_path: Path, command: list[str]) -> None:
    r = attuned(tmp_path, "--config", str(tmp_path / ("a" * 300 + ".toml")), *command)
    assert (r.returncode, r.stderr) == (
        1, "attuned: there is no open nudge to answer; `attuned history` shows recent ones\n")
