"""Validating a schedule's TOML data into the frozen model: the keys a file may hold, the
converters from TOML values to model values, and the checker that reports every problem
of the file at once, each with its line (attuned.config.layout) and its fix.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from attuned.config.layout import Layout, Table
from attuned.config.phone import PHONE_KEYS, phone_when, read_phone
from attuned.core import cron
from attuned.core.days import parse_days
from attuned.core.durations import format_duration, parse_clock, parse_duration, parse_window
from attuned.core.model import (
    ALL_DAYS,
    DEFAULT_MIN_GAP,
    AtRule,
    AwayMode,
    Blocked,
    EveryRule,
    OnceRule,
    Phone,
    Practice,
    RandomRule,
    Rule,
    Schedule,
    Settings,
    When,
    Window,
)
from attuned.core.timing import FIRST_DAY, LAST_DAY
from attuned.errors import Problem

__all__ = [
    "BLOCKED_CHOICES",
    "OUTSIDE_CHOICES",
    "PRACTICE_KEYS",
    "RULE_KEYS",
    "SETTINGS_KEYS",
    "WHEN_CHOICES",
    "Checker",
]


RULE_KEYS = ("at", "every", "random", "cron", "once")
PRACTICE_KEYS = (
    "id", "title", "message", "enabled",
    *RULE_KEYS, "between", "min_gap", "days", "from", "until",
    "quiet_hours", "grace", "snooze", "answer_within", "repeat", "repeat_max",
    "when", "outside", "discreet", "blocked", "phone",
)  # fmt: skip
SETTINGS_KEYS = ("timezone", "quiet_hours", "grace", "snooze", "snooze_long", "discreet",
                 "blocked", "digest_at", "away")
WHEN_CHOICES = tuple(w.value for w in When)
OUTSIDE_CHOICES = (Blocked.DROP.value, Blocked.DEFER.value)
BLOCKED_CHOICES = tuple(b.value for b in Blocked)
AWAY_CHOICES = tuple(a.value for a in AwayMode)
_TOP_KEYS = ("settings", "phone", "practice")
_PRACTICE_KEY_SET = frozenset(PRACTICE_KEYS)
# Keys that only some rules use, and which.
_RULE_ONLY_KEYS = {"between": ("every", "random"), "min_gap": ("random",),
                   "days": ("at", "every", "random")}
_RULES_TEXT = "at, every, random, cron, once"

# Words people reach for, mapped to the key that means it.
_KEY_ALIASES = {
    "start": "from", "begin": "from", "end": "until", "to": "until", "time": "at",
    "times": "at", "window": "between", "name": "title", "text": "message",
    "interval": "every", "weekdays": "days", "day": "days", "count": "random",
    "gap": "min_gap", "tz": "timezone", "zone": "timezone", "quiet": "quiet_hours",
}  # fmt: skip

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_SHORTEST_EVERY = timedelta(minutes=1)


def _show(value: object) -> str:
    """A value as it would look in the file."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return str(value)


def _suggest(word: str, choices: tuple[str, ...]) -> str | None:
    lowered = word.lower()
    if lowered in choices:
        return lowered
    if lowered in _KEY_ALIASES and _KEY_ALIASES[lowered] in choices:
        return _KEY_ALIASES[lowered]
    guess = difflib.get_close_matches(lowered, choices, n=1, cutoff=0.6)
    return guess[0] if guess else None


@dataclass
class _Where:
    table: Table | None
    practice: str | None = None
    misspelt: set[str] = field(default_factory=set)  # keys an unknown key suggested


class _Invalid(Exception):
    """One value is wrong; the message is already written for people."""


