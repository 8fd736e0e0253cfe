"""The practice library: ready-made practices a person can try for a set time.

A template is a small TOML file named after the practice (`breakfast.toml`):

    title = "Breakfast presence"
    why = "One line on why it helps."
    for = "1w"                       # the suggested period (whole days)
    message = ["...", "..."]         # 2-3 wordings
    at = "07:30"                     # the suggested schedule: any practice keys
    days = "weekdays"                # except id, from, until and enabled

Built-in templates ship in attuned/data/practices/; the person's own live in
$XDG_CONFIG_HOME/attuned/practices/*.toml and join the list (one of theirs with a
built-in's name replaces it). A bad file of theirs is reported with its file and line
and does not hide the others.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from attuned import paths
from attuned.config.read import parse_text, split_position
from attuned.config.validate import PRACTICE_KEYS, RULE_KEYS
from attuned.core.durations import format_duration, parse_duration
from attuned.core.model import OnceRule, Practice
from attuned.errors import AttunedError, Problem, ScheduleError

# Keys a template may hold besides the practice's schedule keys.
OWN_KEYS = ("title", "why", "for", "message")
# Practice keys a template must not set: `try` gives them.
GIVEN_KEYS = ("id", "from", "until", "enabled")
RULE_SHAPE_KEYS = (*RULE_KEYS, "between", "min_gap")
DEFAULT_PERIOD = timedelta(weeks=1)
BUILT_IN = "built-in"


class TemplateNotFound(AttunedError):
    pass


class NotWholeDays(AttunedError):
    pass


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    why: str
    messages: tuple[str, ...]
    keys: tuple[tuple[str, Any], ...]  # the suggested schedule, as file keys and values
    period: timedelta
    origin: str  # BUILT_IN, or the file it came from
    practice: Practice  # the suggested practice as the daemon would read it

    @property
    def schedule_keys(self) -> dict[str, Any]:
        return dict(self.keys)

    def fields(self, practice_id: str, start: date, period: timedelta | None = None,
               overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The [[practice]] keys for trying it from `start` for `period` (whole days)."""
        days = whole_days(period or self.period)
        keys = self.schedule_keys
        over = dict(overrides or {})
        if any(k in over for k in RULE_KEYS):
            for k in RULE_SHAPE_KEYS:
                keys.pop(k, None)
            if "cron" in over or "once" in over:
                keys.pop("days", None)
        keys.update({k: v for k, v in over.items() if v is not None})
        out: dict[str, Any] = {"id": practice_id, "title": self.title,
                               "message": list(self.messages)}
        out.update(keys)
        out["from"] = start
        out["until"] = start + timedelta(days=days - 1)
        return out


    def renewal(self, old: Practice, start: date, period: timedelta | None = None,
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The keys that start a new period on a practice already in the schedule: switched
        on, `from`/`until` set, its times kept unless `overrides` change them (None: remove
        that key). A single moment (`once`) cannot be tried again: it takes the
        suggestion's times instead."""
        days = whole_days(period or self.period)
        over = {k: v for k, v in (overrides or {}).items() if v is not None}
        out: dict[str, Any] = {}
        if not any(k in over for k in RULE_KEYS) and isinstance(old.rule, OnceRule):
            over = {**self.schedule_keys, **over}
        if any(k in over for k in RULE_KEYS):
            for k in RULE_SHAPE_KEYS:
                out[k] = None
            if "cron" in over or "once" in over:
                out["days"] = None
        out.update(over)
        if not old.enabled:
            out["enabled"] = True
        out["from"] = start
        out["until"] = start + timedelta(days=days - 1)
        return out


@dataclass(frozen=True)
class Library:
    templates: tuple[Template, ...]
    problems: tuple[Problem, ...]  # user files that could not be read

    def get(self, name: str) -> Template:
        for t in self.templates:
            if t.name == name:
                return t
        from attuned.core.names import closest

        names = [t.name for t in self.templates]
        guess = closest(name, names)
        if guess is not None:  # the wording of every unknown practice, "in the library"
            raise TemplateNotFound(f'no practice "{name}" in the library; did you mean '
                                   f'"{guess}"?')
        raise TemplateNotFound(f'no practice "{name}" in the library; `attuned practices` '
                               f"lists them: {', '.join(names)}")

    def after(self, name: str, skip: Iterable[str] = ()) -> Template | None:
        """The next template in the library's order after `name`, not in `skip`."""
        names = [t.name for t in self.templates]
        skipped = set(skip) | {name}
        start = names.index(name) + 1 if name in names else 0
        for t in [*self.templates[start:], *self.templates[:start]]:
            if t.name not in skipped:
                return t
        return None


def whole_days(period: timedelta) -> int:
    if period.total_seconds() <= 0 or period % timedelta(days=1):
        raise NotWholeDays(f'a practice period is whole days, like "3d" or "1w", not '
                           f'"{format_duration(period)}"; for a practice of an hour or two, '
                           "use `attuned add ID --once ...`")
    return period.days


def built_in_order() -> tuple[str, ...]:
    """The order the library shows: the design notes' order, a path from small to big."""
    return ("look-up", "breakfast", "full-attention", "partner-in-mind", "understand-first",
            "feelings-and-needs", "offer-first", "plan-a-date")


def load(user_dir: Path | None = None) -> Library:
    """Built-in templates, then the person's own (theirs replace a built-in of one name)."""
    found: dict[str, Template] = {}
    problems: list[Problem] = []
    folder = resources.files("attuned").joinpath("data", "practices")
    builtins = {e.name.removesuffix(".toml"): e.read_text("utf-8")
                for e in folder.iterdir() if e.name.endswith(".toml")}
    order = [n for n in built_in_order() if n in builtins]
    order += sorted(n for n in builtins if n not in order)
    for name in order:
        # A broken built-in is a bug in attuned: let it raise (the tests parse them all).
        found[name] = parse_template(name, builtins[name], BUILT_IN)
    user = user_dir if user_dir is not None else paths.user_practices_dir()
    if user.is_dir():
        for path in sorted(user.glob("*.toml")):
            name = path.stem
            try:
                text = path.read_text("utf-8")
                found[name] = parse_template(name, text, str(path))
            except ScheduleError as e:
                problems.extend(e.problems)
            except (OSError, UnicodeDecodeError) as e:
                problems.append(Problem(str(path), f"cannot be read ({e}); this practice is "
                                        "left out of the list"))
    return Library(tuple(found.values()), tuple(problems))


_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def parse_template(name: str, text: str, origin: str) -> Template:
    """Validate one template; ScheduleError with file:line problems when it is wrong."""
    source = name + ".toml" if origin == BUILT_IN else origin
    if not _NAME.fullmatch(name):
        raise ScheduleError([Problem(source, "the file name is the practice's name: use "
                                     'lowercase letters, digits and hyphens, like '
                                     '"evening-walk.toml"')])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg, line, _ = split_position(e)
        raise ScheduleError([Problem(source, f"TOML syntax error: {msg}; fix the line and "
                                     "save again", line=line)]) from None
    problems: list[Problem] = []

    def line_of(key: str) -> int | None:
        m = re.search(rf"(?m)^\s*{re.escape(key)}\s*=", text)
        return text.count("\n", 0, m.start()) + 1 if m else None

    for key in data:
        if key in GIVEN_KEYS:
            problems.append(Problem(source, '"attuned try" sets this itself; remove it from '
                                    "the template", line=line_of(key), key=key))
        elif key not in OWN_KEYS and key not in PRACTICE_KEYS:
            problems.append(Problem(source, "unknown key in a practice template; it takes "
                                    f"{', '.join(OWN_KEYS)} and the practice keys of "
                                    "`attuned check`", line=line_of(key), key=key))
    why = data.get("why", "")
    if not isinstance(why, str) or not why.strip():
        problems.append(Problem(source, 'missing; say in a line why this practice helps, '
                                'like why = "..."', line=line_of("why"), key="why"))
    period = DEFAULT_PERIOD
    if "for" in data:
        try:
            raw = data["for"]
            if not isinstance(raw, str):
                raise ValueError(f'expected a period like "1w" in quotes, got {raw!r}')
            period = parse_duration(raw)
            whole_days(period)
        except (ValueError, NotWholeDays) as e:
            problems.append(Problem(source, str(e), line=line_of("for"), key="for"))
    keys = {k: v for k, v in data.items() if k not in OWN_KEYS and k not in GIVEN_KEYS
            and k in PRACTICE_KEYS}
    practice: Practice | None = None
    if not problems:
        import tomlkit

        fields = {"id": name, "title": data.get("title"), "message": data.get("message"),
                  **keys}
        doc = tomlkit.dumps({"practice": [{k: v for k, v in fields.items()
                                           if v is not None}]})
        try:
            practice = parse_text(doc, source=source).practices[0]
        except ScheduleError as e:
            for p in e.problems:
                problems.append(Problem(source, p.message, line=line_of(p.key) if p.key
                                        else None, key=p.key))
    if problems or practice is None:
        raise ScheduleError(problems)
    return Template(name=name, title=practice.title, why=str(why).strip(),
                    messages=practice.messages, keys=tuple(keys.items()), period=period,
                    origin=origin, practice=practice)


def describe(t: Template) -> str:
    """The suggested schedule in plain words, with its period."""
    from attuned.core import timing

    return f"{timing.describe_rule(t.practice)}, for {period_words(t.period)}"


def period_words(period: timedelta) -> str:
    days = period.days
    if days % 7 == 0:
        weeks = days // 7
        return "a week" if weeks == 1 else f"{weeks} weeks"
    return "a day" if days == 1 else f"{days} days"


def to_json(t: Template) -> dict[str, Any]:
    return {"name": t.name, "title": t.title, "why": t.why, "messages": list(t.messages),
            "schedule": {k: (v if isinstance(v, str | int | float | bool | list) else str(v))
                         for k, v in t.keys},
            "period": format_duration(t.period), "suggested": describe(t),
            "origin": t.origin}


def names(templates: Sequence[Template]) -> list[str]:
    return [t.name for t in templates]
