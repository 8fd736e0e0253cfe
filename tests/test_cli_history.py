"""`attuned history` and `attuned stats` as a person reads them, on a real history with
nudges that were held back or dropped (the schedule pins the zone to UTC)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from attuned import paths
from attuned.cli import history as cli_history
from attuned.cli.root import cli
from attuned.core.model import Action, Held, HoldMode, HoldReason
from attuned.state.store import EventReason, Store

T0 = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[settings]\ntimezone = "UTC"\n\n[[practice]]\nid = "breakfast"\n'
                    'title = "Breakfast presence"\nmessage = "Paper down."\nat = "07:30"\n')
    monkeypatch.setenv("ATTUNED_CONFIG", str(path))
    monkeypatch.setattr(cli_history, "_now", lambda: T0 + timedelta(days=1, hours=12))
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def history_with_held() -> dict[str, str]:
    """Tuesday: breakfast held while notifications were paused, shown 40 minutes later,
    done; look-up dropped in quiet hours; eyes held twice (the first replaced by the
    second), the second still waiting. Wednesday: breakfast shown and skipped."""
    ids: dict[str, str] = {}
    with Store.open(paths.history_db()) as s:
        ids["breakfast"] = s.hold(Held("breakfast", T0, HoldReason.DND, HoldMode.DEFER),
                                  title="Breakfast presence", message="Paper down.") or ""
        ids["look-up"] = s.drop("look-up", T0 + timedelta(minutes=5), EventReason.QUIET,
                                title="Look up", message="Look up.") or ""
        ids["eyes-1"] = s.hold(Held("eyes", T0 + timedelta(minutes=10), HoldReason.TOGETHER,
                                    HoldMode.DEFER), title="Eye contact") or ""
        ids["eyes-2"] = s.hold(Held("eyes", T0 + timedelta(minutes=20), HoldReason.TOGETHER,
                                    HoldMode.DEFER), title="Eye contact") or ""
        s.show_held(ids["breakfast"], T0 + timedelta(minutes=40), "Paper down.")
        s.record_sent(ids["breakfast"], T0 + timedelta(minutes=40))  # as the daemon does
        s.answer(ids["breakfast"], Action.DONE, T0 + timedelta(minutes=45), "cli")
        wed = T0 + timedelta(days=1)
        rec = s.record_shown("breakfast", wed, wed, "Breakfast presence", "Paper down.",
                             sent=True)
        s.answer(rec.id, Action.SKIP, wed + timedelta(minutes=1), "button")
        ids["wednesday"] = rec.id
    return ids


def test_history_shows_held_and_dropped_nudges_with_why(config: Path) -> None:
    ids = history_with_held()
    r = run("history")
    assert r.exit_code == 0, r.output
    b, e1, e2, lu, w = (ids[k] for k in ("breakfast", "eyes-1", "eyes-2", "look-up",
                                         "wednesday"))
    assert r.output.splitlines() == [
        "Tue 01 Dec 2026",
        f"  07:30  held       {b:<6} breakfast          Breakfast presence  "
        "(notifications were paused)",
        f"  07:35  dropped    {lu:<6} look-up            Look up  (quiet hours)",
        f"  07:40  held       {e1:<6} eyes               Eye contact  (not together time)",
        f"  07:50  held       {e2:<6} eyes               Eye contact  (not together time)",
        f"  07:50  dropped    {e1:<6} eyes               Eye contact  "
        f"(replaced by the newer held nudge {e2})",
        f"  08:10  shown      {b:<6} breakfast          Breakfast presence",
        f"  08:15  done       {b:<6} breakfast          Breakfast presence  (from the cli)",
        "Wed 02 Dec 2026",
        f"  07:30  shown      {w:<6} breakfast          Breakfast presence",
        f"  07:31  skipped    {w:<6} breakfast          Breakfast presence  (from the button)",
    ]


def test_history_json_and_csv_carry_the_reason(config: Path) -> None:
    ids = history_with_held()
    rows = json.loads(run("history", "--practice", "eyes", "--json").output)
    assert [(x["event"], x["nudge"], x["reason"], x["note"]) for x in rows] == [
        ("held", ids["eyes-1"], "together", ""), ("held", ids["eyes-2"], "together", ""),
        ("dropped", ids["eyes-1"], "replaced", ids["eyes-2"])]
    table = list(csv.DictReader(io.StringIO(run("history", "--csv").output)))
    assert [(x["event"], x["practice"], x["reason"]) for x in table][:3] == [
        ("held", "breakfast", "dnd"), ("dropped", "look-up", "quiet"),
        ("held", "eyes", "together")]
    assert table[-1]["reason"] == ""
    assert list(table[0]) == ["at", "event", "nudge", "practice", "title", "source", "note",
                              "how", "snoozed_until", "due", "reason", "snoozed_from"]


def test_stats_counts_held_nudges_as_neither_done_nor_missed(config: Path) -> None:
    history_with_held()
    r = run("stats")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "Thu 26 Nov to Wed 02 Dec 2026",
        "practice   days     nudges done snoozed skipped missed  rate  streak (best)",
        "breakfast  ·····█▁       2    1       0       1      0   50%    1d (1d)",
        "eyes       ·······       0    0       0       0      0     –    0d (0d)",
        "look-up    ·······       0    0       0       0      0     –    0d (0d)",
        "· no nudge that day   ▁ none done   █ all done",
        "held back and not shown (neither done nor missed): eyes 2, look-up 1",
    ]
    rows = {x["practice"]: x for x in json.loads(run("stats", "--json").output)}
    assert [(rows[p]["nudges"], rows[p]["missed"], rows[p]["held"])
            for p in ("breakfast", "eyes", "look-up")] == [(2, 0, 0), (0, 0, 2), (0, 0, 1)]


def test_stats_without_held_nudges_is_as_before(config: Path) -> None:
    with Store.open(paths.history_db()) as s:
        rec = s.record_shown("breakfast", T0, T0, "Breakfast presence", "Paper down.")
        s.answer(rec.id, Action.DONE, T0, "cli")
    assert run("stats").output.splitlines()[-1] == "· no nudge that day   ▁ none done   █ all done"


def test_since_takes_the_past_words_and_a_snooze_keeps_its_seconds(config: Path) -> None:
    with Store.open(paths.history_db()) as s:
        rec = s.record_shown("breakfast", T0, T0, "Breakfast presence", "Paper down.")
        s.answer(rec.id, Action.SNOOZE, at=T0 + timedelta(seconds=30), source="cli",
                 snooze_until=T0 + timedelta(minutes=10, seconds=30))
    for since in ("yesterday", "2d", "-36h"):
        r = run("history", "--since", since)
        assert r.exit_code == 0, r.output
        assert r.output.splitlines()[-1] == (
            f"  07:30  snoozed    {rec.id:<6} breakfast          Breakfast presence  "
            "(from the cli, until 07:40:30)")
    r = CliRunner().invoke(cli, ["history", "--since", "today"])
    assert r.output == "Nothing in the history for that.\n"
    r = CliRunner().invoke(cli, ["history", "--since", "+2h"])
    assert (r.exit_code, r.stderr) == (  # a bad value, as click's own are: exit 2
        2, 'attuned: "+2h" is not a moment; write "today", "yesterday", "7d" or "-2h" (that '
           'long ago), "2026-12-01", "2026-12-01 07:00" or "07:00"\n')


def test_a_snooze_return_names_the_nudge_it_brings_back_and_counts_once(config: Path) -> None:
    back_at = T0 + timedelta(minutes=10)
    with Store.open(paths.history_db()) as s:
        first = s.record_shown("breakfast", T0, T0, "Breakfast presence", "Paper down.",
                               sent=True)
        s.answer(first.id, Action.SNOOZE, at=T0 + timedelta(seconds=5), source="button",
                 snooze_until=back_at)
        back = s.record_shown("breakfast", back_at, back_at, "Breakfast presence",
                              "Paper down.", snoozed_from=first.id, sent=True)
        s.answer(back.id, Action.DONE, at=back_at + timedelta(minutes=1), source="button")
    r = run("history")
    assert r.output.splitlines()[-2] == (
        f"  07:40  shown      {back.id:<6} breakfast          Breakfast presence  "
        f"(back from the snoozed {first.id})")
    rows = json.loads(run("history", "--json").output)
    assert [x["snoozed_from"] for x in rows] == ["", "", first.id, first.id]
    st = json.loads(run("stats", "--json").output)
    assert [(x["nudges"], x["snoozed"], x["done"]) for x in st] == [(1, 1, 1)]
