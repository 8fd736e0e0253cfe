"""`attuned notify-test` as a person runs it, on a private bus with the test notification
server: its Done / Snooze / Skip answer the test (it says which was pressed, records
nothing, and withdraws the bubble), and with --wait 0 it offers none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from buses import DBusDaemon
from notification_server import NotificationServer

SERVER = "server: attuned-test-server 1.0 by attuned tests (capabilities: body, actions)"


def notify_test(bus: DBusDaemon, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "attuned", "notify-test", *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ,
                                                "DBUS_SESSION_BUS_ADDRESS": bus.address})


def finished(proc: subprocess.Popen[str]) -> list[str]:
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out.splitlines()


def test_a_press_on_the_test_nudge_is_heard_and_named(
        session_bus: DBusDaemon, notification_server: NotificationServer,
        isolated_dirs: Path) -> None:
    proc = notify_test(session_bus, "--wait", "20")
    [shown] = notification_server.wait_for_notify(1, 20)
    assert shown["actions"] == ["done", "Done", "snooze", "Snooze", "skip", "Skip"]
    assert shown["body"] == ("If you can read this, nudges reach you. Try a button: it "
                             "answers this test only.")
    assert (shown["app_icon"], shown["hints"]["desktop-entry"]) == ("attuned", "attuned")
    notification_server.wait_for("GetServerInformation")
    notification_server.click(shown["id"], "snooze")  # the press and the close, as xfce
    assert finished(proc) == [
        "delivered by: dbus", SERVER, "press Done, Snooze or Skip on it (waiting 20 s)",
        "you pressed Snooze: the buttons reach attuned (a test: nothing was recorded)"]
    closes = notification_server.wait_for("CloseNotification")
    assert [c["id"] for c in closes] == [shown["id"]]  # withdrawn: its buttons did their part
    assert not (isolated_dirs / "state" / "attuned" / "history.db").exists()


def test_a_press_before_the_id_is_known_counts_too(
        session_bus: DBusDaemon, notification_server: NotificationServer) -> None:
    notification_server.click_on_arrival("done")  # the signals, then Notify's reply
    assert finished(notify_test(session_bus))[-1] == (
        "you pressed Done: the buttons reach attuned (a test: nothing was recorded)")


def test_no_press_in_time_says_so(
        session_bus: DBusDaemon, notification_server: NotificationServer) -> None:
    assert finished(notify_test(session_bus, "--wait", "0.5"))[-2:] == [
        "press Done, Snooze or Skip on it (waiting 0.5 s)", "no button pressed within 0.5 s"]


def test_without_waiting_it_offers_no_buttons(
        session_bus: DBusDaemon, notification_server: NotificationServer) -> None:
    assert finished(notify_test(session_bus, "--wait", "0")) == ["delivered by: dbus", SERVER]
    [shown] = notification_server.notifies
    assert shown["actions"] == []
    assert shown["body"] == "If you can read this, nudges reach you. Nothing to do."
