"""What every part of the core works with: the store, the notifier, the planner, the
schedule in force, the zone, the seed, the clock, its tasks and its kept writes (`Core`),
and the bubble signals that wait for an id (`Signals`). The other app modules take a
`Core`; attuned.app.service puts them together."""

from __future__ import annotations

import builtins
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from attuned.core.clock import Clock
from attuned.core.keys import JobKey
from attuned.core.model import Practice, Schedule
from attuned.core.presence import PresenceSource
from attuned.notify.base import Notification, Notifier, PhoneChannel
from attuned.state.store import Store
from attuned.tasks import TaskSet

if TYPE_CHECKING:
    # Imported when first needed: `attuned history` and `stats` read through this
    # package and need no event loop (the backlog's asyncio).
    from attuned.app.backlog import WriteBacklog

log = logging.getLogger("attuned")

# A write the history refuses (busy, disk full, read-only) is tried again for the
# practice's grace, and for at least this long, before the log says it was not recorded.
KEEP_TRYING = timedelta(minutes=5)
CANNOT_WRITE_TITLE = "attuned cannot write its history"


class Planner(Protocol):
    """What the core needs of the scheduler (attuned.daemon.scheduler.NudgeScheduler):
    one pending moment per key."""

    def set(self, key: JobKey, run_at: datetime, grace: timedelta) -> bool: ...
    def remove(self, key: JobKey) -> None: ...
    def keys(self) -> builtins.set[JobKey]: ...
    def batch(self) -> contextlib.AbstractContextManager[None]: ...
    def due_times(self) -> dict[JobKey, datetime]: ...


@dataclass
class ScheduleState:
    schedule: Schedule
    loaded_at: datetime
    error: str | None = None  # the text of the last rejected edit, until fixed
    using_example: bool = False


Dispatch = Callable[[int, str, str], None]  # (notification id, kind, argument)


@dataclass
class Signals:
    """Signals about a bubble can arrive before the reply that tells us its id (D-Bus
    dispatches signals at once; the awaiting code resumes a loop turn later), or before
    its nudge could be written to the history. Those are kept here, in the order they
    came, while any send or such write is under way (`in_flight`), and handed to
    `dispatch` once the id is known (`replay`)."""

    dispatch: Dispatch | None = None
    in_flight: int = 0
    _early: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def keep(self, notification_id: int, kind: str, arg: str) -> bool:
        if self.in_flight == 0 or len(self._early) > 64:
            return False
        self._early.setdefault(notification_id, []).append((kind, arg))
        return True

    @property
    def waiting(self) -> int:
        """How many bubbles have signals kept for them."""
        return len(self._early)

    def replay(self, nid: int | None) -> None:
        early = self._early.pop(nid, []) if nid is not None else []
        if self.in_flight == 0:
            self._early.clear()
        if self.dispatch is None:
            return
        for kind, arg in early:
            self.dispatch(nid or 0, kind, arg)


@dataclass
class Core:
    """The daemon's core state. Single-threaded: everything runs on the event loop."""

    store: Store
    notifier: Notifier
    planner: Planner
    state: ScheduleState
    zone: ZoneInfo
    seed: str
    clock: Clock  # the daemon's one clock: its wall time, and timers for kept writes
    # What a signal or a due nudge started: drained before the store closes.
    tasks: TaskSet = field(default_factory=lambda: TaskSet("core"))
    signals: Signals = field(default_factory=Signals)
    # Nudges shown before the history could record them: id -> notification id.
    unrecorded: dict[str, int | None] = field(default_factory=dict)
    _backlog: WriteBacklog | None = None
    phone: PhoneChannel | None = None  # [phone]: where nudges reach the person away
    # Is nobody at the screen? None where it cannot be told (then "away" is not).
    is_away: Callable[[], bool | None] | None = None
    presence: PresenceSource | None = None  # where the person is (the daemon's watcher)

    @property
    def schedule(self) -> Schedule:
        return self.state.schedule

    def now(self) -> datetime:
        return self.clock.now()

    def grace(self, practice_id: str) -> timedelta:
        p = self.schedule.get(practice_id)
        return p.grace if p else self.schedule.settings.grace

    def keep_for(self, practice_id: str) -> timedelta:
        """How long a write the history refuses is tried again (attuned.app.backlog)."""
        return max(self.grace(practice_id), KEEP_TRYING)

    def practice(self, practice_id: str) -> Practice | None:
        return self.schedule.get(practice_id)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.tasks.spawn(coro)

    @property
    def backlog(self) -> WriteBacklog:
        """Writes the history refused for now, tried again (attuned.app.backlog)."""
        if self._backlog is None:
            from attuned.app.backlog import WriteBacklog

            self._backlog = WriteBacklog(self.store, self.clock, tell=self._tell_unwritable)
        return self._backlog

    @property
    def has_kept_writes(self) -> bool:
        return self._backlog is not None and self._backlog.pending > 0

    def flush_kept(self) -> None:
        """At exit: writes the history refused get one last try; the log names the rest."""
        if self._backlog is not None:
            self._backlog.close()

    def _tell_unwritable(self, text: str) -> None:
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not in the daemon's loop: the log has said it
            return

        async def tell() -> None:
            try:
                await self.notifier.send(Notification(title=CANNOT_WRITE_TITLE, body=text))
            except Exception as e:  # the log has said it already
                log.debug("could not show %r: %s", CANNOT_WRITE_TITLE, e)

        self.spawn(tell())

    async def close_bubble(self, notification_id: int) -> None:
        try:
            await self.notifier.close_notification(notification_id)
        except Exception as e:  # the answer is recorded; a stale bubble is harmless
            log.debug("could not close notification %s: %s", notification_id, e)
