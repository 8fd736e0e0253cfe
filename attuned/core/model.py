"""The schedule as data: frozen dataclasses, no I/O.

Conventions used everywhere:
- weekdays are Python's `date.weekday()` numbers: 0 = Monday ... 6 = Sunday;
- clock times (`time`) and `OnceRule.moment` are naive wall times in the schedule's zone;
- an `Occurrence.at` is an aware datetime in the schedule's zone;
- a `Window` is half-open, [start, end): "22:30-07:00" holds 22:30 but not 07:00;
  end <= start means it crosses midnight; start == end means the whole day.
- per-practice values (quiet_hours, grace, snooze) are already resolved against
  [settings] by the parser: the model holds the effective value.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

ALL_DAYS: frozenset[int] = frozenset(range(7))
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Window:
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def length(self) -> timedelta:
        s = self.start.hour * 60 + self.start.minute
        e = self.end.hour * 60 + self.end.minute
        minutes = (e - s) % (24 * 60) or 24 * 60
        return timedelta(minutes=minutes)

    def contains(self, t: time) -> bool:
        """Is wall time `t` inside the window (half-open)?"""
        t = t.replace(tzinfo=None, fold=0)
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class AtRule:
    """Fixed clock times on chosen days."""

    times: tuple[time, ...]
    days: frozenset[int] = ALL_DAYS


@dataclass(frozen=True)
class EveryRule:
    """Every `interval` from the window's start, while inside the window."""

    interval: timedelta
    window: Window = Window(time(0), time(0))
    days: frozenset[int] = ALL_DAYS


@dataclass(frozen=True)
class RandomRule:
    """`count` unpredictable moments a day inside the window, at least `min_gap` apart."""

    count: int
    window: Window
    min_gap: timedelta = timedelta(minutes=30)
    days: frozenset[int] = ALL_DAYS


@dataclass(frozen=True)
class CronRule:
    """Standard 5-field cron, already parsed. Weekdays here use Python numbering.

    As in standard cron: when both day-of-month and day-of-week are restricted
    (neither is `*`), a day matches if EITHER matches.
    """

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    dom_restricted: bool
    dow_restricted: bool


@dataclass(frozen=True)
class OnceRule:
    moment: datetime  # naive wall time in the schedule's zone


Rule = AtRule | EveryRule | RandomRule | CronRule | OnceRule


class When(enum.StrEnum):
    """When a practice may nudge."""

    ANY = "any"
    TOGETHER = "together"  # only while together mode is on


class Blocked(enum.StrEnum):
    """What becomes of a nudge blocked at its moment (quiet hours, together mode,
    do-not-disturb)."""

    DROP = "drop"  # not shown; nothing waits
    DEFER = "defer"  # shown once the block ends
    DIGEST = "digest"  # gathered into one notification at settings.digest_at


class PhoneWhen(enum.StrEnum):
    """When a nudge also goes to the phone."""

    AWAY = "away"  # only while nobody is at the screen
    ALWAYS = "always"
    NEVER = "never"


class AwayMode(enum.StrEnum):
    """What a nudge does on the desktop while nobody is at the screen."""

    PHONE = "phone"  # to the phone (per [phone] when), and on the desktop for the return
    HOLD = "hold"  # held until the person is back, within its grace; then missed
    SHOW = "show"  # shown anyway, as if someone were there


DEFAULT_PHONE_IDLE = timedelta(minutes=5)


@dataclass(frozen=True)
class Phone:
    """[phone]: where nudges reach the person away from the screen. `ntfy` is the
    topic's URL (the phone subscribes to it); `apprise` are Apprise URLs, one way."""

    ntfy: str | None = None
    when: PhoneWhen = PhoneWhen.AWAY
    idle: timedelta = DEFAULT_PHONE_IDLE  # no input this long counts as away
    token_file: str | None = None  # an access token for a server with access control
    apprise: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        return self.ntfy is not None or bool(self.apprise)


DEFAULT_GRACE = timedelta(minutes=15)
DEFAULT_SNOOZE = timedelta(minutes=10)
DEFAULT_SNOOZE_LONG = timedelta(hours=1)
DEFAULT_MIN_GAP = timedelta(minutes=30)


@dataclass(frozen=True)
class Practice:
    id: str
    title: str
    messages: tuple[str, ...]
    rule: Rule
    enabled: bool = True
    start: date | None = None  # the file's `from`, inclusive
    until: date | None = None  # inclusive
    quiet_hours: Window | None = None  # effective: the practice's own, else [settings]
    grace: timedelta = DEFAULT_GRACE  # effective
    snooze: timedelta = DEFAULT_SNOOZE  # effective
    answer_within: timedelta | None = None  # None: until the practice's next nudge
    repeat: timedelta | None = None
    repeat_max: int = 0
    line: int | None = None  # line of its [[practice]] header in the file
    when: When = When.ANY  # TOGETHER: only while together mode is on
    # A together practice outside together time: DROP or DEFER; None follows `blocked`.
    outside: Blocked | None = None
    discreet: bool = False  # effective: the practice's own, else [settings]
    # A nudge blocked by quiet hours, together mode or do-not-disturb. Effective.
    blocked: Blocked = Blocked.DROP
    phone: PhoneWhen | None = None  # the practice's own; None follows [phone] when