class Checker:
    def __init__(self, source: str, layout: Layout) -> None:
        self.source = source
        self.layout = layout
        self.problems: list[Problem] = []

    def add(self, where: _Where, key: str | None, message: str, line: int | None = None) -> None:
        if line is None and where.table is not None:
            line = where.table.line_of(key)
        self.problems.append(Problem(self.source, message, line=line,
                                     practice=where.practice, key=key))

    def schedule(self, data: dict[str, Any]) -> Schedule:
        root = _Where(self.layout.root)
        for key in data:
            if key not in _TOP_KEYS:
                line = self.layout.root.keys.get(key, (None, None))[0]
                line = line or self.layout.first_header.get(key)
                self.add(root, key, self._unknown(key, _TOP_KEYS, "at the top of the file"),
                         line=line)
        settings = self.settings(data.get("settings"))
        settings = replace(settings, phone=self.phone(data.get("phone")))
        if settings.away == AwayMode.PHONE and not settings.phone.configured:
            self.add(_Where(self.layout.tables.get("settings")), "away",
                     '"phone" needs a phone: set [phone] ntfy (`attuned phone setup`) or '
                     'apprise, or choose "hold" or "show"')
        practices: list[Practice] = []
        raw = data.get("practice", [])
        if not isinstance(raw, list):
            self.add(root, "practice", f"expected [[practice]] tables, got {_show(raw)}",
                     line=self.layout.first_header.get("practice"))
            raw = []
        seen: dict[str, int | None] = {}
        for i, item in enumerate(raw):
            table = self.layout.practices[i] if i < len(self.layout.practices) else None
            p = self.practice(item, table, settings)
            pid = item.get("id") if isinstance(item, dict) else None
            if isinstance(pid, str) and pid:
                line = table.line_of("id") if table else None
                if pid in seen:
                    first = seen[pid]
                    lines = f"lines {first} and {line}" if first and line else "two practices"
                    self.add(_Where(table, pid), "id",
                             f'"{pid}" is used twice, on {lines}; each practice needs its own id')
                else:
                    seen[pid] = line
            if p is not None:
                practices.append(p)
        return Schedule(settings=settings, practices=tuple(practices), source=self.source)

    def _unknown(self, key: str, allowed: tuple[str, ...], place: str) -> str:
        head = f"unknown key {place}" if place else "unknown key"
        guess = _suggest(key, allowed)
        if guess is not None:
            return f'{head}; did you mean "{guess}"?'
        return f"{head}; the keys there are: {', '.join(allowed)}"

    # -- settings

    def settings(self, raw: object) -> Settings:
        table = self.layout.tables.get("settings")
        where = _Where(table)
        if raw is None:
            return Settings()
        if not isinstance(raw, dict):
            self.add(_Where(self.layout.root), "settings",
                     f"expected a [settings] table, got {_show(raw)}")
            return Settings()
        for key in raw:
            if key not in SETTINGS_KEYS:
                self.add(where, key, self._unknown(key, SETTINGS_KEYS, "in [settings]"))
        base = Settings()
        timezone = self.value(where, raw, "timezone", None, _timezone)
        quiet = self.value(where, raw, "quiet_hours", None, _quiet_hours)
        grace = self.value(where, raw, "grace", base.grace, _duration)
        snooze = self.value(where, raw, "snooze", base.snooze, _duration)
        snooze_long = self.value(where, raw, "snooze_long", base.snooze_long, _duration)
        discreet = self.value(where, raw, "discreet", base.discreet, _bool)
        blocked = self.value(where, raw, "blocked", base.blocked, _blocked)
        digest_at = self.value(where, raw, "digest_at", base.digest_at, _clock)
        away = self.value(where, raw, "away", None, lambda v: AwayMode(_choice(v, AWAY_CHOICES)))
        return Settings(away=away, timezone=timezone, quiet_hours=quiet, grace=grace or base.grace,
                        snooze=snooze or base.snooze,
                        snooze_long=snooze_long or base.snooze_long,
                        discreet=base.discreet if discreet is None else discreet,
                        blocked=blocked or base.blocked, digest_at=digest_at or base.digest_at)

    def phone(self, raw: object) -> Phone:
        where = _Where(self.layout.tables.get("phone"))
        if raw is None:
            return Phone()
        if not isinstance(raw, dict):
            self.add(_Where(self.layout.root), "phone",
                     f"expected a [phone] table, got {_show(raw)}")
            return Phone()
        return read_phone(raw, lambda key, msg: self.add(where, key, msg),
                          lambda key, place: self.add(where, key,
                                                      self._unknown(key, PHONE_KEYS, place)))

    def value(self, where: _Where, raw: Mapping[str, Any], key: str, default: Any,
              convert: Callable[[Any], Any]) -> Any:
        """`convert(raw[key])`, or `default` when absent; a problem (and None) when bad."""
        if key not in raw:
            return default
        try:
            return convert(raw[key])
        except (_Invalid, ValueError) as e:
            self.add(where, key, str(e))
            return None

    # -- practices

    def practice(self, raw: object, table: Table | None, settings: Settings) -> Practice | None:
        if not isinstance(raw, dict):
            self.add(_Where(table), "practice", f"expected a [[practice]] table, got {_show(raw)}")
            return None
        pid = raw.get("id")
        where = _Where(table, pid if isinstance(pid, str) and pid else None)
        before = len(self.problems)
        for key in raw:
            if key in _PRACTICE_KEY_SET:
                continue
            if key in SETTINGS_KEYS:
                self.add(where, key, "belongs in [settings], not in a practice; move it there")
            else:
                self.add(where, key, self._unknown(key, PRACTICE_KEYS, ""))
                guess = _suggest(key, PRACTICE_KEYS)
                if guess is not None:
                    where.misspelt.add(guess)  # "tiitle" already says title is missing
        self.required(where, raw, "id", _practice_id,
                      'missing; every practice needs a short unique id, like id = "breakfast"')
        title = self.required(where, raw, "title", _title,
                              'missing; give the practice a short title, like '
                              'title = "Breakfast presence"')
        messages = self.required(where, raw, "message", _messages,
                                 "missing; write what the nudge should say, like "
                                 'message = "Paper down. How is your partner this morning?"')
        enabled = self.value(where, raw, "enabled", True, _bool)
        rule = self.rule(where, raw)
        start = self.value(where, raw, "from", None, _date)
        until = self.value(where, raw, "until", None, _date)
        if start is not None and until is not None and until < start:
            self.add(where, "until",
                     f"{until.isoformat()} is before from ({start.isoformat()}); "
                     "the period would have no days")
        quiet = self.value(where, raw, "quiet_hours", settings.quiet_hours, _quiet_hours)
        grace = self.value(where, raw, "grace", settings.grace, _duration)
        snooze = self.value(where, raw, "snooze", settings.snooze, _duration)
        answer_within = self.value(where, raw, "answer_within", None, _duration)
        repeat = self.value(where, raw, "repeat", None, _duration)
        repeat_max = self.value(where, raw, "repeat_max", 0, _repeat_max)
        if "repeat_max" in raw and "repeat" not in raw:
            self.add(where, "repeat_max",
                     'needs "repeat", how long to wait before asking again, like repeat = "10m"')
        when = self.value(where, raw, "when", When.ANY, _when)
        outside = self.value(where, raw, "outside", None, _outside)
        if "outside" in raw and when != "together":
            self.add(where, "outside",
                     'goes with when = "together"; it says what happens to this practice\'s '
                     "nudges while you are not together")
        discreet = self.value(where, raw, "discreet", settings.discreet, _bool)
        blocked = self.value(where, raw, "blocked", settings.blocked, _blocked)
        phone = self.value(where, raw, "phone", None, phone_when)
        if len(self.problems) > before or rule is None or not isinstance(pid, str):
            return None
        return Practice(
            id=pid, title=title, messages=messages, rule=rule, enabled=enabled,
            start=start, until=until, quiet_hours=quiet, grace=grace, snooze=snooze,
            answer_within=answer_within, repeat=repeat, repeat_max=repeat_max,
            line=table.header if table else None, when=when, outside=outside,
            discreet=discreet, blocked=blocked, phone=phone,
        )  # fmt: skip

    def required(self, where: _Where, raw: Mapping[str, Any], key: str,
                 convert: Callable[[Any], Any], missing: str) -> Any:
        if key not in raw:
            if key not in where.misspelt:
                self.add(where, key, missing)
            return None
        return self.value(where, raw, key, None, convert)

    def rule(self, where: _Where, raw: Mapping[str, Any]) -> Rule | None:
        given = [k for k in RULE_KEYS if k in raw]
        if not given:
            if where.misspelt & set(RULE_KEYS):
                return None  # the misspelt rule key is already reported
            self.add(where, None,
                     f"no rule saying when to nudge; give exactly one of {_RULES_TEXT}")
            return None
        if len(given) > 1:
            names = [f'"{k}"' for k in given]
            both = (f"both {names[0]} and {names[1]}" if len(names) == 2
                    else ", ".join(names[:-1]) + f" and {names[-1]}")
            self.add(where, None, f"has {both}; give exactly one of {_RULES_TEXT}",
                     line=where.table.line_of(given[1]) if where.table else None)
            return None
        kind = given[0]
        for key, kinds in _RULE_ONLY_KEYS.items():
            if key in raw and kind not in kinds:
                self.add(where, key, _not_used(key, kind))
        days = self.value(where, raw, "days", ALL_DAYS, _days_value)
        if kind == "at":
            times = self.value(where, raw, "at", None, _times)
            return AtRule(times, days) if times is not None and days is not None else None
        if kind == "every":
            interval = self.value(where, raw, "every", None, _every)
            window = self.value(where, raw, "between", Window(time(0), time(0)), _window)
            if interval is None or window is None or days is None:
                return None
            return EveryRule(interval, window, days)
        if kind == "random":
            count = self.value(where, raw, "random", None, _count)
            gap = self.value(where, raw, "min_gap", DEFAULT_MIN_GAP, _duration)
            if "between" not in raw:
                self.add(where, "between", '"random" needs a window to choose times in, '
                         'like between = "17:00-22:00"',
                         line=where.table.line_of("random") if where.table else None)
                return None
            window = self.value(where, raw, "between", None, _window)
            if count is None or gap is None or window is None or days is None:
                return None
            fits = -(-window.length // gap)  # ceil: the most n with (n - 1) * gap < length
            if count > fits:
                self.add(where, "random",
                         f"{count} times at least {format_duration(gap)} apart do not fit in "
                         f"{window}; at most {fits} fit{'s' if fits == 1 else ''}, "
                         "or make min_gap shorter")
                return None
            return RandomRule(count, window, gap, days)
        if kind == "cron":
            rule: Rule | None = self.value(where, raw, "cron", None, _cron)
            return rule
        moment = self.value(where, raw, "once", None, _once)
        return OnceRule(moment) if moment is not None else None


def _not_used(key: str, kind: str) -> str:
    if key == "days" and kind == "cron":
        return 'is not used with "cron"; put the days in the cron expression\'s last field'
    if key == "days":
        return f'is not used with "{kind}"; remove it'
    if key == "between":
        return f'is not used with "{kind}"; it goes with "every" or "random"'
    return f'is not used with "{kind}"; it goes with "random"'


# Converters: each takes the raw TOML value and returns the model value or raises
# _Invalid/ValueError with the message after "key: ".


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected {what} in quotes, got {_show(value)}")
    return value


def _practice_id(value: object) -> str:
    pid = _text(value, 'a short name like "breakfast"')
    if not _SLUG.fullmatch(pid):
        slug = re.sub(r"[^a-z0-9]+", "-", pid.lower()).strip("-") or "breakfast"
        raise _Invalid(f"{_show(pid)} is not a usable id; use lowercase letters, digits "
                       f'and hyphens, like "{slug}"')
    return pid


def _title(value: object) -> str:
    title = _text(value, "a short title")
    if not title.strip():
        raise _Invalid('is empty; give the practice a short title, like "Breakfast presence"')
    return title


def _messages(value: object) -> tuple[str, ...]:
    expected = "expected text in quotes, or a list of texts (one is chosen per nudge)"
    if isinstance(value, str):
        value = [value]
    elif not isinstance(value, list):
        raise _Invalid(f"{expected}, got {_show(value)}")
    elif not value:
        raise _Invalid("is an empty list; give at least one text for the nudge")
    for item in value:
        if not isinstance(item, str):
            raise _Invalid(f"{expected}, got {_show(item)}")
        if not item.strip():
            raise _Invalid("is empty; write what the nudge should say")
        _placeholders(item)
    return tuple(value)


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _placeholders(message: str) -> None:
    if "{" not in message:
        return  # most messages: no import, no regex (10,000 practices: ~0.07 s)
    from attuned.config.feelings import PLACEHOLDERS

    for name in _PLACEHOLDER.findall(message):
        if name not in PLACEHOLDERS:
            known = " and ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise _Invalid(f'{_show(message)} has an unknown placeholder "{{{name}}}"; '
                           f"the ones attuned fills in are {known}")


