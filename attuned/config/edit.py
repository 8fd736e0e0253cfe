"""Editing the schedule file, keeping the person's comments, blank lines and order: small
edits are made on the text itself, any edit is validated with the daemon's reader before
it is written, and written atomically under a lock that edits take turns on (`update`),
so that two made at once both land. Also the new file of `attuned init` (write_new).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from attuned import fsutil
from attuned.config.layout import Table, scan
from attuned.config.read import (
    data_and_layout,
    decode,
    exists,
    not_found,
    parse_text,
    parse_toml,
    read_bytes,
)
from attuned.config.validate import PRACTICE_KEYS
from attuned.core.model import Schedule
from attuned.errors import (
    AttunedError,
    ConfigNotFound,
    EditConflict,
    Problem,
    ScheduleError,
)

__all__ = [
    "EDIT_LOCK_WAIT",
    "ConfigExists",
    "ConfigWriteError",
    "ScheduleBusy",
    "add_practice",
    "edit_text",
    "lock_path",
    "remove_practice",
    "set_enabled",
    "set_keys",
    "switch",
    "update",
    "write_new",
]


class ConfigExists(AttunedError):
    """`attuned init` would overwrite an existing schedule."""


class ConfigWriteError(AttunedError):
    """Writing the schedule failed; the old file is intact."""


class ScheduleBusy(AttunedError):
    """Another edit held the schedule's lock for too long; nothing was written."""



# How long an edit waits for another one to finish before it gives up and says so.
EDIT_LOCK_WAIT = 5.0
# How many times an edit is redone when a writer that takes no lock (an editor saving by
# hand) changed the file between our read and our write, before it is refused.
_EDIT_TRIES = 5

_T = TypeVar("_T")


def lock_path(path: Path) -> Path:
    """The lock file that edits of `path` take turns on: beside the file itself (a
    symlink's target, so that the link and the target share one). The daemon's watcher
    matches the schedule's exact name, so this name never looks like a save."""
    target = Path(os.path.realpath(path))
    return target.with_name(f".{target.name}.lock")


def update(path: Path, change: Callable[[bytes | None], tuple[bytes | None, _T]], *,
           mode: int | None = None) -> _T:
    """Replace the schedule at `path`: the one way attuned writes it, so that edits made
    at the same time wait for each other instead of losing each other.

    Under an flock on `lock_path(path)`, held across all of it: read the file (None when
    there is none), call `change` with it for (the new bytes or None to leave it as it
    is, a result to return), check that the file still has the bytes read, and write the
    new bytes atomically (a temp file renamed over it: a reader sees the old file or the
    new one, never half). `change` may raise to refuse; it is called again on the new
    bytes when a writer that takes no lock changed the file meanwhile, EditConflict when
    that keeps happening. `mode`: see fsutil.atomic_write. ScheduleBusy when another edit
    holds the lock for EDIT_LOCK_WAIT seconds; ConfigWriteError when the lock file cannot
    be made or the write fails; the file is then left as it was.
    """
    lock = lock_path(path)
    try:
        with fsutil.held_lock(lock, EDIT_LOCK_WAIT):
            for _ in range(_EDIT_TRIES):
                old = _read_or_none(path)
                new, result = change(old)
                if new is None or new == old:
                    return result
                if _read_or_none(path) != old:
                    continue  # saved meanwhile by something that takes no lock: redo on it
                try:
                    fsutil.atomic_write(path, new, mode=mode)
                except OSError as e:
                    raise ConfigWriteError(f"could not write {path}: {e.strerror or e}; the "
                                           "file was left as it was") from None
                return result
    except fsutil.LockBusy:
        raise ScheduleBusy(_busy_message(path, lock)) from None
    except fsutil.CannotLock as e:
        raise ConfigWriteError(
            f"cannot edit {path}: attuned cannot create its lock file {lock} there "
            f"({e.strerror or e}); edit a schedule in a directory you can write to, so "
            "the file was left as it was") from None
    raise EditConflict(f"{path} changed on disk while attuned was editing it; nothing "
                       "was written. Run the command again.")


def _read_or_none(path: Path) -> bytes | None:
    try:
        return read_bytes(path)
    except ConfigNotFound:
        return None


def _busy_message(path: Path, lock: Path) -> str:
    pid = fsutil.lock_holder(lock)
    who = "another attuned command" if pid is None else f"another attuned command (pid {pid})"
    return (f"{who} is still changing {path}: it has held the lock file {lock} for more "
            f"than {EDIT_LOCK_WAIT:g} seconds, so nothing was written; run the command "
            "again once it has finished")


def edit_text(path: Path, transform: Callable[[str], str]) -> Schedule:
    """Apply `transform` to the file's text and write the result, if it is valid.

    The new text is validated with `parse_text` (the daemon's reader) first; on any
    problem ScheduleError is raised and the file is untouched. It is written by `update`:
    an edit made meanwhile by another attuned command is waited for, and the transform
    applied to the text that edit left.
    """
    if not exists(path):
        read_bytes(path)  # the reason, in words (and no lock file where there is nothing)

    def change(old: bytes | None) -> tuple[bytes, Schedule]:
        if old is None:
            raise not_found(path)  # removed while we waited
        new_text = transform(decode(old, path))
        return new_text.encode("utf-8"), parse_text(new_text, source=str(path))

    return update(path, change)


