"""`attuned edit`: the user edits a draft beside the file; the file is replaced only by a
valid draft, atomically, and only if nobody changed it meanwhile (checked under the lock
that every attuned edit takes, attuned.config.edit.update). A draft that is not saved is never
thrown away: it is kept beside the file and the user is told where."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from attuned import paths
from attuned.errors import AttunedError, EditConflict, Problem, ScheduleError


class _ChangedMeanwhile(Exception):
    pass


class DraftError(AttunedError):
    """The draft could not be written beside the file, or the editor took it away."""


@dataclass(frozen=True)
class EditResult:
    saved: bool
    message: str
    draft: Path | None = None  # where an unsaved draft was kept


def _keep_draft(draft: Path, path: Path) -> Path:
    keep = path.with_name(f"{path.name}.draft-{datetime.now():%Y%m%d-%H%M%S}")
    os.replace(draft, keep)
    return keep


def _drop_if_untouched(draft: Path, original: bytes) -> None:
    """Remove a draft that holds only what it was made from (the editor never started)."""
    try:
        if draft.read_bytes() == original:
            draft.unlink()
    except OSError:
        pass  # gone already, or unreadable: nothing of the person's to lose either way


def _validate(data: bytes, path: Path) -> int:
    from attuned.config.read import parse_text

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScheduleError([Problem(str(path), f"the file is not UTF-8 text ({e.reason} at "
                                               f"byte {e.start}); save it as UTF-8")]) from None
    return len(parse_text(text, str(path)).practices)


def edit_interactively(
    path: Path,
    run_editor: Callable[[Path], None],
    ask_reopen: Callable[[ScheduleError], bool],
) -> EditResult:
    from attuned.config.read import example_text, exists, read_bytes

    existed = exists(path)
    original = read_bytes(path) if existed else example_text().encode()
    mode = path.stat().st_mode & 0o777 if existed else None
    paths.make_dir(path.parent, instead="give another schedule file with --config")
    # Same directory (same filesystem for the final rename); .toml for editor highlighting.
    draft = path.with_name(f".{path.stem}.edit-{os.getpid()}.toml")
    try:
        draft.write_bytes(original)
    except OSError as e:
        # A full disk leaves part of the draft written: no half copy is left behind.
        with contextlib.suppress(OSError):
            draft.unlink()
        raise DraftError(f"cannot write the draft {draft}: {e.strerror or e}; check that you "
                         f"may write in {path.parent}") from None
    unchanged = f"{path} is as it was" if existed else f"no {path} was made"
    while True:
        try:
            run_editor(draft)
        except AttunedError:
            _drop_if_untouched(draft, original)
            raise
        try:
            data = draft.read_bytes()
        except FileNotFoundError:
            raise DraftError(f"the draft {draft} is gone (the editor deleted or renamed it), "
                             f"so nothing was saved and {unchanged}; run `attuned edit` "
                             "again and save under the name the editor opened") from None
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
        _save(path, draft, original if existed else None, data, mode)
        return EditResult(True, f"Saved {path}: {count} practices, all valid.")


def _save(path: Path, draft: Path, expected: bytes | None, data: bytes,
          mode: int | None) -> None:
    """Replace `path` with `data` if it still holds `expected` (None: no file), under
    the edit lock; otherwise keep the draft and say where."""
    from attuned.config.edit import update

    def replace(current: bytes | None) -> tuple[bytes, None]:
        # The draft was made from `expected`: over anything else it would undo an edit.
        if current != expected:
            raise _ChangedMeanwhile
        return data, None

    try:
        update(path, replace, mode=mode)
    except _ChangedMeanwhile:
        keep = _keep_draft(draft, path)
        raise EditConflict(
            f"{path} changed on disk while you were editing it, so your edit was not "
            f"written over it. Your draft is kept in {keep}: run `attuned edit` again "
            "and bring your changes over from it."
        ) from None
    except AttunedError as e:  # could not take the lock or write: the draft stays
        keep = _keep_draft(draft, path)
        raise AttunedError(f"{e}. Your draft is kept in {keep}.") from None
    draft.unlink()
