"""`attuned doctor`: is everything attuned needs in place, and if not, how to fix it.

Each check returns a `CheckResult` (name, ok, detail, fix); the CLI only formats them.
A check never changes anything: the history database is opened read-only (Store.open
would move a damaged file aside, which is the daemon's call to make, not the doctor's),
the daemon is only asked for its status, systemctl only queried.

Everything outside comes in through `Inputs` (runner, environment, paths, platform,
timeouts), so tests point each check at a private bus, a test daemon or a stand-in.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from attuned import fsutil, paths
from attuned.core.model import Schedule
from attuned.errors import AttunedError, ConfigNotFound, DaemonNotRunning, ScheduleError
from attuned.system.install import CommandResult, Runner, ServiceStatus, run_command

CLI_ANSWER = "attuned done|snooze|skip"
START_SERVICE = "systemctl --user start attuned"


@dataclass(frozen=True)
class CheckResult:
    """One line of the doctor's report.

    `ok` False with `needed` True is a failure (✗): attuned cannot work as it is, and
    doctor exits 1. `ok` False with `needed` False is a warning (!): attuned works, but
    less well than it could (nudges only in the log, no buttons, not started at login).
    """

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    needed: bool = True

    @property
    def level(self) -> str:
        """"ok", "warn" or "fail"."""
        if self.ok:
            return "ok"
        return "fail" if self.needed else "warn"


def _ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, True, detail)


def _warn(name: str, detail: str, fix: str | None = None) -> CheckResult:
    return CheckResult(name, False, detail, fix, needed=False)


def _fail(name: str, detail: str, fix: str | None = None) -> CheckResult:
    return CheckResult(name, False, detail, fix, needed=True)


def _default_runner(argv: Sequence[str]) -> CommandResult:
    # Short: the doctor answers in seconds even when systemctl hangs.
    return run_command(argv, timeout=5.0)


@dataclass(frozen=True)
class Inputs:
    """Everything the checks read from outside. Defaults are the real ones."""

    config: Path = field(default_factory=paths.config_path)
    history_db: Path = field(default_factory=paths.history_db)
    control_socket: Path = field(default_factory=paths.control_socket)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    runner: Runner = _default_runner
    platform: str = sys.platform
    timeout: float = 2.0                          # per bus / socket conversation
    system_zone: Callable[[], ZoneInfo] | None = None  # default: attuned.config.zones.system_zone


def needed_ok(results: list[CheckResult]) -> bool:
    """True when nothing attuned needs is failing (warnings allowed): doctor exits 0."""
    return all(r.ok or not r.needed for r in results)


def run_checks(inputs: Inputs | None = None) -> list[CheckResult]:
    """Every check, in the order the report shows them."""
    inp = Inputs() if inputs is None else inputs
    config_result, schedule = check_config(inp)
    results = [config_result]
    results.extend(check_notifications(inp))
    results.extend(check_service(inp))
    results.extend(check_daemon(inp))
    results.append(check_history(inp))
    results.append(check_time_zone(inp, schedule))
    return results


# ---------------------------------------------------------------- the schedule


def check_config(inp: Inputs) -> tuple[CheckResult, Schedule | None]:
    """The schedule file parses and validates (exactly what `attuned check` says)."""
    from attuned.config import read as schedule_io

    name = "schedule"
    path = inp.config
    try:
        sched = schedule_io.load(path)
    except ConfigNotFound:
        return _warn(name, f"no schedule file at {path}: the built-in example runs",
                     "make it yours with `attuned init`, then `attuned edit`"), None
    except ScheduleError as e:
        return _fail(name, f"{path} has problems, so it cannot be used:\n{e}",
                     "correct the lines above (`attuned edit` checks before it saves); "
                     "a running daemon keeps the last good schedule meanwhile"), None
    except AttunedError as e:
        return _fail(name, str(e), f"make {path} a readable text file, or move it away "
                     "and run `attuned init`"), None
    enabled = sum(1 for p in sched.practices if p.enabled)
    n = len(sched.practices)
    return _ok(name, f"{path}: valid, {n} practice{'' if n == 1 else 's'} "
                     f"({enabled} enabled)"), sched


# ---------------------------------------------------------------- bus and server


@dataclass(frozen=True)
class BusProbe:
    """What the session bus said. `error` is set when it could not be reached."""

    address: str | None
    error: str | None = None
    server: Any = None            # notify.base.ServerInfo, or None when none runs
    activatable: bool = False     # the bus would start a server on the first nudge


async def probe_bus(address: str, timeout: float) -> BusProbe:
    """Connect to the bus at `address` the way the daemon does and ask for the server."""
    from attuned.errors import NotifyError
    from attuned.notify.dbus import DBusNotifier

    notifier = DBusNotifier(address, call_timeout=timeout)
    try:
        try:
            info = await asyncio.wait_for(notifier.connect(), timeout * 3)
        except NotifyError as e:
            return BusProbe(address, error=str(e))
        except TimeoutError:
            return BusProbe(address, error=f"the bus at {address} did not answer within "
                                           f"{timeout * 3:g} s")
        # An activation file (as dunst installs) makes "none running" no problem.
        activatable = info is None and await notifier.server_activatable()
        return BusProbe(address, server=info, activatable=activatable)
    finally:
        await notifier.aclose()


def _address_source(environ: Mapping[str, str]) -> str:
    if environ.get("DBUS_SESSION_BUS_ADDRESS", "").strip():
        return "from DBUS_SESSION_BUS_ADDRESS"
    return "from $XDG_RUNTIME_DIR/bus"


NO_BUS_FIX = (
    "run attuned inside your desktop session; if the session has a bus but services do "
    "not see it, add `dbus-update-activation-environment --systemd DBUS_SESSION_BUS_ADDRESS "
    "DISPLAY WAYLAND_DISPLAY` to your session's startup file")
NO_SERVER_FIX = (
    "start a notification server: your desktop's own, or dunst, mako or xfce4-notifyd on "
    "a plain window manager (e.g. `exec dunst` in its startup file)")


# Servers that advertise actions but offer them through a menu, not buttons.
MENU_SERVERS = {
    "dunst": "in its context menu (`dunstctl context`)",
    "mako": "in its menu (`makoctl menu`)",
}


def check_notifications(inp: Inputs, probe: BusProbe | None = None) -> list[CheckResult]:
    """The session bus (reachable, at which address) and the notification server on it
    (present, its name, whether it shows buttons). Neither is needed: without them
    nudges go to the log."""
    from attuned.notify.busaddr import session_bus_address

    if not inp.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return [_warn("notifications",
                      "shown through plyer: no Done/Snooze/Skip buttons on this system",
                      f"answer nudges from a terminal: `{CLI_ANSWER}`")]
    address = session_bus_address(inp.environ)
    if address is None:
        return [
            _warn("session bus", "none found: DBUS_SESSION_BUS_ADDRESS is not set and "
                  "$XDG_RUNTIME_DIR/bus does not exist; nudges go to the log only",
                  NO_BUS_FIX),
            _warn("notifications", "not checked (no session bus)"),
        ]
    if probe is None:
        probe = asyncio.run(probe_bus(address, inp.timeout))
    if probe.error is not None:
        return [
            _warn("session bus", f"{probe.error}; nudges go to the log only", NO_BUS_FIX),
            _warn("notifications", "not checked (no session bus)"),
        ]
    results = [_ok("session bus", f"{address} ({_address_source(inp.environ)})")]
    info = probe.server
    if info is None:
        if probe.activatable:
            results.append(_ok("notifications", "no server running now; the bus starts "
                               "one at the first nudge"))
        else:
            results.append(_warn("notifications", "no notification server on the bus; "
                                 "nudges go to the log only", NO_SERVER_FIX))
        return results
    who = f"{info.name} {info.version}".strip()
    if info.supports_actions:
        menu = MENU_SERVERS.get(info.name.lower())
        results.append(_ok("notifications", f"{who}: shows Done / Snooze / Skip"
                                            + (f" {menu}" if menu else "")))
    else:
        results.append(_warn(
            "notifications", f"{who}: shows nudges without buttons",
            f"answer nudges from a terminal: `{CLI_ANSWER}` (or use a server that "
            "offers actions: KDE, xfce4-notifyd, dunst, mako)"))
    return results


# ---------------------------------------------------------------- the service


def check_service(inp: Inputs) -> list[CheckResult]:
    """Installed, enabled, running, and running this attuned. None of it is needed:
    attuned also runs by hand (`attuned run`)."""
    from attuned.system import desktop, install

    mac = inp.platform == "darwin"
    name = "service"
    if not mac:
        problem = install.systemd_problem(inp.runner)
        if problem is not None and not desktop.autostart_installed(inp.environ):
            first, _, rest = problem.partition("\n")
            return [_warn(name, first, rest.strip() or None)]
    try:
        st = install.status(inp.runner, platform=inp.platform, environ=inp.environ)
    except AttunedError as e:
        return [_warn(name, str(e))]
    if not st.installed:
        return [_warn(name, f"not installed (no {st.path})",
                      "`attuned service install --now` starts it now and at every login")]
    if st.manager == "autostart":
        return [_autostart_result(st), _program_result(st)]
    results: list[CheckResult] = []
    started_at_login = st.enabled in ("enabled", "enabled-runtime", "static", "loaded")
    running = st.active in ("active", "reloading")
    facts = f"installed at {st.path}, {st.enabled}, {st.active}"
    login = None if mac or not started_at_login else _at_login(inp.runner)
    if not started_at_login:
        fix = ("`attuned service install` enables it" if not mac
               else "`attuned service install --now` loads it")
        results.append(_warn(name, facts + ": it will not start at login", fix))
    elif login == _UNREACHED:
        # Enabled, but only into a target this kind of session never starts: a start by
        # hand lasts until the next login.
        if running:
            results.append(_warn(
                name, f"{facts}, but it will not start at your next login: {_UNREACHED}",
                "`attuned service install` makes it start with your login too "
                "(default.target)"))
        else:
            results.append(_warn(
                name, f"{facts}: not running, and it will not start at your next login "
                f"either: {_UNREACHED}",
                "`attuned service install --now` starts it now and at every login"))
    elif login is not None:
        if running:
            results.append(_ok(name, f"{facts}; {login}"))
        else:
            results.append(_warn(name, f"{facts}: not running now; it {login}",
                                 f"start it with `{START_SERVICE}`; if it fails, "
                                 "`attuned service logs` says why"))
    elif not running:
        fix = (f"start it with `{START_SERVICE}`; if it fails, "
               "`attuned service logs` says why") if not mac else \
              "`attuned service install --now` starts it; `attuned service logs` shows its log"
        results.append(_warn(name, facts + ": not running now", fix))
    else:
        results.append(_ok(name, facts))
    if not mac:
        results.append(_service_bus(inp))
    results.append(_program_result(st))
    return results


def _program_result(st: ServiceStatus) -> CheckResult:
    if st.points_here:
        return _ok("service program", f"runs this attuned ({st.exec_start})")
    return _warn("service program", f"runs {st.exec_start or 'nothing'}, but this attuned "
                 f"is {st.expected_exec_start} (an old install?)",
                 "`attuned service install --now` points it here (the old unit is kept aside)")


def _autostart_result(st: ServiceStatus) -> CheckResult:
    """The XDG autostart entry (no systemd user manager, or asked for): the desktop
    session starts the daemon at login."""
    facts = f"the XDG autostart entry {st.path}"
    if st.enabled != "enabled":
        return _warn("service", f"{facts} is switched off (Hidden=true or "
                     "X-GNOME-Autostart-enabled=false): it will not start at login",
                     "`attuned service install` writes it anew")
    if st.active != "active":
        return _warn("service", f"{facts}: starts at your next login; not running now",
                     "`attuned service install --now` starts it; `attuned service logs` "
                     "shows its log")
    return _ok("service", f"{facts}: starts with your desktop session; running")


_AT_LOGIN = "starts at every login (default.target)"
_WITH_DESKTOP = "starts with your desktop session (graphical-session.target)"
_UNREACHED = ("it starts with graphical-session.target, which this session never reached "
              "(as with a plain window manager)")


def _at_login(runner: Runner) -> str | None:
    """What starts the service at the next login: one of the texts above, or None when
    neither target wants it (enabled into some other target: not ours to judge)."""
    from attuned.system.install import (
        DESKTOP_TARGET,
        LOGIN_TARGET,
        graphical_session_active,
        wanted_by,
    )

    if wanted_by(runner, LOGIN_TARGET):
        return _AT_LOGIN
    if wanted_by(runner, DESKTOP_TARGET):
        return _WITH_DESKTOP if graphical_session_active(runner) else _UNREACHED
    return None


def _unquote(value: str) -> str:
    # systemctl show-environment writes values with shell-special characters as $'...'
    # (systemctl(1)); bus addresses and paths need no C escapes undone.
    if value.startswith("$'") and value.endswith("'") and len(value) >= 3:
        return value[2:-1]
    return value


MANAGER_ENV = "its manager's environment"
UNIT_ENV = "its unit's Environment="


def service_environment(runner: Runner) -> tuple[dict[str, str], dict[str, str]] | str:
    """The environment the user manager gives the service, and where each variable comes
    from: the manager's own environment (`systemctl --user show-environment`), overridden
    by the unit's Environment= lines, drop-ins included (`systemctl --user show attuned
    -p Environment`). Or why it cannot be read."""
    import shlex

    from attuned.system.install import UNIT_NAME

    shown = runner(("systemctl", "--user", "show-environment"))
    if shown.returncode != 0:
        said = (shown.stderr or shown.stdout).strip() or f"exit {shown.returncode}"
        return f"cannot read the service manager's environment ({said})"
    env: dict[str, str] = {}
    for text in shown.stdout.splitlines():
        key, sep, value = text.partition("=")
        if sep:
            env[key] = _unquote(value)
    sources = dict.fromkeys(env, MANAGER_ENV)
    unit = runner(("systemctl", "--user", "show", UNIT_NAME, "--property=Environment",
                   "--value"))
    try:
        # systemctl quotes an assignment that needs it ("B=two words"), shell-like.
        words = shlex.split(unit.stdout) if unit.returncode == 0 else []
    except ValueError:
        words = []
    for word in words:
        key, sep, value = word.partition("=")
        if sep:
            env[key], sources[key] = value, UNIT_ENV
    return env, sources


def _service_bus(inp: Inputs) -> CheckResult:
    """Which bus and display the service, started by the user manager rather than from
    this terminal, will see, and whether that bus answers (the usual reason cron or
    service nudges never show)."""
    from attuned.notify.busaddr import session_bus_address
    from attuned.system.install import UPDATE_ENVIRONMENT

    name = "service bus"
    found = service_environment(inp.runner)
    if isinstance(found, str):
        return _warn(name, found)
    env, sources = found
    displays = [f"{key}={env[key]} (from {sources[key]})"
                for key in ("WAYLAND_DISPLAY", "DISPLAY") if env.get(key, "").strip()]
    display = ("display: " + ", ".join(displays) if displays
               else "display: none (nudges over D-Bus need none)")
    address = session_bus_address(env)
    if address is None:
        return _warn(name, "the service would find no session bus (its manager has no "
                     "DBUS_SESSION_BUS_ADDRESS and there is no $XDG_RUNTIME_DIR/bus): "
                     "its nudges would go to the log",
                     f"add `{UPDATE_ENVIRONMENT}` to your session's startup file")
    given = env.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    source = f"from {sources['DBUS_SESSION_BUS_ADDRESS']}" if given else \
        "at $XDG_RUNTIME_DIR/bus"
    probe = asyncio.run(probe_bus(address, inp.timeout))
    if probe.error is not None:
        fix = ("correct or remove DBUS_SESSION_BUS_ADDRESS in the unit or its drop-ins "
               "(`systemctl --user cat attuned` shows them, `systemctl --user edit attuned` "
               "changes them), then `systemctl --user restart attuned`"
               if given and sources["DBUS_SESSION_BUS_ADDRESS"] == UNIT_ENV
               else f"add `{UPDATE_ENVIRONMENT}` to your session's startup file")
        return _warn(name, f"the service would use the session bus {address} ({source}), "
                     f"which does not answer: {probe.error}; its nudges would go to the "
                     f"log\n{display}", fix)
    return _ok(name, f"the service finds the session bus at {address} ({source})\n{display}")


# ---------------------------------------------------------------- the daemon


def _how_to_start(inp: Inputs) -> str:
    """Only what works here: no `systemctl --user` where no user manager answers."""
    from attuned.system import desktop, install

    if inp.platform != "darwin" and install.systemd_problem(inp.runner) is not None:
        if desktop.autostart_installed(inp.environ):
            return ("`attuned run` in a terminal (no user manager answers here; the "
                    "autostart entry starts it at your next login)")
        return ("`attuned run` in a terminal (no user manager answers here; `attuned "
                "service install --now` sets up an autostart entry for your desktop session)")
    return (f"`{START_SERVICE}` (or `attuned service install --now`), or `attuned run` in "
            "a terminal")