@dataclass(frozen=True)
class Settings:
    timezone: str | None = None  # None: the system's zone
    quiet_hours: Window | None = None
    grace: timedelta = DEFAULT_GRACE
    snooze: timedelta = DEFAULT_SNOOZE
    snooze_long: timedelta = DEFAULT_SNOOZE_LONG
    discreet: bool = False  # a neutral title and a glyph instead of the text
    blocked: Blocked = Blocked.DROP  # the default for every practice's `blocked`
    digest_at: time = time(21, 0)  # when held nudges are gathered into one
    phone: Phone = Phone()  # [phone]
    away: AwayMode | None = None  # as written; None: see `away_mode`

    @property
    def away_mode(self) -> AwayMode:
        """The effective `away`: as written, else "phone" where a phone is set, else
        "show" (a machine nobody sits at, with no phone, would otherwise hold every
        nudge until it is missed)."""
        if self.away is not None:
            return self.away
        return AwayMode.PHONE if self.phone.configured else AwayMode.SHOW


@dataclass(frozen=True)
class Schedule:
    settings: Settings = field(default_factory=Settings)
    practices: tuple[Practice, ...] = ()
    source: str = "<built-in example>"

    def get(self, practice_id: str) -> Practice | None:
        return self._by_id.get(practice_id)

    @functools.cached_property
    def _by_id(self) -> dict[str, Practice]:
        # An index, built once per schedule: a nudge looks its practice up several times,
        # and scanning 10,000 practices each time made it 20 ms late (bench/).
        by_id: dict[str, Practice] = {}
        for p in self.practices:
            by_id.setdefault(p.id, p)  # the first wins, as the scan did
        return by_id


@dataclass(frozen=True, order=True)
class Occurrence:
    """One planned nudge: practice `practice_id` at `at` (aware, schedule's zone)."""

    at: datetime
    practice_id: str


class NudgeState(enum.StrEnum):
    SHOWN = "shown"
    DONE = "done"
    SNOOZED = "snoozed"
    SKIPPED = "skipped"
    DISMISSED = "dismissed"
    MISSED = "missed"
    EXPIRED = "expired"
    # Blocked at its moment (quiet hours, together mode, do-not-disturb): waiting to be
    # shown (deferred, or for the digest), then shown; or never shown.
    HELD = "held"
    DROPPED = "dropped"

    @property
    def is_open(self) -> bool:
        return self in (NudgeState.SHOWN, NudgeState.SNOOZED)


class Action(enum.StrEnum):
    DONE = "done"
    SNOOZE = "snooze"
    SKIP = "skip"
    DISMISS = "dismiss"


# --------------------------------------------------------------------------- held back


class HoldReason(enum.StrEnum):
    """What held a nudge back from the screen at its time."""

    TOGETHER = "together"  # a when = "together" practice outside together time
    QUIET = "quiet"  # the practice's quiet hours
    DND = "dnd"  # the desktop's notifications were paused (do-not-disturb)
    AWAY = "away"  # nobody at the screen, with [settings] away = "hold"


class HoldMode(enum.StrEnum):
    """What a held nudge waits for (a dropped one is not held at all)."""

    DEFER = "defer"  # shown once the block ends
    DIGEST = "digest"  # gathered into the digest at settings.digest_at


@dataclass(frozen=True)
class Held:
    """A nudge held back: one per practice, the newest."""

    practice_id: str
    due: datetime  # aware: its planned instant
    reason: HoldReason
    mode: HoldMode
    # Its nudge in the history (state held until it is shown or dropped); None for one
    # imported from the old held.json, which has none until it is shown.
    nudge_id: str | None = None


@dataclass(frozen=True)
class TogetherState:
    """Together mode: on, until a moment or until switched off. Off when unknown."""

    on: bool = False
    until: datetime | None = None  # aware; None: until switched off

    def active(self, now: datetime) -> bool:
        return self.on and (self.until is None or now < self.until)

    def describe(self, now: datetime, zone: tzinfo) -> str:
        if not self.active(now):
            return "Together mode is off."
        if self.until is None:
            return "Together mode is on, until you switch it off."
        end, today = self.until.astimezone(zone), now.astimezone(zone).date()
        # "until 16:00" read at 17:10 would be misread as a time already past.
        clock = f"{end:%H:%M:%S}" if end.second else f"{end:%H:%M}"
        days = (end.date() - today).days
        day = "" if days == 0 else "tomorrow " if days == 1 else f"{end:%a %d %b} "
        return f"Together mode is on until {day}{clock}."

    def to_json(self) -> dict[str, object]:
        return {"on": self.on, "until": self.until.isoformat() if self.until else None}
