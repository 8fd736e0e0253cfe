"""The phone through ntfy, end to end: the real daemon publishes each nudge to a FAKE
ntfy server (tests/fake_ntfy.py) with Done / Snooze / Skip as `http` actions; the test is
the phone and performs them; the daemon hears the answer on the reply topic."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from buses import DBusDaemon
from daemon_harness import DaemonProcess, Daemons, due_in, practice, settings
from fake_ntfy import FakeNtfy
from notification_server import NotificationServer
from presence_fakes import FakeScreenSaver

from attuned.notify.ntfy import TokenFileError, parse_answer, read_token
from attuned.state.store import EventKind

WAIT = 10.0
TOPIC = "attuned-test-3q2x9v7k1m8w4z6p"
REPLIES = f"{TOPIC}-answers"


@pytest.fixture
def ntfy() -> Iterator[FakeNtfy]:
    with FakeNtfy() as server:
        yield server


def phone(url: str, extra: str = "") -> str:
    return f'[phone]\nntfy = "{url}/{TOPIC}"\nwhen = "always"\n{extra}\n'


def answers(d: DaemonProcess, pid: str) -> list[tuple[str, str | None]]:
    return [(str(e.kind), e.source) for e in d.history()
            if e.practice_id == pid and e.kind not in (EventKind.SHOWN,)]


def nudged(d: DaemonProcess, pid: str) -> str:
    [m] = d.wait_for_log(rf"INFO attuned: nudged {pid} \((\w+)\)", WAIT)
    return m.group(1)


def test_a_nudge_is_published_with_three_answers(daemons: Daemons, ntfy: FakeNtfy) -> None:
    d = daemons(config_text=settings() + phone(ntfy.url) + practice("look-up", once=due_in(2)))
    d.start()
    [msg] = ntfy.wait_for(TOPIC, 1, WAIT)
    assert msg["title"] == "Look-Up"
    assert msg["message"] == "Time for look-up"
    assert msg["priority"] == 3
    assert [(a["action"], a["label"], a["method"], a["url"]) for a in msg["actions"]] == [
        ("http", label, "POST", f"{ntfy.url}/{REPLIES}") for label in ("Done", "Snooze",
                                                                       "Skip")]
    bodies = [a["body"].split() for a in msg["actions"]]
    assert [b[0] for b in bodies] == ["done", "snooze", "skip"]
    token = bodies[0][1]
    assert {b[1] for b in bodies} == {token} and len(token) >= 22  # 128 bits, base64
    # The daemon listens on the reply topic, from its start.
    [sub] = ntfy.wait_subscribed(1, WAIT)
    assert re.fullmatch(rf"/{REPLIES}/json\?since=\d+", sub)


@pytest.mark.parametrize(("label", "kind"), [("Done", "done"), ("Snooze", "snoozed"),
                                             ("Skip", "skipped")])
def test_an_answer_from_the_phone_is_recorded_with_source_phone_and_closes_the_bubble(
        daemons: Daemons, ntfy: FakeNtfy, session_bus: DBusDaemon,
        notification_server: NotificationServer, label: str, kind: str) -> None:
    d = daemons(bus=session_bus.address, config_text=settings(snooze="1h")
                + phone(ntfy.url) + practice("look-up", once=due_in(2)))
    d.start()
    [msg] = ntfy.wait_for(TOPIC, 1, WAIT)
    [bubble] = notification_server.wait_for_notify(1, WAIT)
    nid = nudged(d, "look-up")
    ntfy.wait_subscribed(1, WAIT)
    ntfy.press(msg, label)
    d.wait_for_log(rf"INFO attuned: {kind} {nid} \(look-up\) from the phone", WAIT)
    assert answers(d, "look-up") == [(kind, "phone")]
    [closed] = notification_server.wait_for("CloseNotification", 1, WAIT)
    assert closed["id"] == bubble["id"]
    # A second press (the same button again) answers nothing: the token is used up.
    ntfy.press(msg, "Done")
    d.wait_for_log("ignored a phone answer \\(done, message \\w+\\) that carries no open "
                   "nudge's token", WAIT)
    assert answers(d, "look-up") == [(kind, "phone")]


def test_answered_on_the_desktop_the_phone_cannot_answer_again(
        daemons: Daemons, ntfy: FakeNtfy, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, config_text=settings()
                + phone(ntfy.url) + practice("look-up", once=due_in(2)))
    d.start()
    [msg] = ntfy.wait_for(TOPIC, 1, WAIT)
    [bubble] = notification_server.wait_for_notify(1, WAIT)
    nid = nudged(d, "look-up")
    notification_server.invoke_action(bubble["id"], "done")
    d.wait_for_log(rf"INFO attuned: done {nid} \(look-up\) from the button", WAIT)
    ntfy.wait_subscribed(1, WAIT)
    ntfy.press(msg, "Skip")
    d.wait_for_log("ignored a phone answer \\(skip, message \\w+\\) that carries no open "
                   "nudge's token", WAIT)
    assert answers(d, "look-up") == [("done", "button")]


def test_an_answer_given_while_disconnected_comes_after_the_reconnect_once(
        daemons: Daemons, ntfy: FakeNtfy) -> None:
    d = daemons(config_text=settings() + phone(ntfy.url) + practice("look-up", once=due_in(2)))
    d.start()
    [msg] = ntfy.wait_for(TOPIC, 1, WAIT)
    nid = nudged(d, "look-up")
    ntfy.wait_subscribed(1, WAIT)
    ntfy.down()
    d.wait_for_log("lost the phone answers' stream", WAIT)
    ntfy.press(msg, "Done")  # the phone still reaches the server; the daemon does not
    [answer] = ntfy.on(REPLIES)
    assert answers(d, "look-up") == []
    ntfy.up()
    d.wait_for_log(r"listening for phone answers at \S+ again", 3 * WAIT)
    d.wait_for_log(rf"INFO attuned: done {nid} \(look-up\) from the phone", WAIT)
    # It resumed after the last message it had taken (none: from its start time) ...
    assert all("since=" in s for s in ntfy.subscriptions)
    # ... and a cut after the answer resumes from the answer's id: not applied twice.
    ntfy.down()
    ntfy.up()
    subs = len(ntfy.subscriptions)
    ntfy.wait_subscribed(subs + 1, 3 * WAIT)
    assert ntfy.subscriptions[-1].endswith(f"since={answer['id']}")
    assert answers(d, "look-up") == [("done", "phone")]
    assert len(d.log_matches(r"from the phone")) == 1


def test_a_forged_answer_is_ignored_and_logged(daemons: Daemons, ntfy: FakeNtfy) -> None:
    d = daemons(config_text=settings() + phone(ntfy.url) + practice("look-up", once=due_in(2)))
    d.start()
    ntfy.wait_for(TOPIC, 1, WAIT)
    nid = nudged(d, "look-up")
    ntfy.wait_subscribed(1, WAIT)
    ntfy.publish(REPLIES, "done AAAAAAAAAAAAAAAAAAAAAA")
    d.wait_for_log("ignored a phone answer \\(done, message \\w+\\) that carries no open "
                   "nudge's token", WAIT)
    ntfy.publish(REPLIES, f"attuned done {nid}")
    d.wait_for_log("ignored a message on the phone answers' topic that is no answer", WAIT)
    assert answers(d, "look-up") == []


def test_the_server_down_at_a_nudge_desktop_and_log_get_it_told_once(
        daemons: Daemons, tmp_path: Path) -> None:
    dead = FakeNtfy()  # never started: its port refuses
    url = dead.url
    dead.httpd.server_close()
    d = daemons(config_text=settings() + phone(url) + practice("a", once=due_in(2))
                + practice("b", once=due_in(3)))
    d.start()
    d.wait_for_log(r"attuned nudge: B: Time for b", WAIT)
    d.wait_for_log(r'the phone \(ntfy\) did not get the nudge "B"', WAIT)
    text = d.log_text()
    assert "attuned nudge: A: Time for a" in text
    assert len(re.findall(r'did not get the nudge "A": could not publish to '
                          rf"{re.escape(url)}: \[Errno 111\] Connection refused", text)) == 1
    # Told once (on the desktop, here the log), not once a nudge; status says it.
    assert text.count("attuned nudge: attuned cannot reach your phone") == 1
    assert d.call("status")["phone"] == (
        f"ntfy {url}/{TOPIC}; ntfy failing: could not publish to "
        f"{url}: [Errno 111] Connection refused; 2 nudges did not reach a channel")


def test_the_token_file_must_not_be_readable_by_others(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("tk_secret\n")
    token.chmod(0o644)
    with pytest.raises(TokenFileError) as info:
        read_token(str(token))
    assert str(info.value) == (f"the ntfy token file {token} can be read by others; it "
                               f"holds a secret: chmod 600 {token}")
    token.chmod(0o600)
    assert read_token(str(token)) == "tk_secret"


def test_the_daemon_refuses_a_readable_token_file_and_says_so(
        daemons: Daemons, ntfy: FakeNtfy, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("tk_secret\n")
    os.chmod(token, 0o640)
    d = daemons(config_text=settings() + phone(ntfy.url, f'token_file = "{token}"')
                + practice("look-up", once=due_in(2)))
    d.start()
    d.wait_for_log("attuned cannot use your phone: the ntfy token file .* can be read by "
                   "others", WAIT)
    d.wait_for_log("attuned nudge: Look-Up", WAIT)
    assert ntfy.on(TOPIC) == []


def test_with_access_control_the_token_is_sent_and_the_buttons_carry_it(
        daemons: Daemons, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("tk_secret\n")
    token.chmod(0o600)
    with FakeNtfy(token="tk_secret") as server:
        d = daemons(config_text=settings() + phone(server.url, f'token_file = "{token}"')
                    + practice("look-up", once=due_in(2)))
        d.start()
        [msg] = server.wait_for(TOPIC, 1, WAIT)
        nid = nudged(d, "look-up")
        server.wait_subscribed(1, WAIT)
        server.press(msg, "Done")
        d.wait_for_log(rf"INFO attuned: done {nid} \(look-up\) from the phone", WAIT)
    out = d.cli("status")
    assert f"phone: ntfy {server.url}/{TOPIC}\n" in out.stdout


def test_answers_parsed() -> None:
    assert parse_answer("done abc") == ("done", "abc")
    assert parse_answer("snooze abc") == ("snooze", "abc")
    assert parse_answer("dismiss abc") is None
    assert parse_answer("done") is None
    assert parse_answer("done a b") is None


def test_discreet_applies_on_the_phone(daemons: Daemons, ntfy: FakeNtfy) -> None:
    # A lock screen is seen by others: the phone gets the neutral face, not the words.
    d = daemons(config_text=settings() + phone(ntfy.url)
                + practice("look-up", once=due_in(2), extra="discreet = true"))
    d.start()
    [msg] = ntfy.wait_for(TOPIC, 1, WAIT)
    nid = nudged(d, "look-up")
    assert (msg["title"], msg["message"]) == ("A moment for you", f"◦  {nid}")
    assert "look-up" not in str(msg["actions"])


def test_away_by_default_a_machine_with_no_desktop_sends_to_the_phone(
        daemons: Daemons, ntfy: FakeNtfy) -> None:
    # No session bus, no graphical session: nobody is at this screen.
    d = daemons(config_text=settings() + f'[phone]\nntfy = "{ntfy.url}/{TOPIC}"\n'
                + practice("look-up", once=due_in(2)))
    d.start()
    [msg] = ntfy.wait_for(TOPIC, 1, WAIT)
    assert msg["title"] == "Look-Up"



def test_away_the_phone_gets_a_nudge_only_while_the_screen_is_locked(
        daemons: Daemons, ntfy: FakeNtfy, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    # The screen locked (a FAKE screensaver: no real locker runs here), the next nudge
    # reaches the phone, Done there is in the history, and the desktop has nothing stale.
    with FakeScreenSaver(session_bus.address) as screensaver:
        d = daemons(bus=session_bus.address, env={"DISPLAY": "", "WAYLAND_DISPLAY": ""},
                    config_text=settings() + f'[phone]\nntfy = "{ntfy.url}/{TOPIC}"\n'
                    + practice("here", once=due_in(2)) + practice("away", once=due_in(5)))
        d.start()
        d.wait_for_log(r"presence: at_screen", WAIT)
        nudged(d, "here")
        screensaver.set_active(True)
        d.wait_for_log(r"INFO presence: presence: locked$", WAIT)
        [msg] = ntfy.wait_for(TOPIC, 1, WAIT)
        assert msg["title"] == "Away"
        nid = nudged(d, "away")
        ntfy.wait_subscribed(1, WAIT)
        ntfy.press(msg, "Done")
        d.wait_for_log(rf"INFO attuned: done {nid} \(away\) from the phone", WAIT)
        assert answers(d, "away") == [("done", "phone")]
        [bubble] = [r for r in notification_server.wait_for_notify(2, WAIT)
                    if r["summary"] == "Away"]
        closed = notification_server.wait_for("CloseNotification", 1, WAIT)
        assert bubble["id"] in [r["id"] for r in closed]
        assert [m["title"] for m in ntfy.on(TOPIC)] == ["Away"]


def test_a_press_made_while_no_daemon_ran_answers_its_nudge_after_the_restart(
        daemons: Daemons, ntfy: FakeNtfy) -> None:
    # A token is derived from the nudge's id with a key from the seed, so the next run
    # knows the buttons of what the last one published, and its stream starts far enough
    # back (at the nudge's showing) to hear the press.
    d = daemons(config_text=settings() + phone(ntfy.url) + practice("look-up", once=due_in(2)))
    d.start()
    [msg] = ntfy.wait_for(TOPIC, 1, WAIT)
    nid = nudged(d, "look-up")
    d.kill()
    ntfy.press(msg, "Done")  # the phone reaches the server; no daemon listens
    d.start()
    d.wait_for_log(rf"INFO attuned: done {nid} \(look-up\) from the phone", WAIT)
    assert answers(d, "look-up") == [("done", "phone")]
    # A third run hears the same press again from the server's cache: the nudge is
    # answered, so its token is no open nudge's, and nothing is recorded twice.
    d.stop()
    d.start()
    d.wait_for_log("ignored a phone answer \\(done, message \\w+\\) that carries no open "
                   "nudge's token", WAIT)
    assert answers(d, "look-up") == [("done", "phone")]

