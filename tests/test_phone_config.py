"""[phone] and a practice's `phone`: read into the model, every mistake told with its line
and its fix."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attuned.config import read
from attuned.core.model import Phone, PhoneWhen
from attuned.errors import ScheduleError

PRACTICE = '[[practice]]\nid = "p"\ntitle = "T"\nmessage = "M"\nat = "09:00"\n'


def problems(text: str) -> list[str]:
    with pytest.raises(ScheduleError) as info:
        read.parse_text(text)
    return [str(p) for p in info.value.problems]


def test_phone_table_read() -> None:
    sched = read.parse_text(
        '[phone]\nntfy = "https://ntfy.sh/attuned-abc/"   # the topic\nwhen = "Always"\n'
        'idle = "10m"\ntoken_file = "~/t"\napprise = ["mailto://a@b.c"]\n'
        + PRACTICE + 'phone = "never"\n')
    assert sched.settings.phone == Phone(ntfy="https://ntfy.sh/attuned-abc",
                                         when=PhoneWhen.ALWAYS, idle=timedelta(minutes=10),
                                         token_file="~/t", apprise=("mailto://a@b.c",))
    assert sched.practices[0].phone == PhoneWhen.NEVER


def test_no_phone_table_means_no_phone() -> None:
    sched = read.parse_text(PRACTICE)
    assert not sched.settings.phone.configured
    assert sched.settings.phone.when == PhoneWhen.AWAY
    assert sched.practices[0].phone is None


def test_phone_mistakes_told_with_lines() -> None:
    found = problems('[phone]\nntfy = "ntfy.sh/x"\nwhen = "sometimes"\nidel = "5m"\n'
                     'apprise = ["nothing"]\n' + PRACTICE + 'phone = 1\n')
    assert found == [
        'config.toml:2: ntfy: "ntfy.sh/x" is not an http:// or https:// address; write it '
        'like "https://ntfy.sh/attuned-..." (`attuned phone setup` makes one)',
        'config.toml:3: when: expected one of "away", "always", "never", got "sometimes"',
        'config.toml:4: idel: unknown key in [phone]; did you mean "idle"?',
        'config.toml:5: apprise: "nothing" is not an Apprise address; they read like '
        '"mailto://...", "tgram://...", "pover://..."',
        'config.toml:11: practice "p": phone: expected one of "away", "always", "never", got 1',
    ]


def test_topic_missing_and_token_without_server() -> None:
    found = problems('[phone]\nntfy = "https://ntfy.sh/"\n' + PRACTICE)
    assert found == ['config.toml:2: ntfy: "https://ntfy.sh/" names no topic: it needs one '
                     'after the server, like "https://ntfy.sh/attuned-..." '
                     "(`attuned phone setup` makes one)"]
    found = problems('[phone]\ntoken_file = "~/t"\n' + PRACTICE)
    assert found == ['config.toml:2: token_file: goes with ntfy = "..."; it is the token '
                     "for that server"]
