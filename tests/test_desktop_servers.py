"""The matrix: every answer kept on every notification server people run.

Each server (tests/desktops.py: xfce4-notifyd, notification-daemon,
mate-notification-daemon, lxqt-notificationd, mako on a headless sway, dunst) runs for
real, once per module, on its own screen and private session bus; each test starts the
attuned daemon as a real process against it and checks what a person would see:

- shown: the server draws the nudge (a painted bubble window on X; `makoctl list`;
  `dunstctl count displayed`), with the four answers (the Notify call asks for them, and
  to stay until answered; the bubble draws four buttons, lxqt a list of four, the menus
  list four);
- each answer pressed on the server (a button clicked with xdotool, the list entry,
  the menu line) is recorded as that answer, and the bubble leaves the screen (the
  server takes it down, or attuned withdraws it);
- closing the bubble is recorded as dismissed (where the server says so; MATE reports
  its close button as "expired": the nudge stays open);
- a bubble left alone stays, saying nothing, and the nudge stays open: answered from the
  CLI, the bubble leaves the screen;
- a server that dies and comes back gets the next nudge, and its buttons work.

Tests are parametrized by server, so the report reads as the matrix README.md shows.
Skipped with the Debian packages to install when a server is missing; with
ATTUNED_REQUIRE_DESKTOP=1 (CI) a skip is a failure.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from daemon_harness import DaemonProcess, Daemons, due_in, practice, settings
from desktops import (
    ACTIONS,
    DUNST,
    LABELS,
    MAKO,
    SERVERS,
    Bubble,
    Desktop,
    ServerSpec,
    park_pointer,
    running,
    wait_until,
)

pytestmark = pytest.mark.desktop


@pytest.fixture(scope="module", params=SERVERS, ids=lambda s: s.key)
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Desktop]:
    """One server, started once for all of its tests here (pytest groups them)."""
    spec: ServerSpec = request.param
    with running(spec, tmp_path_factory.mktemp(spec.key)) as desk:
        yield desk


@dataclass
class Nudge:
    daemon: DaemonProcess
    id: str  # attuned's id
    title: str
    bubble: Bubble  # the server's id, and the window on X

    @property
    def nid(self) -> int:
        return self.bubble.nid


def nudge(desk: Desktop, daemons: Daemons, title: str, *, pid: str = "look-up") -> Nudge:
    """A daemon whose one practice is due in a second or two; returns it once shown."""
    before = {w.wid for w in desk.bubbles()} if desk.spec.wm_class else set()
    d = daemons(bus=desk.bus.address, config_text=settings(snooze="2s", snooze_long="4s")
                + practice(pid, title=title, once=due_in(1))).start()
    return shown(desk, d, title, before, pid=pid)


def shown(desk: Desktop, d: DaemonProcess, title: str, before: set[int], *,
          pid: str = "look-up", since: int = 0, line: str = "") -> Nudge:
    """The nudge the daemon logs with `line` (a pattern with the nudge's id as its
    group; by default "nudged PID (ID)"), once the server shows it."""
    line = line or rf"INFO attuned: nudged {pid} \((\w+)\)"
    [m] = d.wait_for_log(line, 10, since=since)
    [n] = d.wait_for_log(rf'nudge "{re.escape(title)}" delivered via dbus to '
                         rf"{re.escape(desk.spec.server_name)} \(id (\d+)\)", 5, since=since)
    nid = int(n.group(1))
    try:
        window = desk.wait_bubble(before) if desk.spec.wm_class else None
    except AssertionError as exc:
        heard = [(h.member, h.body[:2] if h.kind == "signal" else h.body[3])
                 for h in desk.heard.items]
        raise AssertionError(f"{exc}; heard on the bus: {heard}; the daemon's log:\n"
                             f"{d.log_text()}\n{desk.spec.key}'s:\n{desk.server_log()}"
                             ) from None
    return Nudge(d, m.group(1), title, Bubble(nid, window))


@pytest.fixture
def clean(desk: Desktop) -> Iterator[list[int]]:
    """Ids of bubbles a test leaves up; taken down afterwards so the next test starts
    with an empty screen (lxqt hides a bubble that repeats one still shown)."""
    left: list[int] = []
    yield left
    for nid in left:
        with contextlib.suppress(AssertionError):  # already gone
            desk.withdraw(nid)
    if desk.spec.wm_class:
        park_pointer(desk.display)
    wait_until(lambda: desk.on_screen() == 0, 10, "the bubbles gone")


def gone(desk: Desktop, n: Nudge) -> None:
    """The nudge's bubble leaves the screen (with what the bus heard, if it does not)."""
    try:
        desk.wait_gone(n.bubble)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; heard about it: {desk.heard.signals(n.nid)}; the "
                             f"daemon's log:\n{n.daemon.log_text()}") from None


# ------------------------------------------------------------------------------ shown


def test_the_nudge_is_shown_with_its_four_answers(desk: Desktop, daemons: Daemons,
                                                  clean: list[int]) -> None:
    n = nudge(desk, daemons, "Shown")
    clean.append(n.nid)
    [call] = [h for h in desk.heard.notifies() if h.body[3] == "Shown"]
    assert list(call.body[5]) == ACTIONS
    # Asked to stay until answered: never expire, and kept after a press.
    assert call.body[7] == 0
    assert call.body[6]["resident"].value is True
    assert desk.displayed(n.bubble)
    got = desk.offered(n.bubble)
    if desk.spec in (MAKO, DUNST):
        assert got == sorted(LABELS)
    else:
        assert len(got) == 4, got
    assert n.daemon.kinds() == [("look-up", "shown", "daemon")]


# ------------------------------------------------------------------------------ answers


