"""Where the person is, as the daemon believes it: at the screen, the screen locked, idle
(no input for a while), or no graphical session at all. Pure: the watchers that read it
(logind, the screensaver, X11's idle time) live in attuned.daemon.presence; `now` is passed
in wherever the words depend on it.

Who reads it: the app layer, to choose where a nudge goes (the desktop, the phone, held
until the person is back), through the `PresenceSource` protocol.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class PresenceState(enum.Enum):
    AT_SCREEN = "at_screen"
    LOCKED = "locked"
    IDLE = "idle"
    NO_DESKTOP = "no_desktop"


@dataclass(frozen=True)
class Presence:
    """One belief about the person: the state, and since when (None: not known)."""

    state: PresenceState
    since: datetime | None = None

    @property
    def away(self) -> bool:
        """Nobody looking at this screen: a desktop bubble now would go unseen."""
        return is_away(self.state)


def is_away(state: PresenceState) -> bool:
    return state is not PresenceState.AT_SCREEN


AT_SCREEN = Presence(PresenceState.AT_SCREEN)
NO_DESKTOP = Presence(PresenceState.NO_DESKTOP)


def describe(presence: Presence, now: datetime) -> str:
    """The belief in words for `attuned status` and `doctor`: "at the screen", "locked
    since 14:02", "idle 12 min", "no desktop". Clock times are in `now`'s zone, so pass
    `now` in the zone the person reads."""
    state, since = presence.state, presence.since
    if state is PresenceState.AT_SCREEN:
        return "at the screen"
    if state is PresenceState.NO_DESKTOP:
        return "no desktop"
    if state is PresenceState.LOCKED:
        if since is None:
            return "locked"
        local = since.astimezone(now.tzinfo)
        if local.date() == now.date():
            return f"locked since {local:%H:%M}"
        return f"locked since {local:%a %d %b %H:%M}"
    if since is None:
        return "idle"
    # Whole minutes, never negative: a clock stepped back must not say "idle -3 min".
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return f"idle {minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"idle {hours} h {rest} min" if rest else f"idle {hours} h"


class Unsubscribe(Protocol):
    def __call__(self) -> None: ...


class PresenceSource(Protocol):
    """What the app layer may ask of a presence watcher. `current()` is cheap and never
    blocks (the watcher keeps its belief up to date from change signals); a subscriber is
    called on the event loop with the new belief each time it changes, and the returned
    callable stops that."""

    def current(self) -> Presence: ...

    def subscribe(self, callback: Callable[[Presence], None]) -> Unsubscribe: ...


class Subscribers:
    """The callbacks a PresenceSource tells of each change, in the order they came."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[Presence], None]] = []

    def add(self, callback: Callable[[Presence], None]) -> Unsubscribe:
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def __iter__(self) -> Iterator[Callable[[Presence], None]]:
        return iter(list(self._callbacks))  # a callback may unsubscribe while told


class FixedPresence:
    """A PresenceSource that never changes: the daemon's when no watcher can run, and the
    app layer's default. `set()` changes it and tells subscribers (tests, and the daemon
    when a watcher is replaced)."""

    def __init__(self, presence: Presence = AT_SCREEN) -> None:
        self._presence = presence
        self._subscribers = Subscribers()

    def current(self) -> Presence:
        return self._presence

    def set(self, presence: Presence) -> None:
        if presence == self._presence:
            return
        self._presence = presence
        for callback in self._subscribers:
            callback(presence)

    def subscribe(self, callback: Callable[[Presence], None]) -> Unsubscribe:
        return self._subscribers.add(callback)
