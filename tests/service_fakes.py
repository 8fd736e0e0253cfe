"""Named fakes for service-level tests, on a real SQLite store: FakePlanner records the
jobs the core asks the scheduler for, FakeNotifier records what would be shown, Clock is
the FAKE clock with a settable `at`. The real scheduler and a real bus are exercised by
the daemon tests."""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from fakeclock import FakeClock

from attuned.app.service import ScheduleState, Service
from attuned.core.keys import JobKey
from attuned.core.model import AtRule, Blocked, Practice, Schedule, Settings, When
from attuned.notify.base import Delivery, Notification
from attuned.state.store import Store

UTCZ = ZoneInfo("UTC")


@dataclass
class FakePlanner:
    """The core's timers, by their keys written out ("p:breakfast", "s:k3f2")."""

    jobs: dict[str, tuple[datetime, timedelta]] = field(default_factory=dict)

    def set(self, key: JobKey, run_at: datetime, grace: timedelta) -> bool:
        changed = self.jobs.get(str(key)) != (run_at, grace)
        self.jobs[str(key)] = (run_at, grace)
        return changed

    def remove(self, key: JobKey) -> None:
        self.jobs.pop(str(key), None)

    def keys(self) -> builtins.set[JobKey]:
        return {JobKey.parse(k) for k in self.jobs}

    def due_times(self) -> dict[JobKey, datetime]:
        return {JobKey.parse(k): v[0] for k, v in self.jobs.items()}

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        yield


@dataclass
class FakeNotifier:
    sent: list[Notification] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    on_action: object = None
    on_closed: object = None

    async def send(self, n: Notification) -> Delivery:
        self.sent.append(n)
        return Delivery("fake", len(self.sent), "fake")

    async def close_notification(self, notification_id: int) -> None:
        self.closed.append(notification_id)

    async def aclose(self) -> None:
        pass


class Clock(FakeClock):
    """The FAKE clock with its wall time settable by hand (`clock.at = ...`), as the
    service tests move it between calls."""

    @property
    def at(self) -> datetime:
        return self.now()

    @at.setter
    def at(self, value: datetime) -> None:
        self.step((value - self.now()).total_seconds())

    def __call__(self) -> datetime:
        return self.now()


def practice(**kw: object) -> Practice:
    """A practice as the schedule's reader makes one (`when`, `outside` and `blocked` may
    be given as the words of the file)."""
    base: dict[str, object] = dict(id="breakfast", title="Breakfast presence",
                                   messages=("Paper down.",), rule=AtRule((time(7, 30),)))
    base.update(kw)
    for key, kind in (("when", When), ("outside", Blocked), ("blocked", Blocked)):
        if isinstance(base.get(key), str):
            base[key] = kind(base[key])
    return Practice(**base)  # type: ignore[arg-type]


def make(store: Store, *practices: Practice, at: datetime,
         settings: Settings | None = None, zone: ZoneInfo = UTCZ
         ) -> tuple[Service, FakePlanner, FakeNotifier, Clock]:
    """A Service on `store` with the fakes; the schedule holds `practices` (default: one
    breakfast practice at 07:30)."""
    planner, notifier, clock = FakePlanner(), FakeNotifier(), Clock(at)
    sched = Schedule(settings or Settings(timezone=str(zone)), practices or (practice(),),
                     "test.toml")
    svc = Service(store=store, notifier=notifier, planner=planner,
                  state=ScheduleState(sched, at), zone=zone, seed="s", clock=clock)
    return svc, planner, notifier, clock


async def settle(svc: Service) -> None:
    assert await svc.tasks.idle(10)


async def written(svc: Service) -> None:
    """Move the FAKE clock on until the writes the history refused are made (the test
    has let go of its lock by then)."""
    clock = svc.clock
    assert isinstance(clock, FakeClock)
    for _ in range(200):
        if not svc.backlog.pending:
            return
        await clock.advance(0.5)
    raise AssertionError(f"{svc.backlog.pending} writes still kept")
