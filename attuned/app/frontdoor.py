"""The one way in for the command line's answers: ask the running daemon, and where
none runs, do it on the history directly. So `attuned done`, `reflect` and `together`
behave alike, and each says what became of it (a result object, never printing).

The daemon is reached through `DaemonLink` (attuned.daemon.control's client); what the
history needs comes through `open_store`. Neither is imported here: the CLI hands them
in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from attuned.app import answering, review
from attuned.app.answering import AnswerResult
from attuned.app.holding import TogetherResult
from attuned.app.reflecting import ReflectResult
from attuned.core import together as tg
from attuned.core.model import Action, Schedule, TogetherState
from attuned.errors import DaemonBusy, DaemonNotRunning
from attuned.state.store import Store


class DaemonLink(Protocol):
    """A running daemon's control socket: DaemonNotRunning when none answers."""

    def call(self, method: str, params: Mapping[str, object]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Outcome:
    """What a front-door request did: its result, and whether the daemon did it."""

    text: str  # what to tell the person
    by_daemon: bool


def _params(**kw: object) -> dict[str, object]:
    return {k: v for k, v in kw.items() if v is not None}


def answer(link: DaemonLink, open_store: Callable[[], Store], target: str | None,
           action: Action, *, now: datetime, schedule: Schedule | None,
           note: str | None = None, how: str | None = None,
           length: str | None = None) -> Outcome:
    """done | skip | snooze, by the daemon if it runs, else in the history (a snooze
    needs the daemon to bring the nudge back: refused without it)."""
    try:
        res = link.call(action.value, _params(target=target, note=note, how=how,
                                              **{"for": length}))
        return Outcome(str(res["text"]), True)
    except DaemonBusy as e:
        # Refused before reading: nothing was answered, so the history takes it (a snooze
        # still needs the daemon to bring the nudge back).
        if action == Action.SNOOZE:
            raise DaemonBusy(f"{e}; try the snooze again in a moment, or answer with "
                             "`attuned done` / `attuned skip`") from None
    except DaemonNotRunning:
        if action == Action.SNOOZE:
            raise DaemonNotRunning(
                "snooze needs the daemon to bring the nudge back, and it is not running; "
                "start it with `attuned run` (or `systemctl --user start attuned`), or "
                "answer with `attuned done` / `attuned skip`") from None
    store = open_store()
    try:
        result: AnswerResult = answering.answer(store, target, action, at=now, source="cli",
                                                schedule=schedule, note=note, how=how)[1]
    finally:
        store.close()
    return Outcome(result.describe(), False)


def reflect(link: DaemonLink, open_store: Callable[[], Store], practice_id: str | None,
            verdict: str, text: str, *, now: datetime) -> ReflectResult:
    """Keep a reflection, through the daemon (it also closes the question's bubble) or
    in the history."""
    try:
        res = link.call("reflect", _params(practice=practice_id, verdict=verdict, text=text))
        answered = res.get("answered")
        return ReflectResult(str(res["practice"]), verdict, text,
                             answered if isinstance(answered, str) else None)
    except DaemonNotRunning:
        pass
    store = open_store()
    try:
        pid = practice_id or review.default_practice(store)
        refl, answered_id = review.record(store, pid, verdict, text, at=now, source="cli")
    finally:
        store.close()
    return ReflectResult(pid, refl.verdict, refl.text, answered_id)


def together(link: DaemonLink, open_store: Callable[[], Store], word: str,
             until: str | None, *, now: datetime, zone: ZoneInfo) -> tuple[TogetherResult,
                                                                           bool]:
    """Switch together mode: the daemon also releases what waited for it; without one,
    the store keeps the switch for when it starts. Returns the result and whether the
    daemon did it."""
    state: TogetherState = tg.switch(word, until, now, zone)  # a bad word: before any socket
    try:
        res = link.call("together", _params(switch=word, until=until))
        released = res.get("released") or []
        return TogetherResult(state, str(res["text"]),
                              tuple(str(r) for r in released)
                              if isinstance(released, list) else ()), True
    except (DaemonNotRunning, DaemonBusy):
        pass
    store = open_store()
    try:
        store.set_together(state)
    finally:
        store.close()
    return TogetherResult(state, state.describe(now, zone)), False
