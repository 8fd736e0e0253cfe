"""Do-not-disturb beyond dunst: each desktop's switch is read before a nudge and heard
when it changes (attuned/notify/dnd.py), so a nudge is held (or dropped, as the
practice's `blocked` says) while it is on, and a held one comes when it is switched off.

Against the real servers (tests/desktops.py): xfce4-notifyd's xfconf property
/do-not-disturb, switched with xfconf-query as its settings dialog does;
mate-notification-daemon's GSettings key org.mate.NotificationDaemon do-not-disturb
(in a real dconf); and mako's mode "do-not-disturb", switched with `makoctl mode`. mako
1.7 announces no change: what is heard is the SetModes call makoctl makes (an
eavesdropping match).

Against FAKES, where the desktop cannot run here: GNOME Shell (a fake notification server
named "gnome-shell"; the key org.gnome.desktop.notifications show-banners is real,
written with the real gsettings through a real dconf-service), KDE Plasma (a fake server
with Plasma's "Inhibited" property and its PropertiesChanged) and mako 1.10 (a fake with
its "Modes" property invalidation). dunst's switch: tests/test_desktop_dunst_pause.py.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from buses import DBusDaemon, Events, run
from daemon_harness import Daemons, due_in, practice, settings
from desktops import (
    DCONF,
    MAKO,
    MATE,
    XFCE,
    Desktop,
    Proc,
    ServerSpec,
    need,
    program,
    running,
    wait_for_name,
    wait_until,
)
from notification_server import NotificationServer

from attuned.notify.dbus import DBusNotifier

pytestmark = pytest.mark.desktop


@pytest.fixture(scope="module")
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Desktop]:
    spec: ServerSpec = request.param
    # MATE keeps its switch in GSettings: a real dconf, as on a MATE desktop.
    with running(spec, tmp_path_factory.mktemp(spec.key), dconf=spec is MATE) as desk:
        yield desk


servers = pytest.mark.parametrize("desk", [XFCE, MAKO, MATE], indirect=True,
                                  ids=lambda s: s.key)
WHERE = {XFCE.key: "xfconf xfce4-notifyd /do-not-disturb",
         MAKO.key: "mako's mode do-not-disturb",
         MATE.key: "gsettings org.mate.NotificationDaemon do-not-disturb"}
DESKTOP = {XFCE.key: "xfce4-notifyd", MAKO.key: "mako", MATE.key: "MATE"}


def switch(desk: Desktop, on: bool) -> None:
    """What the person does: the settings dialog's switch (xfce, MATE: the same setting
    it writes), or `makoctl mode`."""
    value = "true" if on else "false"
    if desk.spec is XFCE:
        desk.tool("xfconf-query", "-c", "xfce4-notifyd", "-p", "/do-not-disturb", "-n",
                  "-t", "bool", "-s", value)
    elif desk.spec is MATE:
        desk.tool("gsettings", "set", "org.mate.NotificationDaemon", "do-not-disturb", value)
    else:
        desk.tool("makoctl", "mode", "-a" if on else "-r", "do-not-disturb")


@pytest.fixture
def off_afterwards(desk: Desktop) -> Iterator[None]:
    yield
    switch(desk, False)


def read_and_hear(address: str, flip: Callable[[bool], None]
                  ) -> tuple[list[bool | None], list[bool]]:
    """What the notifier reads before, during and after do-not-disturb, and the
    changes it hears."""
    changes = Events()

    async def main() -> list[bool | None]:
        notifier = DBusNotifier(address)
        notifier.on_dnd_change = changes
        try:
            assert await notifier.connect() is not None
            seen = [await notifier.do_not_disturb()]
            await asyncio.to_thread(flip, True)
            await changes.wait(1)
            seen.append(await notifier.do_not_disturb())
            await asyncio.to_thread(flip, False)
            await changes.wait(2)
            seen.append(await notifier.do_not_disturb())
            return seen
        finally:
            await notifier.aclose()

    seen = run(main)
    return seen, list(changes.items)


# ------------------------------------------------------------------------------ real


@servers
def test_the_switch_is_read_and_heard(desk: Desktop, off_afterwards: None,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in desk.session_env().items():
        monkeypatch.setenv(name, value)
    seen, changes = read_and_hear(desk.bus.address, lambda on: switch(desk, on))
    assert seen == [False, True, False]
    assert changes == [True, False]


@servers
def test_a_deferred_nudge_waits_until_do_not_disturb_is_off(
        desk: Desktop, daemons: Daemons, off_afterwards: None) -> None:
    switch(desk, True)
    d = daemons(bus=desk.bus.address, env=desk.session_env(), config_text=settings()
                + practice("look-up", title="Look up", once=due_in(1),
                           extra='blocked = "defer"')).start()
    assert d.log_matches(rf"INFO notify: do-not-disturb is read from "
                         rf"{DESKTOP[desk.spec.key]} \({WHERE[desk.spec.key]}\)")
    d.wait_for_log(r"INFO attuned: held look-up \(due \w+ \d\d:\d\d\) until notifications "
                   r"are resumed", 10)
    assert not [h for h in desk.heard.notifies() if h.body[3] == "Look up"]
    assert d.kinds() == [("look-up", "held", "daemon")]  # in the history, with why
    mark = d.mark()
    switch(desk, False)
    d.wait_for_log(r"INFO attuned: notifications resumed on the desktop", 5, since=mark)
    [m] = d.wait_for_log(r"INFO attuned: released held look-up \((\w+)\)", 5, since=mark)
    d.wait_for_log(rf'nudge "Look up" delivered via dbus to {desk.spec.server_name}', 5,
                   since=mark)
    [call] = [h for h in desk.heard.notifies() if h.body[3] == "Look up"]
    assert call.body[4] == "(held while notifications were paused) Time for look-up"
    wait_until(lambda: desk.on_screen() >= 1, 5, f"the nudge on {desk.spec.key}'s screen")
    assert d.kinds() == [("look-up", "held", "daemon"), ("look-up", "shown", "daemon")]
    assert {e.nudge_id for e in d.history()} == {m.group(1)}  # one nudge: held, then shown
    desk.close_notification(int(d.wait_for_log(r"\(id (\d+)\)", 1, since=mark)[0].group(1)))


@servers
def test_a_nudge_due_while_do_not_disturb_is_on_is_dropped_by_default(
        desk: Desktop, daemons: Daemons, off_afterwards: None) -> None:
    switch(desk, True)
    d = daemons(bus=desk.bus.address, env=desk.session_env(), config_text=settings()
                + practice("look-up", title="Dropped", once=due_in(1))).start()
    d.wait_for_log(r"INFO attuned: dropped look-up \(due \w+ \d\d:\d\d\): notifications "
                   r"are paused", 10)
    assert not [h for h in desk.heard.notifies() if h.body[3] == "Dropped"]
    assert d.kinds() == [("look-up", "dropped", "daemon")]


# ------------------------------------------------------------------------------ fakes

@pytest.fixture
def dconf(session_bus: DBusDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[dict[str, str]]:
    """A real dconf-service on the test's bus, storing under the test's home: gsettings
    writes go through it, and it announces each one (ca.desrt.dconf.Writer Notify)."""
    need(DCONF, "the GNOME do-not-disturb test")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus.address)
    monkeypatch.setenv("GSETTINGS_BACKEND", "dconf")
    env = dict(os.environ)
    service = Proc([program("/usr/libexec/dconf-service")], env=env,
                   log=tmp_path / "dconf.log")
    try:
        wait_for_name(session_bus.address, "ca.desrt.dconf", 10)
        yield env
    finally:
        service.stop()


def gsettings_set(env: dict[str, str], banners: bool) -> None:
    subprocess.run(["gsettings", "set", "org.gnome.desktop.notifications", "show-banners",
                    "true" if banners else "false"], env=env, check=True, timeout=10)


def test_gnome_show_banners_off_is_do_not_disturb(session_bus: DBusDaemon,
                                                  dconf: dict[str, str]) -> None:
    """FAKE GNOME Shell; the gsettings key, dconf and its announcements are real."""
    with NotificationServer(session_bus.address, name="gnome-shell"):
        seen, changes = read_and_hear(session_bus.address,
                                      lambda on: gsettings_set(dconf, not on))
    assert seen == [False, True, False]
    assert changes == [True, False]


def test_kde_plasma_inhibited_is_do_not_disturb(session_bus: DBusDaemon) -> None:
    """FAKE Plasma notification server: its "Inhibited" property and PropertiesChanged."""
    with NotificationServer(session_bus.address, name="Plasma", plasma=True) as server:
        seen, changes = read_and_hear(session_bus.address, server.set_paused)
    assert seen == [False, True, False]
    assert changes == [True, False]


def test_mako_1_10_announces_its_modes(session_bus: DBusDaemon) -> None:
    """FAKE mako 1.10: ListModes, and "Modes" invalidated by PropertiesChanged."""
    with NotificationServer(session_bus.address, name="mako", mako=True) as server:
        seen, changes = read_and_hear(session_bus.address, server.set_paused)
    assert seen == [False, True, False]
    assert changes == [True, False]