def _choice(value: object, choices: tuple[str, ...]) -> str:
    words = ", ".join(f'"{c}"' for c in choices)
    if not isinstance(value, str) or value.strip().lower() not in choices:
        guess = _suggest(value.strip().lower(), choices) if isinstance(value, str) else None
        if guess is not None:
            raise _Invalid(f'{_show(value)} is not one of {words}; did you mean "{guess}"?')
        raise _Invalid(f"expected one of {words}, got {_show(value)}")
    return value.strip().lower()


def _when(value: object) -> When:
    return When(_choice(value, WHEN_CHOICES))


def _outside(value: object) -> Blocked:
    return Blocked(_choice(value, OUTSIDE_CHOICES))


def _blocked(value: object) -> Blocked:
    return Blocked(_choice(value, BLOCKED_CHOICES))


def _clock(value: object) -> time:
    return parse_clock(_text(value, 'a time of day like "21:00"'))


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_show(value)}")
    return value


def _duration(value: object, what: str = 'a duration like "10m" or "1h30m"') -> timedelta:
    return parse_duration(_text(value, what))


def _every(value: object) -> timedelta:
    interval = _duration(value, 'a duration like "90m"')
    if interval < _SHORTEST_EVERY:
        raise _Invalid(f"{_show(value)} is too often; nudges come at most once a minute")
    if interval > timedelta(days=1):
        raise _Invalid(f"{_show(value)} is longer than a day; for nudges every few days "
                       'use "cron" or "at" with "days"')
    return interval


