"""Writes to the history that could not be made when they came: kept in memory, in order,
and made as soon as the database takes them.

The history can refuse a write for a while: another process holds its lock beyond the
busy timeout, the disk is full, the file system went read-only. A nudge must still come
then (the notifier chain shows it), and neither it nor an answer may be lost silently. So
the daemon core hands such a write here: it is tried again on the event loop with a
backoff (1 s, doubling, at most 30 s apart), each try waiting only briefly for the lock,
so the loop never stands still for the whole busy timeout again. Kept writes are made
oldest first: an answer is never written before the nudge it answers. A write that still
cannot be made after its `keep_for` (the practice's grace, at least a few minutes) is
given up, and the log says what was not recorded, with the nudge's words.

The person hears of it once per outage (a log warning and, through `tell`, one
notification), and the log says when the history can be written again.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from attuned.core.clock import Clock, Timer
from attuned.errors import AttunedError
from attuned.state.store import Store, StoreUnavailable

log = logging.getLogger("attuned")

T = TypeVar("T")

FIRST_RETRY = 1.0  # seconds after a failed try
LONGEST_RETRY = 30.0
RETRY_PATIENCE = 0.5  # seconds a retry waits for the lock (the loop waits with it)
KEEP_AT_MOST = 1000  # kept writes; beyond that the oldest is given up


def cannot_write_text(store: Store, reason: str) -> str:
    """What the person is told, once, when the history stops taking writes."""
    return (f"attuned cannot write its history at {store.path}: {reason}; nudges still "
            "come, answers are kept once it can write again")


@dataclass(frozen=True)
class _Kept:
    what: str  # for the log: what would be lost, in the person's words
    write: Callable[[], Any]
    give_up_at: datetime
    then: Callable[[Any], object] | None  # with the write's result, once written
    failed: Callable[[], object] | None  # when it is given up or refused


class WriteBacklog:
    """The kept writes of one daemon run (single-threaded: the event loop's)."""

    def __init__(self, store: Store, clock: Clock, *,
                 tell: Callable[[str], object] | None = None,
                 first_retry: float = FIRST_RETRY, longest_retry: float = LONGEST_RETRY,
                 patience: float = RETRY_PATIENCE) -> None:
        self.store = store
        self.clock = clock
        self.now = clock.now
        self.tell = tell
        self.first_retry = first_retry
        self.longest_retry = longest_retry
        self.patience = patience
        self._kept: collections.deque[_Kept] = collections.deque()
        self._failing = False  # since the first refused write, until one is made again
        self._delay: float | None = None  # the next retry's; None: first_retry
        self._timer: Timer | None = None
        # When a retry was last refused: a write coming just after it waits its turn
        # rather than stand the loop still for another try.
        self._refused_at = -math.inf
        self._empty = asyncio.Event()
        self._empty.set()

    @property
    def pending(self) -> int:
        return len(self._kept)

    def write(self, what: str, write: Callable[[], T], *, keep_for: timedelta,
              then: Callable[[T], object] | None = None,
              failed: Callable[[], object] | None = None) -> T | None:
        """Make `write` now if the history takes it (and call `then` with its result),
        else keep it and try again later. Returns the result if it was made now, None
        if it was kept. Errors other than StoreUnavailable are the caller's."""
        if self._kept and time.monotonic() - self._refused_at >= self.patience:
            self.flush()  # older writes first: never an answer before its nudge
        if self._kept:  # still refused: this one would be too, so it waits behind them
            self._append(_Kept(what, write, self.now() + keep_for, then, failed))
            log.info("keeping %s until the history can be written", what)
            return None
        try:
            result = write()
        except StoreUnavailable as e:
            self._keep(_Kept(what, write, self.now() + keep_for, then, failed), e)
            return None
        self.worked()
        if then is not None:
            then(result)
        return result

    def keep(self, what: str, write: Callable[[], T], error: StoreUnavailable, *,
             keep_for: timedelta, then: Callable[[T], object] | None = None,
             failed: Callable[[], object] | None = None) -> None:
        """Keep a write whose first try (made elsewhere) failed with `error`."""
        self._keep(_Kept(what, write, self.now() + keep_for, then, failed), error)

    def _keep(self, item: _Kept, error: StoreUnavailable) -> None:
        self._refused_at = time.monotonic()
        log.info("could not record %s: %s; trying again shortly", item.what, error.reason)
        if not self._failing:
            self._failing = True
            text = cannot_write_text(self.store, error.reason)
            log.warning("%s", text)
            if self.tell is not None:
                self.tell(text)
        self._append(item)
        self._arm()

    def _append(self, item: _Kept) -> None:
        self._kept.append(item)
        self._empty.clear()
        while len(self._kept) > KEEP_AT_MOST:
            self._give_up(self._kept.popleft(), f"more than {KEEP_AT_MOST} writes waited")

    def flush(self) -> int:
        """Try the kept writes now, oldest first, until one is refused. Returns how many
        were made."""
        self._cancel_timer()
        done = 0
        if not self._kept:
            return done
        reason = None
        with self.store.patience(min(self.patience, self.store.busy_timeout)):
            while self._kept:
                item = self._kept[0]
                try:
                    result = item.write()
                except StoreUnavailable as e:
                    reason = e.reason
                    self._refused_at = time.monotonic()
                    break
                except AttunedError as e:  # e.g. answered meanwhile: it can never be made
                    self._kept.popleft()
                    log.info("%s was not recorded: %s", item.what, e)
                    self._call(item.failed)
                    continue
                self._kept.popleft()
                done += 1
                self.worked()
                log.info("recorded %s, kept while the history could not be written",
                         item.what)
                if item.then is not None:
                    self._call(item.then, result)
        if self._kept:
            now = self.now()
            for item in [k for k in self._kept if k.give_up_at <= now]:
                self._kept.remove(item)
                self._give_up(item, f"the history could not be written ({reason})")
        if self._kept:
            self._arm()
        else:
            self._empty.set()
        return done

    async def written(self) -> None:
        """Wait until nothing is kept (for tests and a clean stop)."""
        await self._empty.wait()

    def close(self) -> None:
        """At exit: one last try; whatever is still kept is given up (and logged)."""
        self.flush()
        self._cancel_timer()
        while self._kept:
            self._give_up(self._kept.popleft(), "attuned stopped before the history "
                          "could be written")
        self._empty.set()

    # internals -------------------------------------------------------------------------

    def worked(self) -> None:
        """A write was made (here or by the caller): the history takes writes again."""
        self._delay = None
        if self._failing:
            self._failing = False
            log.info("attuned can write its history at %s again", self.store.path)

    def _give_up(self, item: _Kept, why: str) -> None:
        log.error("not recorded in the history: %s; %s", item.what, why)
        self._call(item.failed)

    def _arm(self) -> None:
        if self._timer is not None:
            return
        delay = self._delay or self.first_retry
        try:
            self._timer = self.clock.call_later(delay, self._retry)
        except RuntimeError:  # no event loop (a one-off command): flush() by hand
            return
        self._delay = min(delay * 2, self.longest_retry)

    def _retry(self) -> None:
        self._timer = None
        self.flush()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @staticmethod
    def _call(fn: Callable[..., object] | None, *args: Any) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            log.exception("after a kept write")