@pytest.mark.parametrize(("label", "state"), [("Done", "done"), ("Skip", "skipped")])
def test_an_answer_pressed_on_the_server_is_recorded(
        desk: Desktop, daemons: Daemons, clean: list[int], label: str, state: str) -> None:
    n = nudge(desk, daemons, f"Press {label}")
    clean.append(n.nid)
    mark = n.daemon.mark()
    desk.press(n.bubble, label)
    n.daemon.wait_for_log(rf"INFO attuned: {state} {n.id} \(look-up\) from the button", 10,
                          since=mark)
    gone(desk, n)
    # What the server sent, in order: xfce4-notifyd and MATE close the bubble at once
    # ("dismissed") after the action; the others keep it (it asked them to), and attuned
    # withdraws it. The answer pressed is what counts.
    key = ACTIONS[ACTIONS.index(label) - 1]
    desk.heard.wait_signal(n.nid, "NotificationClosed", 5)
    closed_by = 2 if desk.spec.closes_after_action else 3
    assert desk.heard.signals(n.nid) == [("ActionInvoked", key),
                                         ("NotificationClosed", closed_by)]
    assert n.daemon.kinds() == [("look-up", "shown", "daemon"), ("look-up", state, "button")]
    assert not n.daemon.log_matches(r"dismissed")


def test_snooze_pressed_on_the_server_brings_the_nudge_back(
        desk: Desktop, daemons: Daemons, clean: list[int]) -> None:
    n = nudge(desk, daemons, "Snoozing")
    clean.append(n.nid)
    before = {w.wid for w in desk.bubbles()} if desk.spec.wm_class else set()
    mark = n.daemon.mark()
    desk.press(n.bubble, "Snooze 2s")
    n.daemon.wait_for_log(rf"INFO attuned: snoozed {n.id} \(look-up\) from the button", 10,
                          since=mark)
    gone(desk, n)
    back = shown(desk, n.daemon, "Snoozing (snoozed)", before, since=mark,
                 line=rf"INFO attuned: brought back snoozed {n.id} as (\w+)")
    clean.append(back.nid)
    assert desk.displayed(back.bubble)
    assert n.daemon.kinds() == [("look-up", "shown", "daemon"), ("look-up", "snoozed", "button"),
                                ("look-up", "shown", "daemon")]


# ------------------------------------------------------------------------------ closing


def test_closing_the_bubble(desk: Desktop, daemons: Daemons, clean: list[int]) -> None:
    """Closed without an answer: dismissed, where the server says the person closed it.
    mate-notification-daemon reports its close button as "expired" (reason 1), which is
    also what it says when it takes a bubble down itself: the nudge stays open."""
    n = nudge(desk, daemons, "Closing")
    clean.append(n.nid)
    mark = n.daemon.mark()
    desk.close_by_hand(n.bubble)
    heard = desk.heard.wait_signal(n.nid, "NotificationClosed", 5)
    assert heard.body[1] == desk.spec.close_reason
    gone(desk, n)
    if desk.spec.close_reason == 2:
        n.daemon.wait_for_log(rf"INFO attuned: dismissed {n.id} \(look-up\) without an answer",
                              5, since=mark)
        assert n.daemon.kinds() == [("look-up", "shown", "daemon"),
                                    ("look-up", "dismissed", "button")]
    else:
        assert n.daemon.cli("done", n.id).returncode == 0  # still open: answerable
        assert n.daemon.kinds() == [("look-up", "shown", "daemon"),
                                    ("look-up", "done", "cli")]


# ------------------------------------------------------------------------------ left alone

# Longer than any server keeps a bubble that asks for its default timeout (10 s).
KEPT_FOR = 12.0


def test_a_bubble_left_alone(desk: Desktop, daemons: Daemons, clean: list[int]) -> None:
    """A nudge asks never to expire, and every server keeps it: no close, still shown,
    the nudge open. Answered from the CLI, the bubble leaves the screen (attuned withdraws
    it: NotificationClosed, reason 3)."""
    n = nudge(desk, daemons, "Alone")
    clean.append(n.nid)
    with pytest.raises(AssertionError, match="no NotificationClosed"):
        desk.heard.wait_signal(n.nid, "NotificationClosed", KEPT_FOR)
    assert desk.displayed(n.bubble)
    assert n.daemon.kinds() == [("look-up", "shown", "daemon")]
    answered = n.daemon.cli("done", n.id)
    assert answered.returncode == 0, answered.stderr
    gone(desk, n)
    assert desk.heard.wait_signal(n.nid, "NotificationClosed", 5).body[1] == 3
    assert n.daemon.kinds() == [("look-up", "shown", "daemon"), ("look-up", "done", "cli")]


# ------------------------------------------------------------------------------ restart


def test_a_restarted_server_gets_the_next_nudge(desk: Desktop, daemons: Daemons,
                                                clean: list[int]) -> None:
    first = nudge(desk, daemons, "Before")
    d = first.daemon
    mark = d.mark()
    desk.kill_server()
    d.wait_for_log(r"the notification server left the session bus", 5, since=mark)
    desk.start_server()
    d.wait_for_log(r"a notification server appeared on the session bus", 5, since=mark)
    before = {w.wid for w in desk.bubbles()} if desk.spec.wm_class else set()
    mark = d.mark()
    # A new practice, saved into the schedule: the daemon takes it within a second.
    d.config.write_text(d.config.read_text() + practice("tea", title="After", once=due_in(2)))
    after = shown(desk, d, "After", before, pid="tea", since=mark)
    clean.append(after.nid)
    assert desk.displayed(after.bubble)
    desk.press(after.bubble, "Done")
    d.wait_for_log(rf"INFO attuned: done {after.id} \(tea\) from the button", 10, since=mark)
    gone(desk, after)
