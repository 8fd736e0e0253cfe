"""The real dunst's do-not-disturb (Debian 12: dunst 1.9.0), on a virtual X screen:
`dunstctl set-paused` is what the daemon reads (the property "paused" of
org.dunstproject.cmd0) and hears (a broadcast PropertiesChanged). Pins the facts that
tests/notification_server.py's `dunst=True` imitates. Skipped like test_desktop_dunst
when Xvfb or dunst is missing (a failure with ATTUNED_REQUIRE_DESKTOP=1)."""

from __future__ import annotations

import asyncio

import pytest
from buses import DBusDaemon, Events, run
from test_desktop_dunst import dunst, dunstctl, xvfb  # noqa: F401 (fixtures)

from attuned.notify.dbus import DBusNotifier

pytestmark = pytest.mark.desktop


def test_dunstctl_set_paused_is_read_and_heard(session_bus: DBusDaemon,
                                               dunst: dict[str, str]) -> None:  # noqa: F811
    changes = Events()

    async def main() -> list[bool | None]:
        notifier = DBusNotifier(session_bus.address)
        notifier.on_dnd_change = changes
        try:
            info = await notifier.connect()
            assert info is not None and info.name == "dunst"
            seen = [await notifier.do_not_disturb()]
            await asyncio.to_thread(dunstctl, dunst, "set-paused", "true")
            await changes.wait(1)
            seen.append(await notifier.do_not_disturb())
            await asyncio.to_thread(dunstctl, dunst, "set-paused", "false")
            await changes.wait(2)
            seen.append(await notifier.do_not_disturb())
            return seen
        finally:
            await notifier.aclose()

    assert run(main) == [False, True, False]
    assert changes.items == [True, False]
