"""Standard 5-field cron expressions, parsed into `model.CronRule`. Pure.

Follows classic (Vixie/Debian) cron, not APScheduler's dialect:
- day-of-week 0 and 7 are Sunday (APScheduler's `from_crontab` takes 0 as Monday);
- when day-of-month and day-of-week are both restricted, a day matches if EITHER does.
  As in Vixie cron, a field counts as restricted unless it starts with `*`, so
  `*/2` in day-of-month is not a restriction for that rule (both fields must then match).

The model stores weekdays in Python numbering (0 = Monday ... 6 = Sunday).
Errors are BadValue (a ValueError) with a message for people, naming the expression and
the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from attuned.core.model import CronRule
from attuned.errors import BadValue

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# Longest day each month can have (February: 29, leap years).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i
    what: str = "a number"


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS, "a month number or name (jan-dec)"),
    _Field("day-of-week", 0, 7, _CRON_DAYS, "a day number or name (sun-sat)"),
)

_HELP = "minute hour day-of-month month day-of-week"
_NUMBER = re.compile(r"[0-9]+", re.ASCII)


def parse(expr: str) -> CronRule:
    """Parse `expr` ("0 19 * * sun", "*/15 9-17 * * mon-fri", "@daily") into a CronRule."""
    text = " ".join(expr.split())
    fields_text = text
    if text.startswith("@"):
        macro = MACROS.get(text.lower())
        if macro is None:
            raise BadValue(
                f'"{expr}" is not a cron shortcut I know; use @hourly, @daily, @weekly, '
                f"@monthly, @yearly, or five fields ({_HELP})"
            )
        fields_text = macro
    parts = fields_text.split(" ") if fields_text else []
    if len(parts) != 5:
        raise BadValue(
            f'"{expr}" has {len(parts)} field{"" if len(parts) == 1 else "s"}; '
            f"cron needs 5: {_HELP}, like \"0 19 * * sun\""
        )
    values = [_parse_field(expr, spec, part) for spec, part in zip(_FIELDS, parts, strict=True)]
    minutes, hours, dom, months, dow = values
    dom_restricted = not parts[2].startswith("*")
    dow_restricted = not parts[4].startswith("*")
    if dom_restricted and not dow_restricted:
        longest = max(_MONTH_DAYS[m - 1] for m in months)
        if min(dom) > longest:
            raise BadValue(
                f'"{expr}": never fires, because none of the months it names has a day {min(dom)}'
            )
    weekdays = frozenset((d - 1) % 7 for d in dow)  # cron 0/7 = Sunday -> Python 6
    return CronRule(
        expr=text,
        minutes=minutes,
        hours=hours,
        days_of_month=dom,
        months=months,
        weekdays=weekdays,
        dom_restricted=dom_restricted,
        dow_restricted=dow_restricted,
    )


def _parse_field(expr: str, spec: _Field, text: str) -> frozenset[int]:
    out: set[int] = set()
    for item in text.split(","):
        if not item:
            raise BadValue(f'"{expr}": {spec.name} "{text}" has an empty item between commas')
        out.update(_parse_item(expr, spec, item))
    return frozenset(out)


def _parse_item(expr: str, spec: _Field, item: str) -> range:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not _NUMBER.fullmatch(step_text):
            raise BadValue(f'"{expr}": {spec.name} step "{step_text}" is not a number')
        step = int(step_text)
        if step < 1:
            raise BadValue(f'"{expr}": {spec.name} step {step} must be at least 1')
        span = spec.high - spec.low + 1
        if step > span:
            raise BadValue(f'"{expr}": {spec.name} step {step} is longer than the field; '
                           f"at most {span}")
    if base == "*":
        low, high = spec.low, spec.high
        if spec.name == "day-of-week":
            high = 6  # `*` is each day once; 7 would repeat Sunday
    elif "-" in base:
        a, _, b = base.partition("-")
        low, high = _value(expr, spec, a), _value(expr, spec, b)
        if spec.name == "day-of-week" and high == 0 and low > 0:
            high = 7  # "fri-sun": Sunday as the end of a range is day 7
        if high < low:
            raise BadValue(
                f'"{expr}": {spec.name} range {base} runs backwards; write the smaller value first'
            )
    else:
        low = _value(expr, spec, base)
        # "5/15" means "from 5, every 15", as in most crons; a bare value is just itself.
        high = spec.high if slash else low
    return range(low, high + 1, step)


def _value(expr: str, spec: _Field, text: str) -> int:
    lowered = text.lower()
    if spec.names and lowered in spec.names:
        return spec.low + spec.names.index(lowered)
    if not _NUMBER.fullmatch(text):
        raise BadValue(f'"{expr}": {spec.name} "{text}" is not {spec.what}')
    n = int(text)
    if not spec.low <= n <= spec.high:
        raise BadValue(
            f'"{expr}": {spec.name} {n} is out of range {spec.low}-{spec.high}'
        )
    return n
