"""The [phone] table and a practice's `phone` key: where nudges reach the person away from
the screen (an ntfy topic, Apprise URLs), and when. Each bad value is told with its fix."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from attuned.core.durations import parse_duration
from attuned.core.model import Phone, PhoneWhen

__all__ = ["PHONE_KEYS", "PHONE_WHEN_CHOICES", "phone_when", "read_phone"]

PHONE_KEYS = ("ntfy", "when", "idle", "token_file", "apprise")
PHONE_WHEN_CHOICES = tuple(w.value for w in PhoneWhen)

Report = Callable[[str, str], None]  # (key, message)


def _show(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def phone_when(value: object) -> PhoneWhen:
    words = ", ".join(f'"{c}"' for c in PHONE_WHEN_CHOICES)
    if not isinstance(value, str) or value.strip().lower() not in PHONE_WHEN_CHOICES:
        raise ValueError(f"expected one of {words}, got {_show(value)}")
    return PhoneWhen(value.strip().lower())


def ntfy_topic_url(value: object) -> str:
    example = '"https://ntfy.sh/attuned-..." (`attuned phone setup` makes one)'
    if not isinstance(value, str):
        raise ValueError(f"expected the topic's address in quotes, like {example}")
    url = urllib.parse.urlsplit(value.strip())
    topic = url.path.strip("/")
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(f"{_show(value)} is not an http:// or https:// address; "
                         f"write it like {example}")
    if not topic or "/" in topic:
        raise ValueError(f"{_show(value)} names no topic: it needs one after the server, "
                         f"like {example}")
    if url.query or url.fragment:
        raise ValueError(f"{_show(value)} has a query or fragment; give just the server "
                         "and the topic")
    return value.strip().rstrip("/")


def _idle(value: object) -> Any:
    if not isinstance(value, str):
        raise ValueError(f'expected a duration like "5m" in quotes, got {_show(value)}')
    return parse_duration(value)


def _token_file(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError('expected the path of a file holding the token, like '
                         '"~/.config/attuned/ntfy-token"')
    return value.strip()


def _apprise(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise ValueError('expected a list of Apprise addresses, like '
                         '["mailto://me:password@example.com"]')
    bad = [v for v in items if "://" not in v]
    if bad:
        raise ValueError(f"{_show(bad[0])} is not an Apprise address; they read like "
                         '"mailto://...", "tgram://...", "pover://..."')
    return tuple(items)


def read_phone(raw: Mapping[str, Any], report: Report, unknown: Report) -> Phone:
    """The [phone] table's values; each bad one is reported and its default kept."""
    for key in raw:
        if key not in PHONE_KEYS:
            unknown(key, "in [phone]")
    values: dict[str, Any] = {}
    for key, convert in (("ntfy", ntfy_topic_url), ("when", phone_when), ("idle", _idle),
                         ("token_file", _token_file), ("apprise", _apprise)):
        if key not in raw:
            continue
        try:
            values[key] = convert(raw[key])
        except ValueError as e:
            report(key, str(e))
    if "token_file" in values and "ntfy" not in raw:
        report("token_file", 'goes with ntfy = "..."; it is the token for that server')
    return Phone(**values)