def check_daemon(inp: Inputs) -> list[CheckResult]:
    """The running daemon answers on its control socket; and, as it tells, where it
    believes the person is and whether the desktop's notifications are paused (nudges
    held or dropped meanwhile)."""
    from attuned.daemon import control

    name = "daemon"
    try:
        st = control.call("status", path=inp.control_socket, timeout=inp.timeout)
    except DaemonNotRunning:
        return [_warn(name, f"not running (nothing answers at {inp.control_socket})",
                      _how_to_start(inp))]
    except AttunedError as e:
        return [_warn(name, str(e))]
    results = [_daemon_result(inp, st)]
    presence = st.get("presence")
    if isinstance(presence, dict):
        # What the daemon believes, so a nudge held or sent to the phone can be understood.
        results.append(_ok("presence", f"{presence.get('text')}, as the daemon believes"))
    if st.get("paused") is True:
        results.append(_paused_result(st))
    return results


def _paused_result(st: Mapping[str, Any]) -> CheckResult:
    held = st.get("held")
    waiting = sum(1 for h in held if isinstance(h, dict) and h.get("reason") == "dnd") \
        if isinstance(held, list) else 0
    nudges = f"{waiting} nudge{'' if waiting == 1 else 's'}"
    if waiting:
        return _warn("do-not-disturb", f"notifications are paused on your desktop: {nudges} "
                     "held", f"resume notifications on your desktop; {nudges} "
                     f"wait{'s' if waiting == 1 else ''}")
    return _warn("do-not-disturb", "notifications are paused on your desktop: nudges due "
                 "meanwhile are held or dropped (as each practice's `blocked` says)",
                 "resume notifications on your desktop")


