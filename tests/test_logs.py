"""Log lines: journal priority prefixes when stderr is the journal, plain text otherwise."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import pytest

from attuned.daemon.logs import setup_logging, stream_is_journal, syslog_priority

NAMES = ("", "attuned", "apscheduler")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """setup_logging() changes process-wide logging; put it back after each test."""
    saved = {name: logging.getLogger(name).level for name in NAMES}
    handlers = list(logging.getLogger().handlers)
    yield
    root = logging.getLogger()
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def journal_env(stream: TextIO) -> dict[str, str]:
    st = os.fstat(stream.fileno())
    return {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}


def journal_log(tmp_path: Path, verbosity: int, emit: Callable[[], None]) -> Path:
    """The file that got what `emit` logged after setup_logging(verbosity) on a stderr
    that is the journal."""
    out = tmp_path / "stderr"
    with out.open("w") as stream:
        setup_logging(verbosity, stream=stream, environ=journal_env(stream))
        emit()
    return out


def log_exception(exc: Exception) -> None:
    try:
        raise exc
    except type(exc):
        logging.getLogger("attuned.store").exception("could not save the answer")


def emit_sample() -> None:
    log = logging.getLogger("attuned.daemon")
    log.debug("timer armed")
    log.info("started")
    log.warning("no notification server")
    log.error("cannot write history")
    logging.getLogger("apscheduler.scheduler").info("Added job")
    logging.getLogger("apscheduler.scheduler").warning("Run time was missed")


def test_journal_stream_gets_priority_prefixes_and_no_timestamp(tmp_path: Path) -> None:
    out = journal_log(tmp_path, 0, emit_sample)
    assert out.read_text().splitlines() == [
        "<6>daemon: started",
        "<4>daemon: no notification server",
        "<3>daemon: cannot write history",
        "<4>apscheduler.scheduler: Run time was missed",
    ]


def test_a_pipe_can_be_the_journal_too(tmp_path: Path) -> None:
    # systemd connects stderr to the journal through a socket; any fd whose dev:ino
    # matches counts, so a pipe stands in for it here.
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd) as reader, os.fdopen(write_fd, "w") as stream:
        setup_logging(1, stream=stream, environ=journal_env(stream))
        logging.getLogger("attuned.daemon").debug("timer armed")
        stream.close()
        assert reader.read() == "<7>daemon: timer armed\n"


def test_plain_text_with_local_timestamp_when_stderr_is_not_the_journal(
        tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_text("")
    st = other.stat()
    out = tmp_path / "stderr"
    with out.open("w") as stream:
        # JOURNAL_STREAM inherited from a parent whose stderr was the journal: not ours.
        setup_logging(0, stream=stream, environ={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        emit_sample()
    lines = out.read_text().splitlines()
    stamp = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
    expected = [
        "INFO daemon: started",
        "WARNING daemon: no notification server",
        "ERROR daemon: cannot write history",
        "WARNING apscheduler.scheduler: Run time was missed",
    ]
    assert len(lines) == len(expected)
    for line, tail in zip(lines, expected, strict=True):
        assert re.fullmatch(stamp + " " + re.escape(tail), line), line


def test_verbose_shows_attuned_debug_but_not_library_chatter(tmp_path: Path) -> None:
    text = journal_log(tmp_path, 1, emit_sample).read_text()
    assert "<7>daemon: timer armed" in text.splitlines()
    assert "Added job" not in text


def test_very_verbose_shows_library_debug_and_info(tmp_path: Path) -> None:
    def emit() -> None:
        emit_sample()
        logging.getLogger("apscheduler.executors").debug("Running job")

    lines = journal_log(tmp_path, 2, emit).read_text().splitlines()
    assert "<6>apscheduler.scheduler: Added job" in lines
    assert "<7>apscheduler.executors: Running job" in lines


def test_an_exception_is_one_line_by_default(tmp_path: Path) -> None:
    out = journal_log(tmp_path, 0, lambda: log_exception(ValueError("bad\nvalue")))
    assert out.read_text() == "<3>store: could not save the answer (ValueError: bad value)\n"


def test_with_verbose_the_traceback_follows_each_line_prefixed(tmp_path: Path) -> None:
    out = journal_log(tmp_path, 1, lambda: log_exception(ValueError("boom")))
    lines = out.read_text().splitlines()
    assert lines[0] == "<3>store: could not save the answer"
    assert lines[1] == "<3>Traceback (most recent call last):"
    assert lines[-1] == "<3>ValueError: boom"
    assert all(line.startswith("<3>") for line in lines)


def test_multi_line_messages_become_one_line(tmp_path: Path) -> None:
    out = journal_log(tmp_path, 0, lambda: logging.getLogger("attuned").warning("first\nsecond"))
    assert out.read_text() == "<4>attuned: first second\n"


def test_setting_up_twice_does_not_double_lines(tmp_path: Path) -> None:
    out = tmp_path / "stderr"
    with out.open("w") as stream:
        setup_logging(0, stream=stream, environ={})
        setup_logging(0, stream=stream, environ={})
        logging.getLogger("attuned").info("once")
    assert len(out.read_text().splitlines()) == 1


@pytest.mark.parametrize("value", ["", "garbage", "1:x", "12"])
def test_malformed_journal_stream_means_plain(tmp_path: Path, value: str) -> None:
    with (tmp_path / "f").open("w") as stream:
        assert not stream_is_journal(stream, {"JOURNAL_STREAM": value})


def test_priorities() -> None:
    assert [syslog_priority(level) for level in (50, 40, 30, 20, 10, 5)] == [2, 3, 4, 6, 7, 7]
