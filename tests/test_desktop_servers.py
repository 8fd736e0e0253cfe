"""The matrix: every answer kept on every notification server people run.

Each server (tests/desktops.py: xfce4-notifyd, notification-daemon,
mate-notification-daemon, lxqt-notificationd, mako on a headless sway, dunst) runs for
real, once per module, on its own screen and private session bus; each test starts the
attuned daemon as a real process against it and checks what a person would see:

- shown: the server draws the nudge (a painted bubble window on X; `makoctl list`;
  `dunstctl count displayed`), with the four answers (the Notify call asks for them; the
  bubble draws four buttons, lxqt a list of four, the menus list four);
- each answer pressed on the server (a button clicked with xdotool, the list entry,
  the menu line) is recorded as that answer;
- closing the bubble is recorded as dismissed (where the server says so);
- a bubble left alone: expired by the server (and left open by attuned), or kept;
- a server that dies and comes back gets the next nudge, and its buttons work.

Tests are parametrized by server, so the report reads as the matrix README.md shows.
Skipped with the Debian packages to install when a server is missing; with
ATTUNED_REQUIRE_DESKTOP=1 (CI) a skip is a failure.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from daemon_harness import DaemonProcess, Daemons, due_in, practice, settings
from desktops import (
    DUNST,
    LXQT,
    MAKO,
    SERVERS,
    Desktop,
    ServerSpec,
    Window,
    bands,
    click,
    find_close_button,
    park_pointer,
    running,
    screenshot,
    wait_until,
    xdotool,
)

pytestmark = pytest.mark.desktop

ACTIONS = ["done", "Done", "snooze", "Snooze 2s", "snooze-long", "Snooze 4s", "skip", "Skip"]
LABELS = ACTIONS[1::2]


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
    nid: int  # the server's
    title: str
    window: Window | None  # the bubble, on X


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
    return Nudge(d, m.group(1), nid, title, window)


@pytest.fixture
def clean(desk: Desktop) -> Iterator[list[int]]:
    """Ids of bubbles a test leaves up; closed afterwards so the next test starts with an
    empty screen (lxqt hides a bubble that repeats one still shown)."""
    left: list[int] = []
    yield left
    for nid in left:
        with contextlib.suppress(AssertionError):  # already gone
            desk.close_notification(nid)
    if desk.spec.wm_class:
        park_pointer(desk.display)
    wait_until(lambda: desk.on_screen() == 0, 10, "the bubbles gone")


def displayed(desk: Desktop, n: Nudge) -> bool:
    """Does the server show this nudge now (its own account)?"""
    if desk.spec is MAKO:
        listing = json.loads(desk.tool("makoctl", "list"))
        return any(item["id"]["data"] == n.nid for item in listing["data"][0])
    if desk.spec is DUNST:
        return int(desk.tool("dunstctl", "count", "displayed")) >= 1
    return n.window is not None and any(w.wid == n.window.wid for w in desk.bubbles())


def offered(desk: Desktop, n: Nudge) -> list[str]:
    """The answers the server offers for the nudge, as it shows them."""
    spec = desk.spec
    if spec is MAKO:
        listing = json.loads(desk.tool("makoctl", "list"))
        [item] = [i for i in listing["data"][0] if i["id"]["data"] == n.nid]
        return sorted(item["actions"]["data"].values())
    if spec is DUNST:
        desk.pick("(no such line)")  # the picker answers nothing: only the menu is kept
        shown_before = len(desk.menus())
        desk.tool("dunstctl", "context")
        menu = desk.wait_menu(shown_before + 1).splitlines()
        return sorted(line.split(" (")[0].lstrip("#") for line in menu)
    assert n.window is not None
    if spec is LXQT:
        return sorted(lxqt_list(desk, n.window, pick=None))
    # One button per answer, drawn in a row: found in the screenshot.
    return [f"button {i + 1}" for i, _ in enumerate(desk.buttons(n.window, 4))]


def lxqt_list(desk: Desktop, window: Window, pick: int | None) -> list[str]:
    """lxqt-notificationd shows more than 3 actions as "Actions: [list] [OK]": open the
    list (a popup window of one row per action), then click row `pick` or leave it."""
    _label, combo, ok = desk.buttons(window, 3)
    click(desk.display, *combo)

    def popup() -> Window | None:
        return next((w for w in desk.bubbles() if w.wid != window.wid), None)

    menu = wait_until(popup, 5, "the lxqt list of actions")
    rows = wait_until(lambda: [b for b in bands(screenshot(desk.display), menu.rect, inset=2)
                               if b.bottom - b.top >= 8] or None, 5, "the list drawn")
    if pick is None:
        xdotool(desk.display, "key", "Escape")  # closes the list, choosing nothing
    else:
        row = rows[pick]
        click(desk.display, menu.rect.x + menu.rect.w // 2, (row.top + row.bottom) // 2)
    wait_until(lambda: popup() is None, 5, "the lxqt list closed")
    if pick is not None:
        click(desk.display, *ok)
    return [f"entry {i + 1}" for i in range(len(rows))]


def press(desk: Desktop, n: Nudge, label: str) -> None:
    """The person answers `label` on the server itself."""
    spec = desk.spec
    index = LABELS.index(label)
    if spec is MAKO:
        desk.pick(label)
        desk.tool("makoctl", "menu", "-n", str(n.nid), str(desk.dir / "picker"))
    elif spec is DUNST:
        desk.pick(label)
        desk.tool("dunstctl", "context")
    elif spec is LXQT:
        assert n.window is not None
        lxqt_list(desk, n.window, pick=index)
    else:
        assert n.window is not None
        click(desk.display, *desk.buttons(n.window, 4)[index])
    if desk.spec.wm_class:
        # Off the bubbles, before the next one comes: lxqt-notificationd counts a pointer
        # passing over a fresh bubble as its whole timeout (test_desktop_facts.py).
        park_pointer(desk.display)


def close(desk: Desktop, n: Nudge) -> None:
    """The person closes the bubble without answering."""
    if desk.spec is MAKO:
        desk.tool("makoctl", "dismiss", "-n", str(n.nid))
    elif desk.spec is DUNST:
        desk.tool("dunstctl", "close")
    else:
        # The close button (top right); xfce4-notifyd has none: a click on the bubble
        # (its title, the rightmost thing on top) closes it.
        assert n.window is not None
        spot = find_close_button(screenshot(desk.display), n.window.rect,
                                 left=desk.spec.crop[0])
        assert spot is not None, "no close button drawn"
        click(desk.display, *spot)


# ------------------------------------------------------------------------------ shown


def test_the_nudge_is_shown_with_its_four_answers(desk: Desktop, daemons: Daemons,
                                                  clean: list[int]) -> None:
    n = nudge(desk, daemons, "Shown")
    clean.append(n.nid)
    [call] = [h for h in desk.heard.notifies() if h.body[3] == "Shown"]
    assert list(call.body[5]) == ACTIONS
    assert displayed(desk, n)
    got = offered(desk, n)
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
    press(desk, n, label)
    n.daemon.wait_for_log(rf"INFO attuned: {state} {n.id} \(look-up\) from the button", 10,
                          since=mark)
    # What the server sent, in order: some close the bubble at once ("dismissed") after
    # the action. The answer pressed is what counts.
    desk.heard.wait_signal(n.nid, "ActionInvoked", 5)
    key = ACTIONS[ACTIONS.index(label) - 1]
    signals = desk.heard.signals(n.nid)
    if desk.spec.closes_after_action:
        assert signals[:2] == [("ActionInvoked", key), ("NotificationClosed", 2)]
    else:
        assert signals[0] == ("ActionInvoked", key)
        assert ("NotificationClosed", 2) not in signals
    assert n.daemon.kinds() == [("look-up", "shown", "daemon"), ("look-up", state, "button")]
    assert not n.daemon.log_matches(r"dismissed")


def test_snooze_pressed_on_the_server_brings_the_nudge_back(
        desk: Desktop, daemons: Daemons, clean: list[int]) -> None:
    n = nudge(desk, daemons, "Snoozing")
    clean.append(n.nid)
    before = {w.wid for w in desk.bubbles()} if desk.spec.wm_class else set()
    mark = n.daemon.mark()
    press(desk, n, "Snooze 2s")
    n.daemon.wait_for_log(rf"INFO attuned: snoozed {n.id} \(look-up\) from the button", 10,
                          since=mark)
    back = shown(desk, n.daemon, "Snoozing (snoozed)", before, since=mark,
                 line=rf"INFO attuned: brought back snoozed {n.id} as (\w+)")
    clean.append(back.nid)
    assert displayed(desk, back)
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
    close(desk, n)
    heard = desk.heard.wait_signal(n.nid, "NotificationClosed", 5)
    assert heard.body[1] == desk.spec.close_reason
    if desk.spec.close_reason == 2:
        n.daemon.wait_for_log(rf"INFO attuned: dismissed {n.id} \(look-up\) without an answer",
                              5, since=mark)
        assert n.daemon.kinds() == [("look-up", "shown", "daemon"),
                                    ("look-up", "dismissed", "button")]
    else:
        assert n.daemon.cli("done", n.id).returncode == 0  # still open: answerable
        assert n.daemon.kinds() == [("look-up", "shown", "daemon"),
                                    ("look-up", "done", "cli")]


# ------------------------------------------------------------------------------ expiry

# Longer than the longest expiry seen (10 s).
KEPT_FOR = 12.0


def test_a_bubble_left_alone(desk: Desktop, daemons: Daemons, clean: list[int]) -> None:
    """attuned asks for the server's default timeout (-1). xfce4-notifyd, lxqt and dunst
    then take the bubble down after ~10 s, mate-notification-daemon after ~7 s, saying
    so (NotificationClosed, reason 1 expired); notification-daemon after ~5 s, saying
    nothing. mako keeps it until it is answered. Either way the nudge stays open,
    answerable from the CLI."""
    n = nudge(desk, daemons, "Alone")
    clean.append(n.nid)
    started = time.monotonic()
    expires = desk.spec.expires_after
    if expires is None:
        with pytest.raises(AssertionError, match="no NotificationClosed"):
            desk.heard.wait_signal(n.nid, "NotificationClosed", KEPT_FOR)
        assert displayed(desk, n)
    else:
        gone = wait_until(lambda: not displayed(desk, n) and time.monotonic(),
                          expires + 5, "the bubble taken down", interval=0.2)
        assert expires - 3 <= gone - started <= expires + 3
        if desk.spec.says_expired:
            heard = desk.heard.wait_signal(n.nid, "NotificationClosed", 2)
            assert heard.body[1] == 1
        else:
            with pytest.raises(AssertionError, match="no NotificationClosed"):
                desk.heard.wait_signal(n.nid, "NotificationClosed", 1)
    assert n.daemon.kinds() == [("look-up", "shown", "daemon")]
    assert n.daemon.cli("done", n.id).returncode == 0


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
    assert displayed(desk, after)
    press(desk, after, "Done")
    d.wait_for_log(rf"INFO attuned: done {after.id} \(tea\) from the button", 10, since=mark)
