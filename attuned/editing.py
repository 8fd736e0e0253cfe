"""`attuned edit`: the user edits a draft beside the file; the file is replaced only by a
valid draft, atomically, and only if nobody changed it meanwhile. An invalid draft is
never thrown away: it is kept beside the file and the user is told where."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from attuned.errors import EditConflict, Problem, ScheduleError


@dataclass(frozen=True)
class EditResult:
    saved: bool
    message: str
    draft: Path | None = None  # where an unsaved draft was kept


def _keep_draft(draft: Path, path: Path) -> Path:
    keep = path.with_name(f"{path.name}.draft-{datetime.now():%Y%m%d-%H%M%S}")
    os.replace(draft, keep)
    return keep


def _validate(data: bytes, path: Path) -> int:
    from attuned import schedule

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScheduleError([Problem(str(path), f"the file is not UTF-8 text ({e.reason} at "
                                               f"byte {e.start}); save it as UTF-8")]) from None
    return len(schedule.parse_text(text, str(path)).practices)


def edit_interactively(
    path: Path,
    run_editor: Callable[[Path], None],
    ask_reopen: Callable[[ScheduleError], bool],
) -> EditResult:
    from attuned import schedule
    from attuned.fsutil import atomic_write

    existed = path.exists()
    original = path.read_bytes() if existed else schedule.example_text().encode()
    mode = path.stat().st_mode & 0o777 if existed else None
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same directory (same filesystem for the final rename); .toml for editor highlighting.
    draft = path.with_name(f".{path.stem}.edit-{os.getpid()}.toml")
    draft.write_bytes(original)
    while True:
        run_editor(draft)
        data = draft.read_bytes()
        if existed and data == original:
            draft.unlink()
            return EditResult(False, f"No changes; {path} is as it was.")
        try:
            count = _validate(data, path)
        except ScheduleError as error:
            if ask_reopen(error):
                continue
            keep = _keep_draft(draft, path)
            return EditResult(
                False,
                f"Your edit was not saved: {path} is unchanged, and a running daemon keeps "
                f"the last good schedule. Your draft is kept in {keep}; fix it and copy it "
                "over, or run `attuned edit` again.",
                keep,
            )
        current = path.read_bytes() if path.exists() else None
        if current != (original if existed else None):
            keep = _keep_draft(draft, path)
            raise EditConflict(
                f"{path} changed on disk while you were editing it, so your edit was not "
                f"written over it. Your draft is kept in {keep}."
            )
        atomic_write(path, data, mode=mode)
        draft.unlink()
        return EditResult(True, f"Saved {path}: {count} practices, all valid.")
