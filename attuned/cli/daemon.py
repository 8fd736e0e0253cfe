"""The daemon's commands: run (the foreground daemon the user service runs), notify-test,
status and reload (over the control socket).

The daemon, asyncio and the notification backends are imported inside the commands.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click

from attuned.cli.common import call_daemon
from attuned.cli.common import config_path as _config
from attuned.errors import AttunedError


@click.command()
@click.option("-v", "--verbose", count=True, help="More detail in the log (-vv: libraries too).")
@click.pass_context
def run(ctx: click.Context, verbose: int) -> None:
    """Run the daemon in the foreground (what the user service runs).

    With no schedule file yet, it runs the built-in example and says so.

    \b
    Example:
        attuned run -v
    """
    from attuned.daemon import lifecycle as daemon

    ctx.exit(daemon.run(_config(ctx), verbose))


@click.command(name="notify-test")
@click.option("--wait", type=click.FloatRange(0, 600), default=15.0, show_default=True,
              metavar="SECONDS",
              help="How long to wait for a press of its buttons (0: send it without).")
def notify_test(wait: float) -> None:
    """Send one test nudge now and say which way it went.

    Its Done, Snooze and Skip answer the test only (nothing is recorded): press one and
    it says which it heard, so you know the buttons reach attuned.

    \b
    Example:
        attuned notify-test
    """
    import asyncio

    from attuned.notify.base import (
        CLOSED_DISMISSED,
        CLOSED_EXPIRED,
        EXPIRES_NEVER,
        NUDGE_ACTIONS,
        Notification,
    )
    from attuned.notify.chain import default_chain, describe_server

    heard: list[tuple[int, str, str | int]] = []  # (id, "action" | "closed", key | reason)
    arrived = asyncio.Event()

    def on_action(nid: int, key: str) -> None:
        heard.append((nid, "action", key))
        arrived.set()

    def on_closed(nid: int, reason: int) -> None:
        heard.append((nid, "closed", reason))
        arrived.set()

    async def answer(nid: int) -> str:
        """What happened to the test nudge `nid` within `wait` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            # Signals may come before Notify's reply: those kept are looked at first.
            for got, kind, value in heard:
                if got != nid:
                    continue
                if kind == "action":
                    label = dict(NUDGE_ACTIONS).get(str(value), str(value))
                    return f"you pressed {label}: the buttons reach attuned (a test: " \
                           "nothing was recorded)"
                if value == CLOSED_DISMISSED:
                    return "the test nudge was closed without a press"
                if value == CLOSED_EXPIRED:
                    return "the server took the test nudge down before a press"
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return f"no button pressed within {wait:g} s"

    async def go() -> None:
        from attuned.errors import NotifyError

        chain = default_chain()
        chain.on_action = on_action
        chain.on_closed = on_closed
        try:
            if chain.primary is not None:
                try:
                    await chain.primary.connect()
                except NotifyError as e:
                    click.echo(f"D-Bus: {e}")
            buttons = wait > 0
            d = await chain.send(Notification(
                title="attuned: test nudge",
                body="If you can read this, nudges reach you. "
                     + ("Try a button: it answers this test only." if buttons
                        else "Nothing to do."),
                actions=NUDGE_ACTIONS if buttons else (),
                # Up until pressed, where the server lets it (as a nudge is).
                timeout_ms=EXPIRES_NEVER if buttons else -1, resident=buttons))
            click.echo(f"delivered by: {d.backend}")
            info = chain.server_info
            if info is not None and d.backend == "dbus":
                click.echo(f"server: {describe_server(info)}")
                if not info.supports_actions:
                    click.echo("this server shows no buttons: answer nudges with "
                               "`attuned done`, `attuned snooze` or `attuned skip`")
                elif buttons and d.notification_id is not None:
                    click.echo(f"press Done, Snooze or Skip on it (waiting {wait:g} s)")
                    click.echo(await answer(d.notification_id))
                    await chain.close_notification(d.notification_id)
        finally:
            await chain.aclose()

    asyncio.run(go())


