"""Facts about the real notification servers that surprised us, written down as tests
(Debian 12; tests/desktops.py runs each one). attuned's D-Bus notifier depends on them.
A nudge asks to stay up until it is answered: expire_timeout 0 ("never") and the
"resident" hint (keep it after a press, for the sender to withdraw). What the servers do
with that:

- every server keeps a bubble that asked never to expire, saying nothing, well past the
  time it keeps one that asked for its default (-1): about 10 s on xfce4-notifyd, lxqt
  and dunst, 7 s on MATE, 5 s on notification-daemon (mako keeps those too). The expiry
  xfce4-notifyd and MATE impose is their default's, not one over whatever is asked.
- xfce4-notifyd and mate-notification-daemon ignore "resident": right after the
  ActionInvoked of a button they close the bubble (NotificationClosed, reason 2
  "dismissed"), often in the same read; a client that lets the close win records every
  pressed answer as dismissed. The others keep a resident bubble after a press, and its
  answers still work (lxqt, dunst's and mako's menus keep any bubble after an action).
- CloseNotification takes the bubble off the screen, answered with NotificationClosed
  (reason 3), everywhere but on notification-daemon 3.20: it answers, but leaves the
  bubble up until its own timeout (never, for timeout 0), and as it shows one bubble at
  a time, every later notification waits unseen behind it. A Notify that replaces the
  bubble with a timeout of 1 ms takes it down at once; attuned withdraws bubbles there
  that way (attuned/notify/dbus.py).
- all but dunst broadcast their signals rather than address them to the client that
  sent the notification, so they reach everyone who listens (attuned's match rule takes
  them in either way).
- every server keeps an explicit finite timeout.
- lxqt-notificationd does not show a notification whose app, summary and body equal one
  on screen (it still returns an id, and never closes it), and a pointer that passes
  over a fresh bubble with the default timeout makes it expire at once (its timer,
  paused on enter, resumes with the time that had passed, not the time that was left);
  one that asked never to expire stays.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
from desktops import (
    ACTIONS,
    DUNST,
    LXQT,
    NOTIFICATION_DAEMON,
    SERVERS,
    Bubble,
    Desktop,
    ServerSpec,
    move_pointer,
    park_pointer,
    running,
    wait_until,
)

pytestmark = pytest.mark.desktop

# Longer than any server keeps a bubble that asked for its default timeout (10 s).
KEPT_FOR = 12.0


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
def empty_screen(desk: Desktop) -> Iterator[None]:
    """Each fact starts on an empty screen, and takes down what it showed (bubbles that
    never expire would stay; notification-daemon queues the next behind one shown)."""
    wait_until(lambda: desk.on_screen() == 0, 10, "the screen empty", interval=0.1)
    yield
    sent, desk.heard.sent[:] = list(desk.heard.sent), []
    for nid in dict.fromkeys(sent):
        with contextlib.suppress(AssertionError):  # already closed
            desk.withdraw(nid)
    if desk.spec.wm_class:
        park_pointer(desk.display)
    wait_until(lambda: desk.on_screen() == 0, 10, "the screen emptied", interval=0.1)


@servers(*SERVERS)
def test_a_bubble_that_asks_to_stay(desk: Desktop) -> None:
    """Timeout 0 and "resident", as attuned sends a nudge: kept, unsaid, past every
    default expiry; after a press taken down by xfce4-notifyd and MATE (reason 2 at
    once), kept by the others with its answers working; CloseNotification takes it off
    the screen."""
    b = desk.show("Stay")
    with pytest.raises(AssertionError, match="no NotificationClosed"):
        desk.heard.wait_signal(b.nid, "NotificationClosed", KEPT_FOR)
    assert desk.displayed(b)
    desk.press(b, "Done")
    action = desk.heard.wait_signal(b.nid, "ActionInvoked", 5)
    if desk.spec.closes_after_action:
        closed = desk.heard.wait_signal(b.nid, "NotificationClosed", 5)
        assert desk.heard.signals(b.nid) == [("ActionInvoked", "done"),
                                             ("NotificationClosed", 2)]
        assert closed.at - action.at < 0.1  # at once: often in the same read
        desk.wait_gone(b)
        return
    desk.press(b, "Skip")
    desk.heard.wait(lambda _: len(desk.heard.signals(b.nid)) >= 2, 5, "a second answer")
    assert desk.heard.signals(b.nid) == [("ActionInvoked", "done"), ("ActionInvoked", "skip")]
    assert desk.displayed(b)
    # CloseNotification (after a replacement that expires at once on notification-daemon,
    # which leaves a closed bubble up: the test below).
    desk.withdraw(b.nid)
    assert desk.heard.wait_signal(b.nid, "NotificationClosed", 5).body[1] == 3
    desk.wait_gone(b)


@servers(*SERVERS)
def test_who_hears_the_signals(desk: Desktop) -> None:
    b = desk.show("Who hears")
    desk.withdraw(b.nid)
    closed = desk.heard.wait_signal(b.nid, "NotificationClosed", 5)
    assert (closed.destination == "") is (desk.spec is not DUNST), closed


@servers(*SERVERS)
def test_an_explicit_timeout_is_kept(desk: Desktop) -> None:
    """Asked for 2 s, every server takes the bubble down after about 2 s (only
    notification-daemon says nothing when it does)."""
    started = time.monotonic()
    b = desk.show("Two seconds", timeout_ms=2000, resident=False)
    gone = wait_until(lambda: desk.on_screen() == 0 and time.monotonic(), 6,
                      "the bubble taken down", interval=0.1)
    assert 1.5 <= gone - started <= 4.5
    if desk.spec.says_expired:
        assert desk.heard.wait_signal(b.nid, "NotificationClosed", 2).body[1] == 1
    else:
        assert desk.heard.signals(b.nid) == []


@servers(NOTIFICATION_DAEMON)
def test_notification_daemon_leaves_a_closed_bubble_up_and_queues_the_next(
        desk: Desktop) -> None:
    first = desk.show("Closed")
    assert first.window is not None
    desk.close_notification(first.nid)
    assert desk.heard.wait_signal(first.nid, "NotificationClosed", 5).body[1] == 3
    queued = desk.heard.notify("Queued", "A body", ACTIONS, 0, resident=True)
    # Past its own 5 s for a default timeout: still the closed one, the next unseen.
    with pytest.raises(AssertionError, match="not within"):
        wait_until(lambda: desk.bubbles() != [first.window], 6, "a change on screen",
                   interval=0.2)
    # Closed, it is forgotten: a Notify that names it makes a new one. Only the person
    # can take it down now; then the next comes up.
    desk.close_by_hand(first)
    desk.wait_gone(first)
    second = Bubble(queued, desk.wait_bubble({first.window.wid}))
    # Replaced with a timeout of 1 ms before it is closed, a bubble goes at once, unsaid
    # but for the close.
    assert desk.heard.notify("Queued", "", [], 1, replaces=queued) == queued
    desk.close_notification(queued)
    desk.wait_gone(second, 2)
    assert desk.heard.wait_signal(queued, "NotificationClosed", 5).body[1] == 3
    assert desk.heard.signals(queued) == [("NotificationClosed", 3)]


@servers(LXQT)
def test_lxqt_hides_a_repeat_of_a_bubble_on_screen(desk: Desktop) -> None:
    first = desk.show("Same")
    second = desk.heard.notify("Same", "A body", ACTIONS, 0, resident=True)
    assert second != first.nid
    assert "is already registered but this request is not an update" in wait_until(
        lambda: "already registered" in desk.server_log() and desk.server_log(), 5,
        "lxqt's complaint")
    desk.close_notification(first.nid)
    desk.heard.wait_signal(first.nid, "NotificationClosed", 5)
    wait_until(lambda: desk.on_screen() == 0, 5, "the screen empty")
    # The second was never shown, and is never closed: lxqt forgot it.
    desk.close_notification(second)
    with pytest.raises(AssertionError, match="no NotificationClosed"):
        desk.heard.wait_signal(second, "NotificationClosed", 1)


@servers(LXQT)
def test_lxqt_expires_a_fresh_bubble_the_pointer_passes_over(desk: Desktop) -> None:
    kept = desk.show("Never expires")
    passed = desk.show("Passed over", timeout_ms=-1, resident=False)
    [window] = desk.bubbles()  # lxqt shows every bubble in one window, one over the other
    started = time.monotonic()
    for y in (window.rect.y + window.rect.h // 4, window.rect.y + 3 * window.rect.h // 4):
        move_pointer(desk.display, window.rect.x + window.rect.w // 2, y)
    park_pointer(desk.display)
    closed = desk.heard.wait_signal(passed.nid, "NotificationClosed", 5)
    assert closed.body[1] == 1
    assert closed.at - started < 2  # not the 10 s it would have stayed
    with pytest.raises(AssertionError, match="no NotificationClosed"):
        desk.heard.wait_signal(kept.nid, "NotificationClosed", 1)
    assert desk.on_screen() == 1
