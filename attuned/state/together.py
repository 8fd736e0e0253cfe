"""Together mode: some practices only make sense while the partner is around.

`attuned together on | off | until 22:00` switches it. The state is a small JSON file in
the state directory (written atomically), so it survives restarts; the CLI tells a
running daemon through the control socket, or writes the file itself.

Nudges held back (by together mode, quiet hours or do-not-disturb; see
attuned.app.practising) wait in held.json next to it, one per practice (the newest), until
released or gathered into the digest. blocked.json keeps, per practice, the planned time
of the newest nudge held or dropped, so a restart does not count those as missed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from attuned import fsutil, paths
from attuned.core.durations import parse_clock
from attuned.errors import AttunedError


class TogetherError(AttunedError):
    pass


@dataclass(frozen=True)
class TogetherState:
    on: bool = False
    until: datetime | None = None  # aware; None: until switched off

    def active(self, now: datetime) -> bool:
        return self.on and (self.until is None or now < self.until)

    def describe(self, now: datetime, zone: ZoneInfo) -> str:
        if not self.active(now):
            return "Together mode is off."
        if self.until is None:
            return "Together mode is on, until you switch it off."
        return f"Together mode is on until {self.until.astimezone(zone):%H:%M}."

    def to_json(self) -> dict[str, object]:
        return {"on": self.on, "until": self.until.isoformat() if self.until else None}


def state_file() -> Path:
    return paths.state_dir() / "together.json"


def held_file() -> Path:
    return paths.state_dir() / "held.json"


def blocked_file() -> Path:
    return paths.state_dir() / "blocked.json"


def load(path: Path | None = None) -> TogetherState:
    path = path or state_file()
    try:
        data = json.loads(path.read_text("utf-8"))
        until = data.get("until")
        return TogetherState(bool(data.get("on")),
                             datetime.fromisoformat(until) if until else None)
    except FileNotFoundError:
        return TogetherState()
    except (OSError, ValueError, AttributeError, TypeError):
        return TogetherState()  # unreadable: apart is the safe reading (nothing shown)


def _write_json(path: Path, data: object) -> None:
    paths.ensure_private_dir(path.parent)
    fsutil.atomic_write(path, json.dumps(data).encode())


def save(state: TogetherState, path: Path | None = None) -> None:
    _write_json(path or state_file(), state.to_json())


def switch(word: str, until_text: str | None, now: datetime, zone: ZoneInfo) -> TogetherState:
    """"on", "off", or "until" with a clock time (the next time it is that o'clock)."""
    if word == "on":
        return TogetherState(True, None)
    if word == "off":
        return TogetherState(False, None)
    if word == "until":
        if not until_text:
            raise TogetherError('say until when, like: attuned together until 22:00')
        try:
            t = parse_clock(until_text)
        except ValueError as e:
            raise TogetherError(str(e)) from None
        local = now.astimezone(zone)
        end = local.replace(hour=t.hour, minute=t.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return TogetherState(True, end)
    raise TogetherError(f'"{word}" is not a together switch; say on, off, or until HH:MM')


# --------------------------------------------------------------------------- held nudges


@dataclass(frozen=True)
class Held:
    practice_id: str
    due: datetime
    reason: str  # "together" | "quiet" | "dnd"
    mode: str  # "defer" | "digest"


def load_held(path: Path | None = None) -> list[Held]:
    path = path or held_file()
    try:
        data = json.loads(path.read_text("utf-8"))
        return [Held(d["practice"], datetime.fromisoformat(d["due"]), d["reason"], d["mode"])
                for d in data]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError):
        return []


def save_held(items: list[Held], path: Path | None = None) -> None:
    _write_json(path or held_file(), [
        {"practice": h.practice_id, "due": h.due.isoformat(), "reason": h.reason,
         "mode": h.mode} for h in items])


def hold(item: Held, path: Path | None = None) -> None:
    """Keep one held nudge per practice: the newest replaces an older one (no bursts)."""
    items = [h for h in load_held(path) if h.practice_id != item.practice_id]
    save_held([*items, item], path)


def take(pred: object, path: Path | None = None) -> list[Held]:
    """Remove and return the held nudges for which `pred(h)` is true."""
    assert callable(pred)
    items = load_held(path)
    out = [h for h in items if pred(h)]
    if out:
        save_held([h for h in items if not pred(h)], path)
    return out


def load_blocked(path: Path | None = None) -> dict[str, datetime]:
    """Per practice, the planned time of its newest nudge that was held or dropped."""
    path = path or blocked_file()
    try:
        data = json.loads(path.read_text("utf-8"))
        return {str(k): datetime.fromisoformat(v) for k, v in data.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}  # damaged: the worst outcome is one nudge counted as missed


def mark_blocked(practice_id: str, due: datetime, path: Path | None = None) -> None:
    path = path or blocked_file()
    marks = load_blocked(path)
    old = marks.get(practice_id)
    if old is not None and old >= due:
        return
    marks[practice_id] = due
    _write_json(path, {k: v.isoformat() for k, v in marks.items()})