def _daemon_result(inp: Inputs, st: Mapping[str, Any]) -> CheckResult:
    name = "daemon"
    nxt = st.get("next") or []
    when = "nothing planned"
    if nxt and isinstance(nxt[0], dict):
        when = f"{nxt[0].get('practice')} at {str(nxt[0].get('at', ''))[:16].replace('T', ' ')}"
    detail = f"answering at {inp.control_socket}; next: {when}"
    if st.get("schedule_error"):
        return _warn(name, detail + "; it keeps the last good schedule because the file "
                     "has a problem", "`attuned check` shows the problem")
    source = st.get("schedule")
    if (isinstance(source, str) and not st.get("using_example")
            and Path(source).resolve() != inp.config.resolve()):
        return _warn(name, f"{detail}; it reads {source}, not {inp.config}",
                     "use the same --config (or ATTUNED_CONFIG) for the daemon and the CLI")
    return _ok(name, detail)


# ---------------------------------------------------------------- the history


def check_history(inp: Inputs) -> CheckResult:
    """The history database is readable and consistent (read-only: nothing is moved or
    written, not even a WAL checkpoint)."""
    from attuned.state import rows
    from attuned.state.database import foreign, read_only_uri
    from attuned.state.store import LATEST_VERSION

    name = "history"
    db = inp.history_db
    if not db.exists():
        return _ok(name, f"none yet; the daemon creates {db}")
    try:
        fsutil.refuse_irregular(db)  # a FIFO would hang the header's read below
    except fsutil.NotRegularFile as e:
        return _fail(name, f"{db} is not a regular file ({e.kind})",
                     "move it away: attuned then starts a fresh history in its place")
    if not os.access(db, os.R_OK | os.W_OK):
        mode = f"{db.stat().st_mode & 0o777:04o}"
        what = ("is read-only for you: attuned can show it but not record anything"
                if os.access(db, os.R_OK) else "cannot be read by you")
        return _fail(name, f"{db} {what} (mode {mode}); it is not damaged",
                     f"give it back to your user: `chmod u+rw {db}`")
    restart = "restart the daemon (`systemctl --user restart attuned`): it moves the " \
              "damaged file aside (nothing is deleted) and starts a fresh history"
    other = foreign(db)
    if other is not None:
        return _fail(name, other.split("; attuned leaves it")[0],
                     "move it elsewhere: attuned leaves it as it is, and starts a fresh "
                     "history in its place")
    try:
        conn = sqlite3.connect(read_only_uri(db), uri=True, timeout=2.0)
    except sqlite3.Error as e:
        return _fail(name, f"{db} cannot be opened: {e}", restart)
    try:
        verdict = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
        if verdict != ["ok"]:
            return _fail(name, f"{db} is damaged: {'; '.join(verdict[:3])}", restart)
        row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        nudges = conn.execute("SELECT COUNT(*) FROM nudges").fetchone()[0]
        bad = list(rows.scan(conn)) if (row[0] or 0) <= LATEST_VERSION else []
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return _fail(name, f"{db} is not an attuned history ({e})", restart)
        if "locked" in str(e) or "busy" in str(e):
            return _warn(name, f"{db} is busy ({e}); try again in a moment")
        return _fail(name, f"{db} cannot be read: {e}", restart)
    except sqlite3.DatabaseError as e:
        return _fail(name, f"{db} is damaged: {e}", restart)
    finally:
        conn.close()
    version = row[0] or 0
    if version > LATEST_VERSION:
        return _fail(name, f"{db} was written by a newer attuned (schema {version}, this "
                           f"one knows up to {LATEST_VERSION})", "upgrade attuned")
    if bad:
        return _fail(name, f"{db}: {_rows(len(bad))} cannot be read (attuned leaves them "
                           "out): " + "; ".join(str(b) for b in bad[:10])
                     + (f"; and {len(bad) - 10} more" if len(bad) > 10 else ""),
                     "stop the daemon, copy the file aside, then correct or delete those "
                     f"rows with sqlite3 (`sqlite3 {db} .schema` shows the tables)")
    return _ok(name, f"{db}: healthy, {nudges} nudge{'' if nudges == 1 else 's'}")


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


# ---------------------------------------------------------------- time zones


def check_time_zone(inp: Inputs, schedule: Schedule | None) -> CheckResult:
    """The schedule's zone against the system's: a schedule pinned to another zone is
    fine when meant (travelling), surprising when forgotten."""
    from attuned.config import zones

    name = "time zone"
    system = (inp.system_zone or zones.system_zone)()
    if schedule is None or schedule.settings.timezone is None:
        return _ok(name, f"the schedule follows the system's zone, {system.key}")
    try:
        pinned = zones.schedule_zone(schedule.settings)
    except AttunedError as e:
        return _fail(name, str(e))
    if pinned.key == system.key:
        return _ok(name, f"{pinned.key}, the same as the system's")
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    same_now = now.astimezone(pinned).utcoffset() == now.astimezone(system).utcoffset()
    detail = (f"the schedule keeps {pinned.key} clock times, the system is in {system.key}"
              + (" (the same offset today)" if same_now else ""))
    return _warn(name, detail, "fine if you meant it (travelling); otherwise remove "
                               "`timezone` from [settings] to follow the system")
