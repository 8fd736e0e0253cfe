"""attuned's icon as a real server finds it (dunst on a virtual X screen, Debian packages
xvfb and dunst): the files `attuned service install` writes under $XDG_DATA_HOME, and a
nudge that names the icon `attuned`. Skipped with the reason when Xvfb or dunst is
missing, unless ATTUNED_REQUIRE_DESKTOP=1 (CI).

A fact found here: dunst 1.9.0's recursive icon lookup (`enable_recursive_icon_lookup`,
`icon_theme = hicolor`) reads a theme's folders only where its index.theme is, so it
never finds an icon in ~/.local/share/icons/hicolor (which has none); its `icon_path`
finds it. (xfce4-notifyd 0.7.3, through GTK's lookup, showed it with no setting when
tried by hand on Xvfb; it shows no app name in its bubbles.)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from buses import DBusDaemon
from test_desktop_dunst import NAME, START, Proc, wait_for_name, xvfb  # noqa: F401

from attuned.notify.base import Notification
from attuned.notify.dbus import DBusNotifier
from attuned.system import desktop

pytestmark = pytest.mark.desktop


def start_dunst(tmp_path: Path, display: str, bus: DBusDaemon, env: dict[str, str],
                config: str) -> Proc:
    rc = tmp_path / "dunstrc"
    rc.write_text(f"[global]\n    font = Monospace 10\n{config}\n")
    log = tmp_path / "dunst.log"
    with open(log, "wb") as out:
        proc = Proc(subprocess.Popen(
            ["dunst", "-config", str(rc)], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            env={**env, "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": bus.address}), log)
    try:
        wait_for_name(bus.address, NAME, START)
    except BaseException:
        proc.stop()
        raise
    return proc


@pytest.fixture
def installed(isolated_dirs: Path) -> Iterator[dict[str, str]]:
    env = dict(os.environ)  # conftest's XDG_DATA_HOME, as install honours it
    desktop.install_files(["/usr/bin/attuned"], env)
    yield env


def icon_dunst_showed(bus: DBusDaemon, env: dict[str, str]) -> str:
    """Send a nudge (with the icon every nudge carries), close it, and read from dunst's
    history which file it showed as its icon."""
    async def send() -> None:
        notifier = DBusNotifier(bus.address)
        try:
            await notifier.send(Notification("Breakfast presence", "Paper down."))
        finally:
            await notifier.aclose()

    asyncio.run(asyncio.wait_for(send(), 30))
    ctl = {**env, "DBUS_SESSION_BUS_ADDRESS": bus.address}
    subprocess.run(["dunstctl", "close-all"], env=ctl, check=True, timeout=10)
    out = subprocess.run(["dunstctl", "history"], env=ctl, capture_output=True, text=True,
                         check=True, timeout=10).stdout
    [[shown]] = json.loads(out)["data"]
    assert (shown["appname"]["data"], shown["summary"]["data"]) == ("attuned",
                                                                    "Breakfast presence")
    return str(shown["icon_path"]["data"])


def test_dunst_shows_the_installed_icon_through_its_icon_path(
        tmp_path: Path, xvfb: str, session_bus: DBusDaemon,  # noqa: F811
        installed: dict[str, str]) -> None:
    apps = Path(installed["XDG_DATA_HOME"]) / "icons" / "hicolor" / "48x48" / "apps"
    dunst = start_dunst(tmp_path, xvfb, session_bus, installed,
                        f"    icon_path = {apps}\n    max_icon_size = 48")
    try:
        assert icon_dunst_showed(session_bus, installed) == str(apps / "attuned.png")
    finally:
        dunst.stop()


def test_dunsts_recursive_lookup_misses_icons_in_the_users_hicolor(
        tmp_path: Path, xvfb: str, session_bus: DBusDaemon,  # noqa: F811
        installed: dict[str, str]) -> None:
    dunst = start_dunst(tmp_path, xvfb, session_bus, installed,
                        "    enable_recursive_icon_lookup = true\n    icon_theme = hicolor")
    try:
        assert icon_dunst_showed(session_bus, installed) == ""  # the fact above
    finally:
        dunst.stop()
