"""Together mode: practices with when = "together" nudge only while it is on; outside it
they are dropped or held until it starts. Service-level on a real store with the named
fakes of test_review (FakePlanner, FakeNotifier); the CLI without a daemon."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from service_fakes import make, practice

from attuned import paths
from attuned.cli import practising as cli_practice
from attuned.cli.root import cli
from attuned.core import together
from attuned.core.model import TogetherState
from attuned.state.store import Store

T0 = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
UTCZ = ZoneInfo("UTC")


def test_apart_a_together_practice_is_dropped_by_default(store: Store) -> None:
    svc, planner, notifier, _ = make(store, practice(when="together"), at=T0)
    assert asyncio.run(svc.fire("breakfast", T0)) is None
    assert notifier.sent == []
    assert [(str(e.kind), e.reason) for e in store.history()] == [("dropped", "together")]
    assert "p:breakfast" in planner.jobs  # the practice carries on
    assert store.held() == []


def test_held_until_together_time_starts_once_and_newest_only(store: Store) -> None:
    p = practice(when="together", outside="defer", messages=("Look up.",))
    svc, _, notifier, clock = make(store, p, practice(id="other"), at=T0)
    asyncio.run(svc.fire("breakfast", T0))
    clock.at = T0 + timedelta(days=1)
    asyncio.run(svc.fire("breakfast", T0 + timedelta(days=1)))
    assert notifier.sent == []
    assert [(h.practice_id, h.due) for h in store.held()] == [
        ("breakfast", T0 + timedelta(days=1))]
    # Ordinary practices are not held.
    assert asyncio.run(svc.fire("other", T0 + timedelta(days=1))) is not None

    res = asyncio.run(svc.together("on", None)).to_json()
    assert res["text"] == "Together mode is on, until you switch it off."
    assert len(res["released"]) == 1  # type: ignore[arg-type]
    (n,) = [x for x in notifier.sent if x.body == "Look up."]
    assert n.title == "Breakfast presence"
    rec = store.get(str(res["released"][0]))  # type: ignore[index]
    assert rec.due == T0 + timedelta(days=1)
    assert store.held() == []
    # Switching on again releases nothing more.
    res = asyncio.run(svc.together("on", None)).to_json()
    assert res["released"] == []


def test_together_on_lets_it_through_until_the_time_given(store: Store) -> None:
    svc, _, notifier, clock = make(store, practice(when="together"), at=T0)
    res = asyncio.run(svc.together("until", "22:00")).to_json()
    assert res["text"] == "Together mode is on until 22:00."
    assert store.together() == TogetherState(True, datetime(2026, 12, 1, 22, 0, tzinfo=UTCZ))
    assert asyncio.run(svc.fire("breakfast", T0)) is not None
    clock.at = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    later = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    assert asyncio.run(svc.fire("breakfast", later)) is None  # over at 22:00
    assert len(notifier.sent) == 1


def test_until_a_time_already_past_today_means_tomorrow() -> None:
    s = together.switch("until", "01:30", T0, UTCZ)
    assert s.until == datetime(2026, 12, 2, 1, 30, tzinfo=UTCZ)
    with pytest.raises(together.TogetherError) as e:
        together.switch("until", "late", T0, UTCZ)
    assert str(e.value) == ('"late" is not a moment; write "now", "tomorrow", "2026-03-29", '
                            '"2026-03-29 01:00", "22:00" or "+2h"')


def test_until_takes_the_moments_of_every_option() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    at_1710 = datetime(2026, 12, 1, 16, 10, 30, tzinfo=UTC)  # 17:10:30 in Berlin
    s = together.switch("until", "+2h", at_1710, berlin)
    assert s.describe(at_1710, berlin) == "Together mode is on until 19:10:30."
    s = together.switch("until", "16:00", at_1710, berlin)
    assert s.describe(at_1710, berlin) == "Together mode is on until tomorrow 16:00."
    s = together.switch("until", "2026-12-03 20:00", at_1710, berlin)
    assert s.describe(at_1710, berlin) == "Together mode is on until Thu 03 Dec 20:00."
    with pytest.raises(together.TogetherError) as e:
        together.switch("until", "2026-12-01 10:00", at_1710, berlin)
    assert str(e.value) == ('"2026-12-01 10:00" is already past; say a moment ahead, like: '
                            "attuned together until +2h")


def test_the_state_survives_a_reopen_and_is_off_until_switched(tmp_path: Path) -> None:
    with Store.open(tmp_path / "history.db") as store:
        assert store.together() == TogetherState()
        store.set_together(TogetherState(True, None))
    with Store.open(tmp_path / "history.db") as store:
        assert store.together().active(T0)
        store.set_together(TogetherState(True, T0))
        assert store.together() == TogetherState(True, T0)
        assert not store.together().active(T0)  # until is exclusive


def saved_state() -> TogetherState:
    with Store.open(paths.history_db()) as store:
        return store.together()


def test_the_cli_without_a_daemon_writes_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_practice, "_now", lambda: T0)
    r = CliRunner().invoke(cli, ["together"])
    assert r.output == "Together mode is off.\n"
    r = CliRunner().invoke(cli, ["together", "until", "22:00"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Together mode is on until 22:00. (the daemon is not running")
    assert saved_state().active(T0)
    r = CliRunner().invoke(cli, ["together", "on", "22:00"])
    assert r.exit_code == 2
    assert "did you mean: attuned together until 22:00" in r.output
    r = CliRunner().invoke(cli, ["together", "off"])
    assert not saved_state().active(T0)


def test_the_cli_says_until_tomorrow_for_a_time_already_past(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 17:10 (UTC, the system zone here): 16:00 is tomorrow's.
    monkeypatch.setattr(cli_practice, "_now",
                        lambda: datetime(2026, 12, 1, 17, 10, tzinfo=UTC))
    monkeypatch.setenv("TZ", "UTC")
    r = CliRunner().invoke(cli, ["together", "until", "16:00"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Together mode is on until tomorrow 16:00. (the daemon is not "
                               "running")
    r = CliRunner().invoke(cli, ["together", "until", "+2h"])
    assert r.output.startswith("Together mode is on until 19:10. (the daemon")
