"""A row of the history that cannot be read (a time that is not one, a NULL where a
value is needed, a state attuned does not know: a hand edit or another program's) is
named with its id and left out by every reader; the rest of the history reads as before,
the daemon starts, and `attuned doctor` lists it. Real SQLite files, the real CLI."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from daemon_harness import Daemons, practice, settings, utc_now

from attuned import paths
from attuned.cli import history as cli_history
from attuned.cli import practising as cli_practising
from attuned.cli.root import cli
from attuned.core.model import Action, Held, HoldMode, HoldReason, TogetherState
from attuned.state.store import Store, StoreError

T0 = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
LEFT_OUT = "attuned: the history has a row that cannot be read, left out: "
DOCTOR = "; `attuned doctor` lists such rows"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[settings]\ntimezone = "UTC"\n\n[[practice]]\nid = "breakfast"\n'
                    'title = "Breakfast presence"\nmessage = "Paper down."\nat = "07:30"\n')
    monkeypatch.setenv("ATTUNED_CONFIG", str(path))
    monkeypatch.setattr(cli_history, "_now", lambda: T0 + timedelta(days=1, hours=12))
    monkeypatch.setattr(cli_practising, "_now", lambda: T0 + timedelta(days=1, hours=12))
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def two_days() -> tuple[str, str]:
    """Tuesday's breakfast done, Wednesday's skipped: (tuesday's id, wednesday's id)."""
    with Store.open(paths.history_db()) as s:
        tue = s.record_shown("breakfast", T0, T0, "Breakfast presence", "Paper down.",
                             sent=True)
        s.answer(tue.id, Action.DONE, T0 + timedelta(minutes=5), "cli")
        wed = T0 + timedelta(days=1)
        rec = s.record_shown("breakfast", wed, wed, "Breakfast presence", "Paper down.",
                             sent=True)
        s.answer(rec.id, Action.SKIP, wed + timedelta(minutes=1), "button")
    return tue.id, rec.id


def spoil(sql: str, *args: object) -> None:
    """Change the history behind attuned's back, as a hand edit would (CHECK constraints
    off, as another program might have them)."""
    conn = sqlite3.connect(paths.history_db())
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        with conn:
            conn.execute(sql, args)
    finally:
        conn.close()


def test_history_leaves_out_a_nudge_whose_due_is_not_a_time_and_names_it(
        config: Path) -> None:
    tue, wed = two_days()
    spoil("UPDATE nudges SET due = 'garbage' WHERE id = ?", tue)
    r = run("history")
    assert r.exit_code == 0, r.output
    assert r.stderr == f"{LEFT_OUT}nudge \"{tue}\" (due is not a time: 'garbage'){DOCTOR}\n"
    assert r.stdout.splitlines() == [
        "Wed 02 Dec 2026",
        f"  07:30  shown      {wed:<6} breakfast          Breakfast presence",
        f"  07:31  skipped    {wed:<6} breakfast          Breakfast presence  (from the button)",
    ]


def test_stats_and_review_count_the_rest_and_name_the_row_left_out(config: Path) -> None:
    tue, _ = two_days()
    spoil("UPDATE events SET kind = 'exploded' WHERE nudge_id = ? AND kind = 'done'", tue)
    said = f"{LEFT_OUT}event 2 of nudge \"{tue}\" (kind is not one attuned knows: " \
           f"'exploded'){DOCTOR}\n"
    st = run("stats", "--json")
    assert st.exit_code == 0, st.output
    assert st.stderr == said
    [row] = json.loads(st.stdout)
    assert (row["nudges"], row["done"], row["skipped"]) == (2, 0, 1)
    rv = run("review")
    assert rv.exit_code == 0, rv.output
    assert rv.stderr == said
    assert "  2 nudges: 0 done, 1 skipped; done-rate 0%" in rv.stdout


def test_a_nudge_of_unknown_state_is_named_when_asked_for_by_its_id(config: Path) -> None:
    tue, _ = two_days()
    spoil("UPDATE nudges SET state = 'bogus' WHERE id = ?", tue)
    r = run("show", tue)
    assert r.exit_code == 1
    assert r.stderr == (f"attuned: nudge \"{tue}\" cannot be read from the history: state is "
                        f"not one attuned knows: 'bogus'{DOCTOR}\n")


def test_an_open_nudge_with_no_time_shown_is_left_out_of_the_open_ones(config: Path) -> None:
    with Store.open(paths.history_db()) as s:
        good = s.record_shown("breakfast", T0, T0, "Breakfast presence", "Paper down.")
        bad = s.record_shown("breakfast", T0 + timedelta(days=1), T0 + timedelta(days=1),
                             "Breakfast presence", "Paper down.")
    spoil("UPDATE nudges SET shown_at = NULL WHERE id = ?", bad.id)
    with Store.open(paths.history_db()) as s:
        told: list[str] = []
        s.on_unreadable = told.append
        assert [r.id for r in s.open_nudges()] == [good.id]
        assert [r.id for r in s.open_nudges()] == [good.id]
        assert told == [f"the history has a row that cannot be read, left out: nudge "
                        f"\"{bad.id}\" (shown_at is empty, and a shown nudge needs it)"
                        f"{DOCTOR}"]  # once, however often it is read
        with pytest.raises(StoreError):
            s.get(bad.id)


def test_a_snoozed_nudge_with_no_end_and_a_held_one_with_no_time_are_left_out(
        config: Path) -> None:
    with Store.open(paths.history_db()) as s:
        rec = s.record_shown("breakfast", T0, T0, "Breakfast presence", "Paper down.")
        s.answer(rec.id, Action.SNOOZE, T0, "cli", snooze_until=T0 + timedelta(minutes=10))
        s.hold(Held("eyes", T0, HoldReason.QUIET, HoldMode.DEFER), title="Eyes")
        s.mark_blocked("look-up", T0)
    spoil("UPDATE nudges SET snoozed_until = NULL WHERE id = ?", rec.id)
    spoil("UPDATE held SET due = '2026-13-01T00:00:00.000000+00:00'")
    spoil("UPDATE blocked SET due = 17 WHERE practice_id = 'look-up'")
    with Store.open(paths.history_db()) as s:
        told: list[str] = []
        s.on_unreadable = told.append
        assert s.pending_snoozes() == []
        assert s.held() == []
        assert "look-up" not in s.blocked_marks()
    assert [t.split(" left out: ")[1] for t in told] == [
        f"nudge \"{rec.id}\" (snoozed_until is empty, and a snoozed nudge needs it){DOCTOR}",
        "the held nudge of practice \"eyes\" (due is not a time: "
        f"'2026-13-01T00:00:00.000000+00:00'){DOCTOR}",
        # SQLite's TEXT affinity keeps the number 17 as the text '17'.
        f"the blocked mark of practice \"look-up\" (due is not a time: '17'){DOCTOR}",
    ]


def test_a_due_that_is_not_a_time_does_not_hide_the_practices_latest(config: Path) -> None:
    tue, _ = two_days()
    spoil("UPDATE nudges SET due = 'zzz' WHERE id = ?", tue)  # sorts after every time
    with Store.open(paths.history_db()) as s:
        assert s.last_fired_all() == {"breakfast": T0 + timedelta(days=1)}
        assert s.last_fired("breakfast") == T0 + timedelta(days=1)
    # In the store's shape but not a time: the one before it is the latest.
    with Store.open(paths.history_db()) as s:
        thu = s.record_shown("breakfast", T0 + timedelta(days=2), T0 + timedelta(days=2),
                             "Breakfast presence", "Paper down.")
    spoil("UPDATE nudges SET due = '2026-13-01T07:30:00.000000+00:00' WHERE id = ?", thu.id)
    with Store.open(paths.history_db()) as s:
        told: list[str] = []
        s.on_unreadable = told.append
        assert s.last_fired_all() == {"breakfast": T0 + timedelta(days=1)}
        assert told == ["the history has a row that cannot be read, left out: nudge "
                        f"\"{thu.id}\" (due is not a time: "
                        f"'2026-13-01T07:30:00.000000+00:00'){DOCTOR}"]


def test_the_daemon_starts_past_rows_it_cannot_read_and_says_which(
        daemons: Daemons) -> None:
    start = utc_now().replace(microsecond=0) + timedelta(hours=1)
    d = daemons(config_text=settings() + practice("tea", once=start), fake_clock=True)
    now = utc_now()
    with Store.open(d.state_dir / "history.db") as s:
        good = s.record_shown("tea", now - timedelta(minutes=3), now, "Tea", "Tea.",
                              sent=True)
        bad = s.record_shown("tea", now - timedelta(minutes=2), now, "Tea", "Tea.",
                             sent=True)
        snoozed = s.record_shown("tea", now - timedelta(minutes=1), now, "Tea", "Tea.",
                                 sent=True)
        s.answer(snoozed.id, Action.SNOOZE, now, "cli", snooze_until=now + timedelta(hours=2))
    conn = sqlite3.connect(d.state_dir / "history.db")
    with conn:
        conn.execute("UPDATE nudges SET due = 'garbage' WHERE id = ?", (bad.id,))
        conn.execute("UPDATE nudges SET snoozed_until = NULL WHERE id = ?", (snoozed.id,))
    conn.close()
    d.start()  # waits for "ready": today the daemon dies with a traceback first
    status = d.call("status")
    assert [n["nudge"] for n in status["open"]] == [good.id]
    assert status["snoozed"] == []
    assert [n["practice"] for n in status["next"]] == ["tea"]
    said = d.log_matches(r"WARNING .*cannot be read.*")
    assert [m.split(": ", 1)[1] for m in said] == [
        f"the history has a row that cannot be read, left out: nudge \"{snoozed.id}\" "
        f"(snoozed_until is empty, and a snoozed nudge needs it){DOCTOR}",
        f"the history has a row that cannot be read, left out: nudge \"{bad.id}\" "
        f"(due is not a time: 'garbage'){DOCTOR}",
    ]
    assert "Traceback" not in d.log_text()


def test_a_reflection_and_together_mode_that_cannot_be_read_are_left_out(
        config: Path) -> None:
    two_days()
    with Store.open(paths.history_db()) as s:
        kept = s.add_reflection("breakfast", T0 + timedelta(hours=1), "landed", "Nice.")
        bad = s.add_reflection("breakfast", T0 + timedelta(hours=2), "partly", "Hm.")
        s.set_together(TogetherState(True, T0 + timedelta(days=3)))
    spoil("UPDATE reflections SET at = 'yesterday' WHERE id = ?", bad.id)
    spoil("UPDATE together SET until = 'soon'")
    rv = run("review", "--json")
    assert rv.exit_code == 0, rv.output
    assert rv.stderr == (f"{LEFT_OUT}reflection {bad.id} (at is not a time: 'yesterday')"
                         f"{DOCTOR}\n")
    [row] = json.loads(rv.stdout)
    assert [x["text"] for x in row["reflections"]] == [kept.text]
    tg = run("together")
    assert tg.exit_code == 0, tg.output
    assert tg.stderr == f"{LEFT_OUT}together mode (until is not a time: 'soon'){DOCTOR}\n"
    assert tg.stdout == "Together mode is off.\n"
