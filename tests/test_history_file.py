"""What is at the history's path, told apart: a file you may not write or read (a
permission, not damage: said with its fix, nothing moved), a read-only state directory
(reading needs no write), an empty file (started fresh, said once), another program's
SQLite database (refused, named, never changed). A damaged file is moved aside
(test_store.py). Real SQLite files and the real CLI; permissions as their owner sees them
(as root, which ignores them, the command runs in a child as nobody, owning the files)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import select
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib import readers, resources  # noqa: F401  (see below)
from pathlib import Path

import pytest
from click.testing import CliRunner
from daemon_harness import Daemons, practice, settings, utc_now

# Imported here, before a child drops to nobody, who may not read the interpreter's
# library: every module the commands below import lazily.
import attuned.app.review
import attuned.app.service
import attuned.config.library
import attuned.config.read
import attuned.core.moments  # noqa: F401
from attuned.cli.root import COMMANDS, cli
from attuned.core.model import Action
from attuned.state.migrations import VERSIONS
from attuned.state.store import LATEST_VERSION, Store
from attuned.system import doctor

# The root group imports a command's module only when it runs (in the child, then), and
# editing and the library read TOML with tomlkit: both loaded here, while root reads all.
for _section, _module, _commands in COMMANDS:
    importlib.import_module(_module)
importlib.import_module("tomlkit")

T0 = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
NOBODY = 65534


@pytest.fixture
def home() -> Iterator[Path]:
    """A home its owner can reach: under /tmp, not pytest's root-only directory."""
    path = Path(tempfile.mkdtemp(prefix="att-own-", dir="/tmp"))
    path.chmod(0o755)
    (path / "config" / "attuned").mkdir(parents=True)
    (path / "config" / "attuned" / "config.toml").write_text(
        '[settings]\ntimezone = "UTC"\n\n[[practice]]\nid = "tea"\ntitle = "Tea"\n'
        'message = "Tea."\nat = "07:30"\n')
    (path / "state").mkdir(mode=0o700)
    (path / "runtime").mkdir(mode=0o700)
    try:
        yield path
    finally:
        for p in (path, *path.rglob("*")):
            with contextlib.suppress(OSError):
                p.chmod(0o700 if p.is_dir() else 0o600)
        shutil.rmtree(path)


def db_of(home: Path) -> Path:
    return home / "state" / "history.db"


def a_history(home: Path) -> str:
    with Store.open(db_of(home)) as s:
        rec = s.record_shown("tea", T0, T0, "Tea", "Tea.", sent=True)
        s.answer(rec.id, Action.DONE, T0 + timedelta(minutes=2), "cli")
    return rec.id


def as_owner(home: Path, *args: str) -> tuple[int, str, str]:
    """`attuned ARGS` as the owner of `home`: (exit code, stdout, stderr)."""
    def command() -> list[object]:
        r = CliRunner().invoke(cli, list(args))
        err = r.stderr
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            err += f"{type(r.exception).__name__}: {r.exception}"
        return [r.exit_code, r.stdout, err]

    code, stdout, stderr = in_owners_child(home, command)
    return int(code), str(stdout), str(stderr)  # type: ignore[call-overload]


def in_owners_child(home: Path, action: Callable[[], list[object]]) -> list[object]:
    """What `action` returns (JSON's types), run as the owner of `home` (nobody, when the
    test runs as root, with every file under `home` given to it) in `home`'s environment."""
    if os.geteuid() == 0:
        for p in (home, *home.rglob("*")):
            os.lchown(p, NOBODY, NOBODY)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest machinery from here on, only os._exit
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            os.environ.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
                               "ATTUNED_STATE_DIR": str(home / "state"), "TZ": "UTC",
                               "XDG_RUNTIME_DIR": str(home / "runtime"),
                               "ATTUNED_RUNTIME_DIR": str(home / "runtime")})
            said = json.dumps(action())
        except BaseException as e:
            said = json.dumps([-1, "", f"child failed: {type(e).__name__}: {e}"])
        os.write(write_end, said.encode())
        os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        assert ready, "the child running the command said nothing within 30 s"
        out = b""
        while chunk := os.read(read_end, 65536):
            out += chunk
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    got: list[object] = json.loads(out)
    return got


