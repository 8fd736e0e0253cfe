"""The daemon's control methods check every parameter by type and value: a malformed
request is refused with invalid_params naming the parameter, and answers nothing. One
daemon (a real process, on its FAKE clock) serves every case, with one open nudge that
none of them may touch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from daemon_harness import DaemonProcess, practice, settings, utc_now

from attuned.daemon.control import ControlReplyError

CASES = [
    ("done", {"target": 123}, 'parameter "target" of "done" must be text, not a number'),
    ("done", {"target": None}, 'parameter "target" of "done" must be text, not null'),
    ("done", {"target": ["k3f2"]}, 'parameter "target" of "done" must be text, not a list'),
    ("done", {"target": {"id": 1}},
     'parameter "target" of "done" must be text, not an object'),
    ("done", {"target": True}, 'parameter "target" of "done" must be text, not true'),
    ("done", {"target": ""}, 'parameter "target" of "done" must not be empty'),
    ("done", {"how": "well"},
     'parameter "how" of "done" must be one of noticed, partly, missed, not "well"'),
    ("done", {"note": "x" * 2001}, 'parameter "note" of "done" is longer than 2000 characters'),
    ("skip", {"how": "partly"}, '"skip" takes no parameter "how" (it takes: "target", "note")'),
    ("snooze", {"for": 5}, 'parameter "for" of "snooze" must be text, not a number'),
    ("snooze", {"for": "5"},
     'parameter "for" of "snooze": "5" is not a duration; write it like "10m", "1h30m" or "2h"'),
    ("snooze", {"for": ""}, 'parameter "for" of "snooze" must not be empty'),
    ("snooze", {"for": "0m"},
     'parameter "for" of "snooze": "0m" is not a duration longer than zero'),
    ("snooze", {"for": "-5m"}, 'parameter "for" of "snooze": "-5m" is not a duration; write '
                               'it like "10m", "1h30m" or "2h"'),
    ("snooze", {"for": "1e9"}, 'parameter "for" of "snooze": "1e9" is not a duration; write '
                               'it like "10m", "1h30m" or "2h"'),
    ("snooze", {"for": "999999999d"},
     'parameter "for" of "snooze": "999999999d" is longer than attuned takes; a duration '
     'is at most 366d (a year)'),
    ("reflect", {"verdict": "landed", "text": 5},
     'parameter "text" of "reflect" must be text, not a number'),
    ("reflect", {}, '"reflect" needs the parameter "verdict"'),
    ("together", {"switch": "maybe"},
     'parameter "switch" of "together" must be one of on, off, until, not "maybe"'),
    ("status", {"verbose": True}, '"status" takes no parameter "verbose" (it takes: none)'),
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    tmp: Path = tmp_path_factory.mktemp("params")
    start = utc_now().replace(microsecond=0)
    d = DaemonProcess(tmp, fake_clock=start, config_text=settings() + practice(
        "tea", once=start + timedelta(seconds=2)))
    try:
        d.start()
        d.advance(3)
        d.wait_for_log(r"INFO attuned: nudged tea", 10)
        yield d
    finally:
        d.cleanup()


@pytest.mark.parametrize(("method", "params", "message"), CASES,
                         ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(CASES)])
def test_a_malformed_request_is_refused_naming_the_param(
        daemon: DaemonProcess, method: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(ControlReplyError) as info:
        daemon.call(method, params)
    assert (info.value.code, str(info.value)) == ("invalid_params", message)
    # Nothing was answered: the one open nudge is still open, its history only "shown".
    assert daemon.kinds() == [("tea", "shown", "daemon")]
    assert [n["practice"] for n in daemon.call("status")["open"]] == ["tea"]
