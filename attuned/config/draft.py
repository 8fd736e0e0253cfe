"""`attuned edit`: the user edits a draft beside the file; the file is replaced only by a
valid draft, atomically, and only if nobody changed it meanwhile (checked under the lock
that every attuned edit takes, attuned.config.edit.update). A draft that is not saved is never
thrown away: it is kept beside the file and the user is told where."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from attuned import paths
from attuned.core import words
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


def _base_tag(original: bytes) -> str:
    """Names the file a draft was made from, so that `edit` reopens only a draft whose
    saving would undo nothing written since."""
    return hashlib.sha256(original).hexdigest()[:8]


def _kept_drafts(path: Path) -> list[Path]:
    """Drafts kept beside `path`, oldest first."""
    found = [d for d in path.parent.glob(f"{path.name}.draft-*") if d.is_file()]
    return sorted(found, key=lambda d: (d.stat().st_mtime, d.name))


def _is_kept(draft: Path, path: Path) -> bool:
    return draft.name.startswith(f"{path.name}.draft-")


def _keep_draft(draft: Path, path: Path, original: bytes) -> Path:
    """Move the draft to a name of its own beside the file; never over another draft (two
    failed edits in one second keep two)."""
    if _is_kept(draft, path):
        return draft
    stem = f"{path.name}.draft-{datetime.now():%Y%m%d-%H%M%S}-{_base_tag(original)}"
    n = 1
    while True:
        keep = path.with_name(stem if n == 1 else f"{stem}-{n}")
        try:
            os.link(draft, keep)  # fails if the name is taken, unlike a rename
        except FileExistsError:
            n += 1
            continue
        os.unlink(draft)
        return keep


def _tidy(path: Path, saved: bytes) -> list[Path]:
    """Remove kept drafts that hold exactly what was saved: nothing in them is lost."""
    gone = []
    for d in _kept_drafts(path):
        try:
            if d.read_bytes() == saved:
                d.unlink()
                gone.append(d)
        except OSError:
            pass  # unreadable or gone: left as it is
    return gone


def _drop_if_untouched(draft: Path, original: bytes) -> None:
    """Remove a draft that holds only what it was made from (the editor never started)."""
    try:
        if draft.read_bytes() == original:
            draft.unlink()
    except OSError:
        pass  # gone already, or unreadable: nothing of the person's to lose either way


def _validate(data: bytes, path: Path) -> int:
    """Checks `data` as the schedule; problems are located in `path` (the draft's name:
    that is where the text the person must fix is)."""
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
    say: Callable[[str], None] = lambda _text: None,
) -> EditResult:
    from attuned.config.read import example_text, exists, read_bytes

    existed = exists(path)
    original = read_bytes(path) if existed else example_text().encode()
    mode = path.stat().st_mode & 0o777 if existed else None
    paths.make_dir(path.parent, instead="give another schedule file with --config")
    # A draft kept from an edit of this very file is reopened: the fix goes on where it
    # stopped. One made from an older file would undo what was written since: named only.
    tag = _base_tag(original)
    kept = _kept_drafts(path)
    mine = [d for d in kept if d.name.split(".draft-", 1)[1].split("-")[2:3] == [tag]]
    for old in (d for d in kept if d not in mine):
        say(f"attuned: note: {old} is a draft kept from an earlier version of {path}; it "
            "is left as it is: bring over what you need from it by hand.")
    if mine:
        draft = mine[-1]
        say(f"Reopening your unsaved draft {draft}.")
    else:
        # Same directory (same filesystem for the final rename); .toml for highlighting.
        draft = path.with_name(f".{path.stem}.edit-{os.getpid()}.toml")
        try:
            draft.write_bytes(original)
        except OSError as e:
            # A full disk leaves part of the draft written: no half copy is left behind.
            with contextlib.suppress(OSError):
                draft.unlink()
            raise DraftError(f"cannot write the draft {draft}: {e.strerror or e}; check that "
                             f"you may write in {path.parent}") from None
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
            _tidy(path, original)
            return EditResult(False, f"No changes; {path} is as it was.")
        try:
            _validate(data, path)
        except ScheduleError:
            # Kept under its own name first, so that the problems name the file to fix.
            draft = _keep_draft(draft, path, original)
            try:
                _validate(data, draft)
            except ScheduleError as error:
                if ask_reopen(error):
                    continue
            return EditResult(
                False,
                f"Your edit was not saved: {path} is unchanged, and a running daemon keeps "
                f"the last good schedule. Your draft is kept in {draft}; run `attuned edit` "
                "again to reopen it.",
                draft,
            )
        count = _validate(data, path)
        _save(path, draft, original if existed else None, original, data, mode)
        _tidy(path, data)
        return EditResult(True, f"Saved {path}: {words.count(count, 'practice')}, all valid.")


def _save(path: Path, draft: Path, expected: bytes | None, base: bytes, data: bytes,
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
        keep = _keep_draft(draft, path, base)
        raise EditConflict(
            f"{path} changed on disk while you were editing it, so your edit was not "
            f"written over it. Your draft is kept in {keep}: run `attuned edit` again "
            "and bring your changes over from it."
        ) from None
    except AttunedError as e:  # could not take the lock or write: the draft stays
        keep = _keep_draft(draft, path, base)
        raise AttunedError(f"{e}. Your draft is kept in {keep}.") from None
    draft.unlink()
