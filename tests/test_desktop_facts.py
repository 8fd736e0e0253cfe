"""Facts about the real notification servers that surprised us, written down as tests
(Debian 12; tests/desktops.py runs each one). attuned's D-Bus notifier depends on them:

- xfce4-notifyd, notification-daemon and mate-notification-daemon close a bubble
  (NotificationClosed, reason 2 "dismissed") right after they send ActionInvoked for a
  button: a client that lets the close win records every pressed answer as dismissed.
- all but dunst broadcast their signals rather than address them to the client that
  sent the notification, so they reach everyone who listens (attuned's match rule takes
  them in either way).
- every server keeps an explicit timeout; what differs is the default (-1).
- notification-daemon shows one bubble at a time (the next waits for it to go), and
  CloseNotification, though answered with NotificationClosed (reason 3), leaves the
  bubble on screen until its own timeout.
- lxqt-notificationd does not show a notification whose app, summary and body equal one
  on screen (it still returns an id, and never closes it), and a pointer that passes
  over a fresh bubble makes it expire at once (its timer, paused on enter, resumes with
  the time that had passed, not the time that was left).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from desktops import (
    DUNST,
    LXQT,
    NOTIFICATION_DAEMON,
    SERVERS,
    Desktop,
    ServerSpec,
    click,
    move_pointer,
    park_pointer,
    running,
    wait_until,
)

pytestmark = pytest.mark.desktop

ACTIONS = ["done", "Done", "snooze", "Snooze 2s", "snooze-long", "Snooze 4s", "skip", "Skip"]
CLOSE_AFTER_ACTION = [s for s in SERVERS if s.closes_after_action]


def servers(*specs: ServerSpec) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("desk", specs, indirect=True, ids=lambda s: s.key)


@pytest.fixture(scope="module")
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Desktop]:
    """The test's server, started once for every test here that asks for it."""
    spec: ServerSpec = request.param
    with running(spec, tmp_path_factory.mktemp(spec.key)) as desk:
        yield desk


@pytest.fixture(autouse=True)
def empty_screen(desk: Desktop) -> None:
    """Each fact starts on an empty screen (notification-daemon may still show the
    previous test's bubble for a few seconds, and queues the next behind it)."""
    wait_until(lambda: desk.on_screen() == 0, 10, "the screen empty", interval=0.1)


def show(desk: Desktop, summary: str, timeout_ms: int = -1) -> int:
    before = {w.wid for w in desk.bubbles()} if desk.spec.wm_class else set()
    nid = desk.heard.notify(summary, "A body", ACTIONS, timeout_ms)
    if desk.spec.wm_class:
        desk.wait_bubble(before)
    return nid


@servers(*CLOSE_AFTER_ACTION)
def test_buttons_close_the_bubble_right_after_the_action(desk: Desktop) -> None:
    nid = show(desk, "Press")
    [bubble] = desk.bubbles()
    click(desk.display, *desk.buttons(bubble, 4)[0])
    park_pointer(desk.display)
    closed = desk.heard.wait_signal(nid, "NotificationClosed", 5)
    action = desk.heard.wait_signal(nid, "ActionInvoked", 1)
    assert desk.heard.signals(nid) == [("ActionInvoked", "done"), ("NotificationClosed", 2)]
    assert closed.at - action.at < 0.1  # at once: often in the same read from the socket


@servers(*SERVERS)
def test_who_hears_the_signals(desk: Desktop) -> None:
    nid = show(desk, "Who hears")
    desk.close_notification(nid)
    closed = desk.heard.wait_signal(nid, "NotificationClosed", 5)
    assert (closed.destination == "") is (desk.spec is not DUNST), closed


@servers(*SERVERS)
def test_an_explicit_timeout_is_kept(desk: Desktop) -> None:
    """Asked for 2 s, every server takes the bubble down after about 2 s (only
    notification-daemon says nothing when it does)."""
    started = time.monotonic()
    nid = show(desk, "Two seconds", timeout_ms=2000)
    gone = wait_until(lambda: desk.on_screen() == 0 and time.monotonic(), 6,
                      "the bubble taken down", interval=0.1)
    assert 1.5 <= gone - started <= 4.5
    if desk.spec.says_expired:
        assert desk.heard.wait_signal(nid, "NotificationClosed", 2).body[1] == 1
    else:
        assert desk.heard.signals(nid) == []


@servers(LXQT)
def test_lxqt_hides_a_repeat_of_a_bubble_on_screen(desk: Desktop) -> None:
    first = show(desk, "Same")
    second = desk.heard.notify("Same", "A body", ACTIONS)
    assert second != first
    assert "is already registered but this request is not an update" in wait_until(
        lambda: "already registered" in desk.server_log() and desk.server_log(), 5,
        "lxqt's complaint")
    desk.close_notification(first)
    desk.heard.wait_signal(first, "NotificationClosed", 5)
    wait_until(lambda: desk.on_screen() == 0, 5, "the screen empty")
    # The second was never shown, and is never closed: lxqt forgot it.
    desk.close_notification(second)
    with pytest.raises(AssertionError, match="no NotificationClosed"):
        desk.heard.wait_signal(second, "NotificationClosed", 1)


@servers(LXQT)
def test_lxqt_expires_a_fresh_bubble_the_pointer_passes_over(desk: Desktop) -> None:
    nid = show(desk, "Passed over")
    [bubble] = desk.bubbles()
    started = time.monotonic()
    move_pointer(desk.display, bubble.rect.x + bubble.rect.w // 2,
                 bubble.rect.y + bubble.rect.h // 2)
    park_pointer(desk.display)
    closed = desk.heard.wait_signal(nid, "NotificationClosed", 5)
    assert closed.body[1] == 1
    assert closed.at - started < 2  # not the 10 s it would have stayed


@servers(NOTIFICATION_DAEMON)
def test_notification_daemon_leaves_a_closed_bubble_up_and_queues_the_next(
        desk: Desktop) -> None:
    first = show(desk, "Closed", timeout_ms=3000)
    shown_at = time.monotonic()
    [bubble] = desk.bubbles()
    desk.close_notification(first)
    assert desk.heard.wait_signal(first, "NotificationClosed", 5).body[1] == 3
    assert desk.bubbles() == [bubble]  # answered "closed", still on screen
    desk.heard.notify("Queued", "A body", ACTIONS, 3000)
    # The closed one stays for its 3 s; the next comes up only once it has gone.
    wait_until(lambda: [w for w in desk.bubbles() if w.wid != bubble.wid], 6,
               "the queued bubble")
    assert time.monotonic() - shown_at >= 2.5
    assert bubble.wid not in {w.wid for w in desk.bubbles()}
