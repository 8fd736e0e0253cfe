"""Cron expressions as classic cron reads them (not APScheduler's dialect)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attuned.core import cron

ALL_DOM = frozenset(range(1, 32))
ALL_MONTHS = frozenset(range(1, 13))
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)  # Python numbering, as the model stores


def test_sunday_is_0_and_7_not_monday() -> None:
    # APScheduler's CronTrigger.from_crontab reads 0 as Monday; classic cron reads Sunday.
    assert cron.parse("0 19 * * 0").weekdays == {SUN}
    assert cron.parse("0 19 * * 7").weekdays == {SUN}
    assert cron.parse("0 19 * * 1").weekdays == {MON}
    assert cron.parse("0 19 * * 6").weekdays == {SAT}


def test_a_simple_weekly_rule() -> None:
    rule = cron.parse("0 19 * * sun")
    assert rule.expr == "0 19 * * sun"
    assert rule.minutes == {0} and rule.hours == {19}
    assert rule.days_of_month == ALL_DOM and rule.months == ALL_MONTHS
    assert rule.weekdays == {SUN}
    assert (rule.dom_restricted, rule.dow_restricted) == (False, True)


@pytest.mark.parametrize(
    ("expr", "field", "expected"),
    [
        ("*/15 * * * *", "minutes", {0, 15, 30, 45}),
        ("1-10/2 * * * *", "minutes", {1, 3, 5, 7, 9}),
        ("5/20 * * * *", "minutes", {5, 25, 45}),
        ("0,30 9-11 * * *", "hours", {9, 10, 11}),
        ("0 22,7 * * *", "hours", {7, 22}),
        ("0 0 1,15 * *", "days_of_month", {1, 15}),
        ("0 0 * jan,JUL *", "months", {1, 7}),
        ("0 0 * mar-may *", "months", {3, 4, 5}),
        ("0 0 * */3 *", "months", {1, 4, 7, 10}),
        ("0 9 * * MON-fri", "weekdays", {MON, TUE, WED, THU, FRI}),
        ("0 9 * * 1-5", "weekdays", {MON, TUE, WED, THU, FRI}),
        ("0 9 * * fri-sun", "weekdays", {FRI, SAT, SUN}),
        ("0 9 * * 5-7", "weekdays", {FRI, SAT, SUN}),
        ("0 9 * * sat,sun", "weekdays", {SAT, SUN}),
        ("0 9 * * *", "weekdays", set(range(7))),
        ("0 9 * * */2", "weekdays", {SUN, TUE, THU, SAT}),  # cron days 0,2,4,6
    ],
)
def test_fields(expr: str, field: str, expected: set[int]) -> None:
    assert getattr(cron.parse(expr), field) == expected


def test_whitespace_is_normalised() -> None:
    assert cron.parse("  0   19 * *\tsun ").expr == "0 19 * * sun"


@pytest.mark.parametrize(
    ("expr", "dom", "dow"),
    [
        ("0 9 1 * mon", True, True),  # cron fires on the 1st AND on every Monday
        ("0 9 * * mon", False, True),
        ("0 9 1 * *", True, False),
        ("0 9 * * *", False, False),
        # Vixie cron: a field starting with "*" is unrestricted, so "*/2" + "mon" means
        # both must match (odd days that are Mondays), not either.
        ("0 9 */2 * mon", False, True),
    ],
)
def test_restricted_flags_give_standard_or_semantics(expr: str, dom: bool, dow: bool) -> None:
    rule = cron.parse(expr)
    assert (rule.dom_restricted, rule.dow_restricted) == (dom, dow)


@pytest.mark.parametrize(
    ("macro", "minutes", "hours", "dom", "months", "weekdays"),
    [
        ("@hourly", {0}, set(range(24)), ALL_DOM, ALL_MONTHS, set(range(7))),
        ("@daily", {0}, {0}, ALL_DOM, ALL_MONTHS, set(range(7))),
        ("@midnight", {0}, {0}, ALL_DOM, ALL_MONTHS, set(range(7))),
        ("@weekly", {0}, {0}, ALL_DOM, ALL_MONTHS, {SUN}),
        ("@monthly", {0}, {0}, {1}, ALL_MONTHS, set(range(7))),
        ("@yearly", {0}, {0}, {1}, {1}, set(range(7))),
        ("@Annually", {0}, {0}, {1}, {1}, set(range(7))),
    ],
)
def test_macros(macro: str, minutes: set[int], hours: set[int], dom: set[int],
                months: set[int], weekdays: set[int]) -> None:
    rule = cron.parse(macro)
    assert rule.expr == macro
    assert (rule.minutes, rule.hours, rule.days_of_month, rule.months, rule.weekdays) == (
        minutes, hours, dom, months, weekdays)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 25 * * *", '"0 25 * * *": hour 25 is out of range 0-23'),
        ("60 * * * *", '"60 * * * *": minute 60 is out of range 0-59'),
        ("0 0 0 * *", '"0 0 0 * *": day-of-month 0 is out of range 1-31'),
        ("0 0 * 13 *", '"0 0 * 13 *": month 13 is out of range 1-12'),
        ("0 0 * * 8", '"0 0 * * 8": day-of-week 8 is out of range 0-7'),
        ("x * * * *", '"x * * * *": minute "x" is not a number'),
        ("0 0 * foo *", '"0 0 * foo *": month "foo" is not a month number or name (jan-dec)'),
        ("0 0 * * funday",
         '"0 0 * * funday": day-of-week "funday" is not a day number or name (sun-sat)'),
        ("*/0 * * * *", '"*/0 * * * *": minute step 0 must be at least 1'),
        ("*/x * * * *", '"*/x * * * *": minute step "x" is not a number'),
        ("0 0 * * 5-2",
         '"0 0 * * 5-2": day-of-week range 5-2 runs backwards; write the smaller value first'),
        ("0 1,,2 * * *", '"0 1,,2 * * *": hour "1,,2" has an empty item between commas'),
        ("0 0 30 2 *",
         '"0 0 30 2 *": never fires, because none of the months it names has a day 30'),
        ("0 9 * *", '"0 9 * *" has 4 fields; cron needs 5: minute hour day-of-month month '
                    'day-of-week, like "0 19 * * sun"'),
        ("", '"" has 0 fields; cron needs 5: minute hour day-of-month month day-of-week, '
             'like "0 19 * * sun"'),
        ("@reboot", '"@reboot" is not a cron shortcut I know; use @hourly, @daily, @weekly, '
                    "@monthly, @yearly, or five fields (minute hour day-of-month month "
                    "day-of-week)"),
    ],
)
def test_errors_name_the_field_and_the_value(expr: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        cron.parse(expr)
    assert str(info.value) == message


def test_day_30_in_february_is_fine_when_weekdays_also_match() -> None:
    # With both fields restricted, cron fires on either: Mondays in February still come.
    assert cron.parse("0 0 30 2 mon").days_of_month == {30}


FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


@st.composite
def cron_items(draw: st.DrawFn, low: int, high: int) -> tuple[str, set[int]]:
    """One comma item of a field and the values it stands for."""
    kind = draw(st.sampled_from(["value", "range", "step", "star-step"]))
    a = draw(st.integers(low, high))
    b = draw(st.integers(a, high))
    step = draw(st.integers(1, high - low + 1))
    if kind == "value":
        return str(a), {a}
    if kind == "range":
        return f"{a}-{b}", set(range(a, b + 1))
    if kind == "step":
        return f"{a}-{b}/{step}", set(range(a, b + 1, step))
    top = 6 if (low, high) == (0, 7) else high  # "*" in day-of-week is 0-6
    return f"*/{step}", set(range(low, top + 1, step))


@st.composite
def cron_fields(draw: st.DrawFn, low: int, high: int) -> tuple[str, set[int]]:
    items = draw(st.lists(cron_items(low, high), min_size=1, max_size=4))
    return ",".join(t for t, _ in items), set().union(*(v for _, v in items))


@given(st.tuples(*(cron_fields(lo, hi) for lo, hi in FIELDS)))
def test_any_valid_expression_round_trips_to_its_values(
    fields: tuple[tuple[str, set[int]], ...],
) -> None:
    (mi, mis), (h, hs), (dom, doms), (mo, mos), (dow, dows) = fields
    # Keep day-of-month possible in the chosen months so "never fires" is not raised.
    doms = {d for d in doms if d <= 29} or {1}
    dom = ",".join(str(d) for d in sorted(doms))
    rule = cron.parse(f"{mi} {h} {dom} {mo} {dow}")
    assert rule.minutes == mis and rule.hours == hs and rule.days_of_month == doms
    assert rule.months == mos
    assert rule.weekdays == {(d - 1) % 7 for d in dows}


@given(st.sampled_from(["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
       st.sampled_from([str.lower, str.upper, str.title]))
def test_day_names_match_their_numbers_in_any_case(name: str, case: object) -> None:
    assert callable(case)
    number = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"].index(name)
    assert cron.parse(f"0 0 * * {case(name)}").weekdays == cron.parse(f"0 0 * * {number}").weekdays