def _window(value: object) -> Window:
    return parse_window(_text(value, 'a time window like "17:00-22:00"'))


def _quiet_hours(value: object) -> Window | None:
    # "none" or false switches quiet hours off, e.g. for one practice under [settings] ones.
    if value is False or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    if value is True:
        raise _Invalid('expected a time window like "22:30-07:00", or "none", got true')
    return parse_window(_text(value, 'a time window like "22:30-07:00", or "none",'))


def _timezone(value: object) -> str:
    name = _text(value, 'a time zone name like "Europe/Berlin"')
    try:
        zoneinfo.ZoneInfo(name)
        return name
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    zones = {z.lower(): z for z in zoneinfo.available_timezones()}
    guess = zones.get(name.lower())
    if guess is None:
        close = difflib.get_close_matches(name.lower(), list(zones), n=1, cutoff=0.6)
        guess = zones[close[0]] if close else None
    if guess is not None:
        raise _Invalid(f'{_show(name)} is not a time zone; did you mean "{guess}"?')
    raise _Invalid(f'{_show(name)} is not a time zone; use a name like "Europe/Berlin", '
                   "or leave timezone out to use the system's zone")


def _times(value: object) -> tuple[time, ...]:
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        raise _Invalid('is an empty list; give at least one time, like at = ["07:30"]')
    out: set[time] = set()
    for item in items:
        if isinstance(item, time):
            raise _Invalid(f'expected "HH:MM" or a list of them, got {_show(item)}; '
                           f'write times in quotes, like "{item:%H:%M}"')
        if not isinstance(item, str):
            raise _Invalid(f'expected "HH:MM" or a list of them, got {_show(value)}')
        out.add(parse_clock(item))
    return tuple(sorted(out))