def listing(home: Path) -> dict[str, tuple[int, str]]:
    """The state directory's files: each one's size and a digest of its bytes. Without
    the empty lock file a command that writes takes beside the history before it looks."""
    state = home / "state"
    return {p.name: (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(state.iterdir()) if p.name != "history.db.lock"}


def test_a_read_only_history_is_read_and_never_moved_aside(home: Path) -> None:
    nid = a_history(home)
    db = db_of(home)
    db.chmod(0o444)
    before = listing(home)
    code, out, err = as_owner(home, "history")
    assert (code, err) == (0, ""), err
    assert out.splitlines() == [
        "Tue 01 Dec 2026",
        f"  07:30  shown      {nid:<6} tea                Tea",
        f"  07:32  done       {nid:<6} tea                Tea  (from the cli)",
    ]
    for command in (["stats", "--json"], ["review", "--json"], ["show", nid]):
        code, out, err = as_owner(home, *command)
        assert (code, err) == (0, ""), (command, err)
    assert listing(home) == before


def test_a_read_only_history_refuses_a_write_with_the_chmod_and_moves_nothing(
        home: Path) -> None:
    a_history(home)
    db = db_of(home)
    db.chmod(0o444)
    before = listing(home)
    code, out, err = as_owner(home, "done")
    assert (code, out) == (1, "")
    assert err == (f"attuned: the history database at {db} is read-only (mode 0444), and "
                   f"attuned needs to write it; `chmod u+rw {db}` (nothing was moved or "
                   "changed)\n")
    assert listing(home) == before


def test_a_history_you_may_not_read_says_so_and_moves_nothing(home: Path) -> None:
    a_history(home)
    db = db_of(home)
    db.chmod(0o000)
    before_names = sorted(p.name for p in db.parent.iterdir())
    for command in ("history", "done"):
        code, out, err = as_owner(home, command)
        assert (code, out) == (1, "")
        assert err == (f"attuned: you may not read the history database at {db} (mode "
                       f"0000); `chmod u+rw {db}` (nothing was moved or changed)\n")
    assert sorted(p.name for p in db.parent.iterdir()) == before_names


def test_reading_needs_no_write_in_a_read_only_state_directory(home: Path) -> None:
    nid = a_history(home)
    state = home / "state"
    before = listing(home)
    state.chmod(0o555)
    code, out, err = as_owner(home, "history", "--json")
    assert (code, err) == (0, ""), err
    assert [(e["event"], e["nudge"]) for e in json.loads(out)] == [
        ("shown", nid), ("done", nid)]
    for command in (["stats"], ["review"], ["show", nid], ["together"]):
        code, out, err = as_owner(home, *command)
        assert (code, err) == (0, ""), (command, err)
    state.chmod(0o700)
    assert listing(home) == before


def test_a_write_in_a_read_only_state_directory_says_so_and_changes_nothing(
        home: Path) -> None:
    a_history(home)
    state = home / "state"
    with Store.open(db_of(home)):  # the lock file beside it is there already
        pass
    before = listing(home)
    state.chmod(0o555)
    code, out, err = as_owner(home, "done")
    assert (code, out) == (1, "")
    assert err == (f"attuned: the directory of the history database, {state}, is read-only "
                   f"(mode 0555), and attuned needs to write there; `chmod u+rwx {state}` "
                   "(nothing was moved or changed)\n")
    state.chmod(0o700)
    assert listing(home) == before


def test_no_history_yet_in_a_read_only_state_directory_reads_as_empty(home: Path) -> None:
    state = home / "state"
    state.chmod(0o555)
    assert as_owner(home, "history") == (0, "Nothing in the history yet.\n", "")
    code, out, err = as_owner(home, "stats")
    assert (code, err) == (0, "")
    assert out.endswith("No nudges in this period yet.\n")
    state.chmod(0o700)
    assert list(state.iterdir()) == []


def test_a_history_that_needs_an_upgrade_it_cannot_have_says_so(home: Path) -> None:
    a_history(home)
    db = db_of(home)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = ?", (LATEST_VERSION,))
    db.chmod(0o444)
    code, out, err = as_owner(home, "history")
    assert (code, out) == (1, "")
    assert err == (f"attuned: the history database at {db} must be upgraded (schema "
                   f"{VERSIONS[-2]} to {LATEST_VERSION}) before it can be read, and "
                   f"{db} is read-only; make it writable and run attuned again\n")


def test_an_empty_history_file_is_started_fresh_and_said_once(home: Path) -> None:
    db = db_of(home)
    db.write_bytes(b"")
    code, out, err = as_owner(home, "history")
    assert (code, out) == (0, "Nothing in the history yet.\n"), err
    assert err == (f"attuned: the history database at {db} was empty (0 bytes: nothing was "
                   "in it), so it was started fresh\n")
    assert as_owner(home, "history") == (0, "Nothing in the history yet.\n", "")
    assert not list(db.parent.glob("*.corrupt-*"))


@pytest.mark.parametrize(("make", "why"), [
    ("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);"
     "CREATE TABLE moz_bookmarks (id INTEGER PRIMARY KEY)", "tables moz_bookmarks, moz_places"),
    ("PRAGMA user_version = 7", "user version 7"),
    ("PRAGMA application_id = 1095653716", "application id 0x414e5954"),
])
def test_another_programs_database_is_refused_named_and_never_changed(
        home: Path, make: str, why: str) -> None:
    db = db_of(home)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.executescript(make)
    before = listing(home)
    for command in ("history", "done"):
        code, out, err = as_owner(home, command)
        assert (code, out) == (1, "")
        assert err == (f"attuned: {db} is another program's SQLite database ({why}), not "
                       "attuned's history; attuned leaves it as it is: move it elsewhere, "
                       "and attuned starts a fresh history in its place\n")
    assert listing(home) == before


def test_the_daemon_refuses_another_programs_database_and_changes_nothing(
        daemons: Daemons) -> None:
    d = daemons(config_text=settings() + practice("tea", once=utc_now() + timedelta(hours=1)))
    db = d.state_dir / "history.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.executescript("CREATE TABLE bookmarks (id INTEGER PRIMARY KEY, url TEXT)")
    before = db.read_bytes()
    d.start(wait_ready=False)
    assert d.wait_exit(20) == 1
    assert (f"{db} is another program's SQLite database (tables bookmarks), not attuned's "
            "history; attuned leaves it as it is") in d.log_text()
    assert sorted(p.name for p in d.state_dir.iterdir()) == ["history.db", "history.db.lock"]
    assert db.read_bytes() == before


def test_the_daemon_says_once_that_it_started_an_empty_history_fresh(
        daemons: Daemons) -> None:
    d = daemons(config_text=settings() + practice("tea", once=utc_now() + timedelta(hours=1)))
    db = d.state_dir / "history.db"
    db.write_bytes(b"")
    said = ("attuned started a fresh history: the history database at "
            f"{db} was empty (0 bytes: nothing was in it), so it was started fresh.")
    d.start()
    assert [line.split(" WARNING attuned: ", 1)[1]
            for line in d.log_matches(r"WARNING attuned: attuned started a fresh")] == [said]
    assert d.stop() == 0
    mark = d.mark()
    d.start()
    assert d.log_matches(r"fresh history", since=mark) == []
    assert not list(d.state_dir.glob("*.corrupt-*"))


def test_doctor_tells_a_read_only_history_from_a_damaged_one(home: Path) -> None:
    a_history(home)
    db = db_of(home)
    db.chmod(0o444)
    # doctor's history check, as `attuned doctor` runs it (the whole doctor imports more
    # than a child that may not read the interpreter's library can).
    said = in_owners_child(home, lambda: list(dataclasses.astuple(
        doctor.check_history(doctor.Inputs(history_db=db)))))
    assert said == [
        "history", False, f"{db} is read-only for you: attuned can show it but not record "
        "anything (mode 0444); it is not damaged",
        f"give it back to your user: `chmod u+rw {db}`", True]
    assert not list(db.parent.glob("*.corrupt-*"))
