"""Where the D-Bus session bus is, for processes that may have been started without
DBUS_SESSION_BUS_ADDRESS (systemd user services, cron)."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping


def session_bus_address(environ: Mapping[str, str]) -> str | None:
    """DBUS_SESSION_BUS_ADDRESS if set; else `unix:path=$XDG_RUNTIME_DIR/bus` when that
    socket exists (the per-user bus systemd and dbus-broker provide); else None."""
    address = environ.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if address:
        return address
    runtime = environ.get("XDG_RUNTIME_DIR", "").strip()
    if not runtime:
        return None
    path = os.path.join(runtime, "bus")
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if not stat.S_ISSOCK(mode):
        return None
    return f"unix:path={path}"