def add_practice(path: Path, fields: Mapping[str, object]) -> Schedule:
    """Append a [[practice]] table with `fields` (file keys: "id", "title", "at", "from",
    ...). Strings for "once", "from" and "until" are written as TOML date-times / dates."""
    values = _typed(fields)
    pid = values.get("id")

    def transform(text: str) -> str:
        # Key positions (a scan) only for the message: this runs under the edit lock.
        data = parse_toml(text, str(path))
        for i, p in enumerate(data.get("practice", [])):
            if isinstance(p, dict) and p.get("id") == pid:
                layout = scan(text)
                table = layout.practices[i] if i < len(layout.practices) else None
                raise ScheduleError([Problem(
                    str(path),
                    "a practice with this id is already in the file; choose another id, "
                    f"or remove the old one first with: attuned remove {pid}",
                    line=table.line_of("id") if table else None, practice=str(pid), key="id",
                )])
        nl = "\r\n" if "\r\n" in text else "\n"
        if not text.strip():
            sep = ""
        elif not text.endswith("\n"):
            sep = nl + nl
        elif text.endswith(nl + nl):
            sep = ""
        else:
            sep = nl
        return text + sep + _render_practice(values, nl)

    return edit_text(path, transform)


def remove_practice(path: Path, practice_id: str) -> Schedule:
    """Remove a practice's table, with the comment lines directly above its header (no
    blank line between). Comments elsewhere, even just after it, are kept."""

    def transform(text: str) -> str:
        table = _practice_table(text, path, practice_id)
        lines = text.split("\n")
        assert table.header is not None and table.last_content is not None
        start, end = table.header - 1, table.last_content  # 0-based, end exclusive
        while start > 0 and lines[start - 1].strip().startswith("#"):
            start -= 1
        # One blank line separated it from its neighbours: keep one, not two.
        last_real = len(lines) - 1 if lines[-1] == "" else len(lines)
        if end < last_real and not lines[end].strip() and (
            start == 0 or not lines[start - 1].strip()
        ):
            end += 1
        elif end >= last_real and start > 0 and not lines[start - 1].strip():
            start -= 1  # it ended the file: drop the blank line that led to it
        kept = lines[:start] + lines[end:]
        return "\n".join(kept)

    return edit_text(path, transform)


def set_enabled(path: Path, practice_id: str, enabled: bool) -> Schedule:
    """Switch a practice on or off by writing `enabled = true|false` in its table."""
    return switch(path, practice_id, enabled)[0]


def switch(path: Path, practice_id: str, enabled: bool) -> tuple[Schedule, bool]:
    """As set_enabled, and whether the practice was already so (judged under the edit
    lock, on the text the switch is made to)."""
    word = "true" if enabled else "false"
    already: list[bool] = []

    def transform(text: str) -> str:
        table = _practice_table(text, path, practice_id)
        for p in parse_toml(text, str(path)).get("practice", []):
            if isinstance(p, dict) and p.get("id") == practice_id:
                already.append(p.get("enabled", True) is enabled)
                break
        lines = text.split("\n")
        if "enabled" in table.keys:
            i = table.keys["enabled"][0] - 1
            m = re.match(r"(\s*[\"']?enabled[\"']?\s*=\s*)([^\s#]+)(.*)", lines[i], re.S)
            if m is None:  # pragma: no cover - the scan found this key on this line
                raise AttunedError(f"could not find enabled = ... on line {i + 1} of {path}")
            lines[i] = m.group(1) + word + m.group(3)
        elif enabled:
            return text  # absent means enabled
        else:
            after = table.keys["id"][1] if "id" in table.keys else table.header
            assert after is not None
            anchor = lines[after - 1]
            indent = anchor[: len(anchor) - len(anchor.lstrip())]
            cr = "\r" if anchor.endswith("\r") else ""
            lines.insert(after, f"{indent}enabled = false{cr}")
        return "\n".join(lines)

    sched = edit_text(path, transform)
    return sched, bool(already and already[-1])


