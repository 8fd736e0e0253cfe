"""The store under real processes: kill -9 mid-answer, and two processes racing.

Each worker is a real Python subprocess using attuned.state.store on a real SQLite file.
"""

from __future__ import annotations

import queue
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from attuned.core.model import Action, NudgeState
from attuned.state.store import EventKind, Store

REPO = Path(__file__).resolve().parents[1]
WAIT = 30.0  # seconds; every wait below is bounded by it
T0 = datetime(2026, 3, 2, 7, 30, tzinfo=ZoneInfo("Europe/Berlin"))

ANSWERER = textwrap.dedent("""
    import sys
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    from attuned.core.model import Action
    from attuned.state.store import Store

    db, rnd, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    t0 = datetime(2026, 3, 2, 7, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    store = Store.open(db)
    print("open", flush=True)
    for i in range(count):
        due = t0 + timedelta(minutes=i)
        rec = store.record_shown(f"p{rnd}", due, due, "Title", "Message")
        store.answer(rec.id, Action.DONE, due + timedelta(seconds=5), "cli", note=f"r{rnd}-{i}")
        print(rec.id, flush=True)  # acknowledged: the answer is committed
    print("end", flush=True)
""")

RACER = textwrap.dedent("""
    import sys
    from datetime import datetime, timezone
    from attuned.state.store import Store

    db, mode = sys.argv[1], sys.argv[2]
    ids = sys.argv[3].split(",")
    store = Store.open(db)
    print("ready", flush=True)
    sys.stdin.readline()  # the parent says go to both at once
    at = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    for nid in ids:
        if mode == "claim":
            if store.claim_snooze(nid, at):
                print(nid, flush=True)
        else:
            try:
                store.record_shown("p", at, at, "Back", "Again", snoozed_from=nid)
            except Exception as e:  # NudgeNotOpen: the other process returned it
                if type(e).__name__ != "NudgeNotOpen":
                    raise
            else:
                print(nid, flush=True)
    print("end", flush=True)
""")


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """Lines the process prints, then None at its end of output."""
    q: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            q.put(line.strip())
        q.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return q


def _start(script: str, *args: str, stdin: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        text=True, env=_env())


def test_every_acknowledged_answer_survives_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    rng = random.Random(4)
    acknowledged: list[str] = []
    per_round = 100
    for rnd in range(8):
        proc = _start(ANSWERER, str(db), str(rnd), str(per_round))
        q = _lines(proc)
        # Kill after a random number of acknowledged answers (0: right after opening),
        # so the kill lands at a different point of a transaction each round.
        kill_after = rng.randrange(0, per_round)
        seen = 0
        try:
            while True:
                line = q.get(timeout=WAIT)
                assert line is not None, proc.stderr.read() if proc.stderr else ""
                if line == "open":
                    if kill_after == 0:
                        break
                    continue
                assert line != "end", "the worker finished before it was killed"
                acknowledged.append(line)
                seen += 1
                if seen == kill_after:
                    break
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=WAIT) == -signal.SIGKILL
            # Anything printed before the kill was acknowledged too.
            while (line := q.get(timeout=WAIT)) is not None:
                acknowledged.append(line)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=WAIT)
    assert len(acknowledged) == len(set(acknowledged))

    with Store.open(db) as store:
        assert store.moved_aside is None
        for nid in acknowledged:
            rec = store.get(nid)
            assert rec.state is NudgeState.DONE, nid
            assert rec.note is not None and rec.note.startswith("r")
        events = store.history()
        done = [e.nudge_id for e in events if e.kind is EventKind.DONE]
        shown = [e.nudge_id for e in events if e.kind is EventKind.SHOWN]
        assert len(done) == len(set(done))  # no answer recorded twice
        assert len(shown) == len(set(shown))
        assert set(acknowledged) <= set(done)
        # Rows and log agree for every nudge: a kill never splits an answer in two.
        for rec in store.open_nudges():
            assert rec.id not in done
        assert all(store.get(nid).state is NudgeState.DONE for nid in done)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM nudges WHERE state = 'done'").fetchone() == (
        len(done),)
    conn.close()
    with Store.open(db) as store:
        # At most one nudge per round was shown but not answered when the kill landed.
        assert len(set(shown) - set(done)) <= 8
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()


@pytest.mark.parametrize("mode", ["claim", "return"])
def test_two_processes_racing_return_each_snooze_exactly_once(
        tmp_path: Path, mode: str) -> None:
    db = tmp_path / "history.db"
    with Store.open(db) as store:
        ids = []
        for i in range(200):
            due = T0 + timedelta(minutes=i)
            rec = store.record_shown("p", due, due, "T", "M")
            store.answer(rec.id, Action.SNOOZE, due, "button",
                         snooze_until=due + timedelta(minutes=10))
            ids.append(rec.id)
    # One walks the snoozes forwards, the other backwards: they meet and contend.
    procs = [_start(RACER, str(db), mode, ",".join(order), stdin=True)
             for order in (ids, ids[::-1])]
    try:
        queues = [_lines(p) for p in procs]
        for q in queues:
            assert q.get(timeout=WAIT) == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        won: list[list[str]] = []
        for p, q in zip(procs, queues, strict=True):
            got = []
            while (line := q.get(timeout=WAIT)) != "end":
                assert line is not None, p.stderr.read() if p.stderr else ""
                got.append(line)
            won.append(got)
            assert p.wait(timeout=WAIT) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=WAIT)
    first, second = set(won[0]), set(won[1])
    assert first.isdisjoint(second)
    assert first | second == set(ids)
    with Store.open(db) as store:
        assert store.pending_snoozes() == []
        if mode == "return":
            returns = [r for r in store.open_nudges() if r.snoozed_from is not None]
            assert sorted(r.snoozed_from or "" for r in returns) == sorted(ids)
