"""Logging set-up: one concise line per record on stderr.

When stderr is the journal (systemd sets JOURNAL_STREAM to the "device:inode" of the
stream it connected), each line starts with its syslog priority ("<6>") so the journal
files it at the right level, and carries no timestamp, since the journal stamps every
line itself. Otherwise lines are plain text with a local timestamp.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Mapping
from typing import TextIO

APP_LOGGER = "attuned"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def syslog_priority(levelno: int) -> int:
    """The syslog priority the journal understands for a logging level."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def stream_is_journal(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """True if `stream` is the journal stream systemd announced in JOURNAL_STREAM."""
    value = environ.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep:
        return False
    try:
        st = os.fstat(stream.fileno())
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError, AttributeError):
        # No file descriptor (a StringIO), a closed stream, or a malformed variable.
        return False


def _short_name(name: str) -> str:
    """The module's own name, as log lines have always shown it: sleepwatch, not
    attuned.daemon.sleepwatch."""
    prefix = APP_LOGGER + "."
    return name.rpartition(".")[2] if name.startswith(prefix) else name


class _LineFormatter(logging.Formatter):
    """Formats a record as one line (a traceback only when asked for, with -v)."""

    def __init__(self, *, journal: bool, tracebacks: bool) -> None:
        super().__init__(datefmt=TIME_FORMAT)
        self._journal = journal
        self._tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        message = " ".join(record.getMessage().splitlines())
        line = f"{_short_name(record.name)}: {message}"
        extra: list[str] = []
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            if self._tracebacks:
                extra = "".join(traceback.format_exception(error)).rstrip().splitlines()
            else:
                text = " ".join(str(error).splitlines())
                line += f" ({type(error).__name__}: {text})"
        if self._journal:
            # Every line gets the prefix, or the journal files traceback lines as info.
            prefix = f"<{syslog_priority(record.levelno)}>"
            return "\n".join(prefix + text for text in [line, *extra])
        stamp = self.formatTime(record, self.datefmt)
        return "\n".join([f"{stamp} {record.levelname} {line}", *extra])


class _AttunedHandler(logging.StreamHandler[TextIO]):
    """Our handler, marked so that a second setup_logging() replaces it."""


def setup_logging(
    verbose: int,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Send log records to `stream` (stderr): attuned's at INFO, or DEBUG with -v;
    other libraries' (apscheduler, ...) at WARNING, or DEBUG with -vv."""
    out = sys.stderr if stream is None else stream
    env = os.environ if environ is None else environ
    handler = _AttunedHandler(out)
    handler.setFormatter(
        _LineFormatter(journal=stream_is_journal(out, env), tracebacks=verbose >= 1))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _AttunedHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    logging.getLogger(APP_LOGGER).setLevel(logging.DEBUG if verbose >= 1 else logging.INFO)