def set_keys(path: Path, practice_id: str, values: Mapping[str, object | None]) -> Schedule:
    """Set keys of one practice in place (None removes a key), keeping the other lines.

    A key on one line keeps its trailing comment where its old value was a plain scalar;
    a new key goes after the table's last key."""
    typed = _typed({k: v for k, v in values.items() if v is not None})
    gone = [k for k, v in values.items() if v is None]

    def transform(text: str) -> str:
        import tomlkit

        table = _practice_table(text, path, practice_id)
        lines = text.split("\n")
        cr = "\r" if "\r\n" in text else ""
        # (first line, last line, replacement lines), applied bottom up so numbers hold.
        ops: list[tuple[int, int, list[str]]] = []
        added: list[str] = []
        for key, value in typed.items():
            rendered = _render_practice({key: value}, "\n").split("\n")[1:-1]
            if key in table.keys:
                first, last = table.keys[key]
                old = lines[first - 1].rstrip("\r")
                m = re.match(rf"(\s*[\"']?{re.escape(key)}[\"']?\s*=\s*)"
                             r"(\"[^\"]*\"|[^\s#\"\[]+)(\s+#.*)?$", old)
                if first == last and m is not None:
                    one = m.group(1) + tomlkit.item(value).as_string() + (m.group(3) or "")
                    ops.append((first, last, [one + cr]))
                else:
                    ops.append((first, last, [r + cr for r in rendered]))
            else:
                added.extend(r + cr for r in rendered)
        for key in gone:
            if key in table.keys:
                first, last = table.keys[key]
                ops.append((first, last, []))
        if added:
            end = table.last_content
            assert end is not None
            ops.append((end + 1, end, added))  # an insertion after line `end`
        for first, last, repl in sorted(ops, key=lambda o: o[0], reverse=True):
            lines[first - 1:last] = repl
        return "\n".join(lines)

    return edit_text(path, transform)


def write_new(path: Path, text: str, *, force: bool, now: datetime | None = None) -> Path | None:
    """Write a new schedule file (for `attuned init`). An existing file is refused unless
    `force`; then it is first copied aside to `<name>.bak-YYYYmmdd-HHMMSS`, whose path is
    returned (None when there was no old file)."""
    parse_text(text, source=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigWriteError(f"could not write {path}: {e.strerror or e}") from None

    def replace(old: bytes | None) -> tuple[bytes, Path | None]:
        if old is None:
            return text.encode("utf-8"), None
        if not force:
            raise ConfigExists(f"{path} already exists, so attuned left it alone; to start "
                               "over from the example, run: attuned init --force "
                               "(your old file is kept as a backup)")
        old_mode = stat.S_IMODE(path.stat().st_mode)
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        backup = _free_name(path.with_name(f"{path.name}.bak-{stamp}"))
        try:
            fsutil.atomic_write(backup, old, mode=old_mode)
        except OSError as e:
            raise ConfigWriteError(f"could not keep a backup at {backup}: {e.strerror or e}; "
                                   f"{path} was left as it was") from None
        return text.encode("utf-8"), backup

    return update(path, replace)


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _practice_table(text: str, path: Path, practice_id: str) -> Table:
    data, layout = data_and_layout(text, str(path))
    raw = data.get("practice", [])
    items = raw if isinstance(raw, list) else []
    ids = [p.get("id") for p in items if isinstance(p, dict)]
    for i, p in enumerate(items):
        if isinstance(p, dict) and p.get("id") == practice_id:
            if len(layout.practices) != len(items) or layout.practices[i].header is None:
                raise AttunedError(f"{path} writes its practices in a form attuned cannot "
                                   "edit safely; edit it by hand with: attuned edit")
            return layout.practices[i]
    from attuned.core.names import unknown_practice

    raise unknown_practice(practice_id, [str(i) for i in ids if isinstance(i, str)])


def _typed(fields: Mapping[str, object]) -> dict[str, object]:
    """TOML-typed values: dates as dates and `once` as a date-time when given as text."""
    out: dict[str, object] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key in ("from", "until") and isinstance(value, str):
            # Left as text when it is no date: validation then says what is wrong with it.
            with contextlib.suppress(ValueError):
                value = date.fromisoformat(value.strip())
        elif key == "once" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value.strip().replace(" ", "T"))
        if isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def _render_practice(values: Mapping[str, object], nl: str) -> str:
    import tomlkit

    order = {k: i for i, k in enumerate(PRACTICE_KEYS)}
    lines = ["[[practice]]"]
    for key in sorted(values, key=lambda k: order.get(k, len(order))):
        value = values[key]
        name = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
        if isinstance(value, list) and len(value) > 1 and key == "message":
            items = "".join(f"    {tomlkit.item(v).as_string()},{nl}" for v in value)
            lines.append(f"{name} = [{nl}{items}]")
        else:
            lines.append(f"{name} = {tomlkit.item(value).as_string()}")
    return nl.join(lines) + nl


def set_phone_topic(path: Path, url: str) -> Schedule:
    """Write `ntfy = "URL"` into [phone]: over the key where it is, else at the top of
    the table, else in a new [phone] table at the end; every other line as it was."""

    def transform(text: str) -> str:
        nl = "\r\n" if "\r\n" in text else "\n"
        lines = text.split(nl)
        line = f"ntfy = {json.dumps(url)}"
        table = scan(text).tables.get("phone")
        if table is None:
            tail = "" if not text or text.endswith(nl) else nl
            block = ["", "[phone]", f"{line}   # the topic your phone subscribes to", ""]
            return text + tail + nl.join(block)
        if "ntfy" in table.keys:
            first, last = table.keys["ntfy"]
            comment = re.search(r"\s+#.*$", lines[last - 1])
            lines[first - 1:last] = [line + (comment.group(0) if comment else "")]
        else:
            assert table.header is not None
            lines.insert(table.header, line)
        return nl.join(lines)

    return edit_text(path, transform)
