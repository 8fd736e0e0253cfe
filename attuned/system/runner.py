"""Running outside commands for the service (through a `Runner`, so the CLI passes
`run_command` and tests pass a recording stand-in), the error a person must act on, and
which attuned the service should run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from attuned.errors import AttunedError

COMMAND_TIMEOUT = 30.0


class ServiceError(AttunedError):
    """The service could not be installed, removed or inspected."""


# ---------------------------------------------------------------- running commands


class CommandResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    def __call__(self, argv: Sequence[str]) -> CommandResult: ...


def run_command(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> CommandResult:
    """The real Runner: run `argv`, capture its output, never raise for a failed command."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        return CommandResult(127, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return CommandResult(124, "", f"{argv[0]} did not answer within {timeout:g} s")
    return CommandResult(done.returncode, done.stdout, done.stderr)


def _shown(argv: Sequence[str]) -> str:
    return " ".join(argv)


def check(runner: Runner, argv: Sequence[str], after: str) -> CommandResult:
    result = runner(argv)
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip() or "no message"
        raise ServiceError(
            f"`{_shown(argv)}` failed (exit {result.returncode}): {said}\n{after}")
    return result


# ---------------------------------------------------------------- which attuned


def executable_argv(
    argv0: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> tuple[str, ...]:
    """The absolute command that runs the attuned running now.

    The console script we were started as (pipx, uv tool, a venv, the system), kept as
    invoked rather than resolved: ~/.local/bin/attuned stays valid when pipx or uv
    rebuild the environment it links into. Under `python -m attuned`, that command.
    Otherwise whatever `attuned` is on PATH, and failing that `python -m attuned`.
    """
    arg0 = sys.argv[0] if argv0 is None else argv0
    path = Path(arg0)
    if path.name == "attuned" and path.is_file():
        return (os.path.abspath(arg0),)
    if path.name == "__main__.py" and path.parent.name == "attuned":
        return (_python(), "-m", "attuned")
    found = which("attuned")
    if found:
        return (os.path.abspath(found),)
    return (_python(), "-m", "attuned")


def _python() -> str:
    # Not resolved: a venv's bin/python is a symlink, and resolving it leaves the venv.
    return os.path.abspath(sys.executable)