def _without_systemctl(e: AttunedError) -> AttunedError:
    """The daemon's "start it with ... or `systemctl --user start attuned`", with only the
    true half where no user manager answers."""
    from attuned.errors import DaemonNotRunning
    from attuned.system.install import run_command, systemd_problem

    text = str(e)
    if sys.platform == "darwin" or "systemctl --user" not in text or \
            systemd_problem(run_command) is None:
        return e
    head = text.rsplit("; ", 1)[0]
    return DaemonNotRunning(f"{head}; start it with `attuned run` (no user manager answers "
                            "here, so not with systemctl; `attuned service install --now` "
                            "sets up an autostart entry for your desktop session)")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Is the daemon running; what is open, snoozed, and coming next.

    \b
    Example:
        attuned status
    """
    from attuned.errors import DaemonNotRunning

    try:
        st = call_daemon("status")
    except DaemonNotRunning as e:
        if as_json:
            click.echo(json.dumps({"running": False, "reason": str(e)}))
            return
        raise _without_systemctl(e) from None
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    click.echo(f"running, schedule {st['schedule']}"
               + (" (built-in example)" if st.get("using_example") else ""))
    click.echo(f"last reload: {_short(st['last_reload'])}")
    if st.get("schedule_error"):
        click.echo("the file has a problem; the last good schedule keeps running:")
        click.echo(_indent(str(st["schedule_error"])))
    for n in st["open"]:
        back = f", back from the snoozed {n['snoozed_from']}" if n.get("snoozed_from") else ""
        click.echo(f"open: {n['nudge']}  {n['title']}  (since {_short(n['shown_at'])}{back})")
    for n in st["snoozed"]:
        click.echo(f"snoozed: {n['nudge']}  {n['title']}  (back at {_short(n['until'])})")
    for n in st.get("held", []):
        why = _HELD_WHY.get(n["reason"], n["reason"])
        digest = ", for the digest" if n["mode"] == "digest" else ""
        click.echo(f"held: {n['nudge'] or '-'}  {n['title']}  ({why}{digest})")
    together = st.get("together")
    if isinstance(together, dict):
        click.echo(f"together mode: {_together(together)}")
    presence = st.get("presence")
    if isinstance(presence, dict):
        click.echo(f"presence: {presence['text']}")
    if st.get("phone"):
        click.echo(f"phone: {st['phone']}")
    if st.get("paused"):
        waiting = sum(1 for n in st.get("held", []) if n["reason"] == "dnd")
        click.echo(f"notifications are paused: {_nudges(waiting)} held")
    if not st["next"]:
        click.echo("next: nothing planned")
    for n in st["next"]:
        click.echo(f"next: {_short(n['at'])}  {n['practice']}  {n['title']}")


# Why a nudge is held, as `attuned status` says it (the reasons of attuned.core.model).
_HELD_WHY = {"quiet": "quiet hours", "together": "not together time",
             "dnd": "notifications are paused", "away": "nobody at the screen"}


def _together(state: dict[str, Any]) -> str:
    if not state.get("active"):
        return "off"
    until = state.get("until")
    return f"on until {_short(until)}" if until else "on, until you switch it off"


def _nudges(n: int) -> str:
    return "no nudges" if n == 0 else f"{n} nudge{'' if n == 1 else 's'}"


def _short(iso: str | None) -> str:
    if not iso:
        return "-"
    from attuned.core.moments import clock_words

    at = datetime.fromisoformat(iso).astimezone()
    return f"{at:%a %d %b} {clock_words(at)}"  # with its seconds when it has them


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


@click.command()
def reload() -> None:
    """Ask the running daemon to re-read the schedule now.

    \b
    Example:
        attuned reload
    """
    res = call_daemon("reload")
    if res.get("reloaded"):
        click.echo("Reloaded.")
    else:
        click.echo(str(res.get("error")), err=True)
        click.echo("The last good schedule keeps running.", err=True)
        raise SystemExit(1)