def _days_value(value: object) -> frozenset[int]:
    if isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        return parse_days(value)
    raise _Invalid('expected days like "mon-fri", or a list like ["mon", "wed-fri"], '
                   f"got {_show(value)}")


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Invalid(f"expected how many times a day, a whole number like 3, got {_show(value)}")
    return value


_MOST_REPEATS = 100


def _repeat_max(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(f"expected a whole number, 0 or more, got {_show(value)}")
    if value > _MOST_REPEATS:
        raise _Invalid(f"{value} is more reminders than attuned sends; "
                       f"at most {_MOST_REPEATS}")
    return value


def _cron(value: object) -> Rule:
    return cron.parse(_text(value, 'a cron expression like "0 19 * * sun"'))


def _date(value: object) -> date:
    if isinstance(value, datetime):
        raise _Invalid(f"expected a date without a time, like {value.date().isoformat()}, "
                       f"got {_show(value)}")
    day: date | None = None
    if isinstance(value, date):
        day = value
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(value.strip())
    if day is None:
        raise _Invalid(f"expected a date like 2026-12-01, got {_show(value)}")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _Invalid(f"{_show(value)} is outside the years attuned plans for, "
                       f"{FIRST_DAY.year} to {LAST_DAY.year}")
    return day


def _once(value: object) -> datetime:
    example = 'like 2026-12-12T18:00:00 or "2026-12-12 18:00"'
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{1,2}:\d{2}(:\d{2})?", text, re.ASCII):
            try:
                moment = datetime.fromisoformat(text.replace("t", "T"))
            except ValueError:
                moment = None
        if moment is None:
            raise _Invalid(f"{_show(value)} is not a date and time; write it {example}")
    else:
        raise _Invalid(f"expected a date and time, {example}, got {_show(value)}")
    if moment.date() > LAST_DAY:
        raise _Invalid(f"{_show(value)} is after the last day attuned plans for, "
                       f"{LAST_DAY.isoformat()}")
    if moment.date() < FIRST_DAY:
        raise _Invalid(f"{_show(value)} is before the first day attuned plans for, "
                       f"{FIRST_DAY.isoformat()}")
    if moment.tzinfo is not None:
        raise _Invalid(f"{_show(value)} has a time zone offset; write the local time without "
                       "one, like 2026-12-12T18:00:00 (the schedule's timezone applies)")
    return moment
