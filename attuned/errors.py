"""One exception hierarchy. Every message is written for the person reading it.

The CLI catches `AttunedError` once and prints `str(error)`; nothing else is shown,
so each message must say what went wrong, where, and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class AttunedError(Exception):
    """Base of every error attuned reports to a person."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a schedule file, located as precisely as we can."""

    file: str
    message: str
    line: int | None = None
    practice: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.practice is not None:
            parts.append(f'practice "{self.practice}"')
        head = ": ".join(parts)
        body = self.message if self.key is None else f"{self.key}: {self.message}"
        return f"{head}: {body}"


class ScheduleError(AttunedError):
    """A schedule file that cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        n = len(self.problems)
        lines = [str(p) for p in self.problems]
        if n > 1:
            lines.append(f"{n} problems found.")
        return "\n".join(lines)


class RefusedOptions(AttunedError):
    """A change asked for on the command line that the schedule would not take: each line
    names the option it came from, since the text was never written to the file."""

    exit_code = 2  # a usage error, as click's own are

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = tuple(lines)
        super().__init__("\n".join(f"attuned: {line}" for line in self.lines))


class BadValue(AttunedError, ValueError):
    """A value a person wrote that cannot be read: a duration, clock time, window, days,
    cron expression or moment. Also a ValueError, so that code which catches ValueError
    around a parse (the schedule's validator) keeps working."""

    exit_code = 2  # a usage error, as click's own are


class UnusableDirectory(AttunedError):
    """A folder attuned needs cannot be made: a file is in its way, or it may not be written."""


class ConfigNotFound(AttunedError):
    pass


class EditConflict(AttunedError):
    """The file changed on disk between reading it and writing our edit."""


class PracticeNotFound(AttunedError):
    pass


class DaemonNotRunning(AttunedError):
    pass


class AlreadyRunning(AttunedError):
    pass


class ControlError(AttunedError):
    """The daemon answered a control request with an error."""


class DaemonBusy(ControlError):
    """The daemon refused the connection before reading a request (all its connections
    are being answered): nothing was done, so the CLI may write to the history itself."""


class StoreError(AttunedError):
    pass


class NotifyError(AttunedError):
    """No notification backend could deliver a nudge."""
