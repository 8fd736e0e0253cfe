"""`attuned service install|uninstall|status|logs` and `attuned doctor`: thin Click
commands over attuned.system.install and attuned.system.doctor. Parse, call, format.

Registered on the root group by attuned/cli/root.py.
Everything outside (the command runner, exec, which, platform, environment) is read from
the module-level `DEPS`, which tests replace; the real ones are the defaults. The heavy
modules are imported inside the commands, so importing this costs little more than
Click.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from attuned.cli.common import SummaryGroup

if TYPE_CHECKING:
    from attuned.system.desktop import Starter
    from attuned.system.doctor import CheckResult
    from attuned.system.install import InstallResult, Runner


@dataclass(frozen=True)
class Deps:
    """The outside world of these commands; None means the real thing."""

    runner: Runner | None = None                       # default: install.run_command
    start: Starter | None = None                       # default: desktop.start_detached
    execvp: Callable[[str, list[str]], Any] = os.execvp
    which: Callable[[str], str | None] = shutil.which
    platform: str | None = None                        # default: sys.platform
    environ: Mapping[str, str] | None = None           # default: os.environ


DEPS = Deps()


def _runner() -> Runner:
    if DEPS.runner is not None:
        return DEPS.runner
    from attuned.system.install import run_command

    return run_command


def _platform() -> str:
    return DEPS.platform if DEPS.platform is not None else sys.platform


def _environ() -> Mapping[str, str]:
    return DEPS.environ if DEPS.environ is not None else os.environ


def _echo_ran(commands: Sequence[Sequence[str]]) -> None:
    if commands:
        click.echo("Ran:")
        for argv in commands:
            click.echo(f"  {shlex.join(argv)}")


def _files_line(result: InstallResult) -> str | None:
    """What became of the desktop entry and the icon (Linux)."""
    if not result.files:
        return None
    entry, first_icon = result.files[0], result.files[1]
    icons = first_icon.parent.parent.parent  # .../icons/hicolor
    what = f"{entry} and the icon in {icons} (16x16 to 256x256, scalable)"
    return f"Wrote {what}" if result.files_changed else f"Up to date: {what}"


# --------------------------------------------------------------------------- service


@click.group(name="service", cls=SummaryGroup)
def service() -> None:
    """Run attuned as a user service that starts at every login.

    The service manager brings it back after a failure.

    \b
    Example:
        attuned service install --now && attuned doctor
    """


@service.command(name="install")
@click.option("--now", is_flag=True, help="Also start it now (restart it if it runs).")
@click.option("--autostart", is_flag=True,
              help="Start with the desktop session (XDG autostart), not systemd.")
def install_cmd(now: bool, autostart: bool) -> None:
    """Write the service for this attuned and enable it at login.

    On Linux a systemd user unit (~/.config/systemd/user/attuned.service), or, where no
    systemd user manager answers (or with --autostart), an XDG autostart entry
    (~/.config/autostart/attuned.desktop); and the desktop entry and icon nudges show.
    On macOS a launchd agent. Running it again points the service at the attuned you run
    it with; a different earlier unit is kept aside.

    \b
    Example:
        attuned service install --now
    """
    from attuned.system import install

    if autostart and _platform() == "darwin":
        raise click.UsageError("--autostart is for Linux desktops; macOS uses launchd")
    result = install.install(now, _runner(), platform=DEPS.platform, environ=DEPS.environ,
                             autostart=autostart, start=DEPS.start)
    if result.manager == "autostart":
        _autostart_installed(result, asked=autostart)
        return
    launchd = result.manager == "launchd"
    what = "agent" if launchd else "unit"
    runs = (f"ProgramArguments: {result.exec_start} run" if launchd
            else f"ExecStart={result.exec_start}")
    if result.changed:
        click.echo(f"Wrote {result.path}")
    else:
        click.echo(f"The {what} at {result.path} is already up to date")
    click.echo(f"  {runs}")
    if result.backup is not None:
        click.echo(f"Kept the previous {what} as {result.backup}")
    files = _files_line(result)
    if files:
        click.echo(files)
    if result.replaced is not None:
        click.echo(f"Removed {result.replaced}: the unit starts attuned now")
    _echo_ran(result.commands)
    unit = install.UNIT_NAME
    if result.started:
        click.echo("attuned is running now, and starts again at every login.")
    elif launchd:
        # install.py cannot tell whether an older agent is loaded: say both.
        click.echo("attuned starts at your next login; to start it now (or restart an "
                   "older one): attuned service install --now")
    elif result.restart_needed:
        click.echo("attuned is still running the previous version; restart it to use this "
                   f"one: systemctl --user restart {unit}")
    else:
        click.echo(f"attuned starts at your next login; to start it now: "
                   f"systemctl --user start {unit}")
    if result.sandbox_off:
        click.echo()
        click.echo(install.NO_SANDBOX.format(why=result.sandbox_off))
    if result.hint:
        click.echo()
        click.echo(result.hint)


def _autostart_installed(result: InstallResult, *, asked: bool) -> None:
    if result.hint:  # why not systemd
        click.echo(result.hint.partition("\n")[0])
        click.echo("So your desktop session starts attuned instead, from an XDG autostart "
                   "entry.")
    if result.changed:
        click.echo(f"Wrote {result.path}")
    else:
        click.echo(f"The autostart entry at {result.path} is already up to date")
    click.echo(f"  Exec={result.exec_start}")
    if result.backup is not None:
        click.echo(f"Kept the previous entry as {result.backup}")
    files = _files_line(result)
    if files:
        click.echo(files)
    _echo_ran(result.commands)
    click.echo(f"Its log: {result.log} (`attuned service logs`)")
    again = "attuned service install --autostart --now" if asked else \
        "attuned service install --now"
    if result.started:
        click.echo("attuned is running now, and starts again with every desktop session.")
    elif result.restart_needed:
        click.echo("attuned is already running, started before; it runs the new entry "
                   "from your next login (or stop it and run: " + again + ")")
    else:
        click.echo("attuned starts with your next desktop session; to start it now: "
                   + again)


@service.command(name="uninstall")
def uninstall_cmd() -> None:
    """Stop the service and remove it. Your schedule and history stay.

    \b
    Example:
        attuned service uninstall
    """
    from attuned.system import install

    result = install.uninstall(_runner(), platform=DEPS.platform, environ=DEPS.environ)
    if not result.removed and not result.files:
        click.echo(f"The service is not installed (no {result.path}); nothing to remove.")
        return
    if result.removed:
        click.echo(f"Removed {result.path}")
    for link in result.removed_links:
        click.echo(f"Removed the leftover link {link}")
    for path in result.files:
        click.echo(f"Removed {path}")
    _echo_ran(result.commands)
    if result.manager == "autostart" and result.removed:
        click.echo("An attuned it started keeps running until your session ends.")
    click.echo("Your schedule and history are kept; `attuned run` still works by hand.")


@service.command(name="status")
def status_cmd() -> None:
    """Is the service installed, enabled, running, and this attuned?

    \b
    Example:
        attuned service status
    """
    from attuned.system import install

    st = install.status(_runner(), platform=DEPS.platform, environ=DEPS.environ)
    kind = ", an XDG autostart entry" if st.manager == "autostart" else ""
    click.echo(f"installed: {'yes' if st.installed else 'no'} ({st.path}{kind})")
    if not st.installed:
        click.echo("Install it with `attuned service install --now`.")
        return
    click.echo(f"enabled:   {st.enabled}")
    click.echo(f"running:   {st.active}")
    if st.points_here:
        click.echo(f"program:   {st.exec_start} (this attuned)")
    else:
        click.echo(f"program:   {st.exec_start or '(none)'}")
        click.echo(f"           but this attuned is {st.expected_exec_start}; "
                   "`attuned service install` points the service here")
    if st.detail:
        click.echo()
        click.echo(st.detail)


@service.command(name="logs")
@click.option("-f", "--follow", is_flag=True, help="Keep showing new lines as they come.")
def logs_cmd(follow: bool) -> None:
    """Show the daemon's log (journalctl; the log file on macOS).

    \b
    Example:
        attuned service logs -f
    """
    from attuned.system import install

    autostart = _platform() != "darwin" and install.uses_autostart(
        _runner(), install.environ_of(DEPS.environ))
    argv = install.logs_command(follow, platform=DEPS.platform, environ=DEPS.environ,
                                autostart=autostart)
    if DEPS.which(argv[0]) is None:
        click.echo(f"attuned: {argv[0]} is not available here, so the service's log cannot "
                   "be shown. When attuned runs by hand (`attuned run`), its log goes to "
                   "that terminal.", err=True)
        raise click.exceptions.Exit(1)
    if (_platform() == "darwin" or autostart) and not Path(argv[-1]).exists():
        what = "the autostart entry's daemon" if autostart else "the agent"
        click.echo(f"attuned: no log yet at {argv[-1]}: {what} has not run "
                   "(`attuned service install --now` starts it).", err=True)
        raise click.exceptions.Exit(1)
    if argv[0] == "journalctl" and not follow and install.journal_is_empty(_runner()):
        click.echo("attuned: the journal has no entries for the service: it has not run under "
                   "systemd here. Start it with `attuned service install --now`, or run "
                   "`attuned run` yourself (its log goes to that terminal).", err=True)
        raise click.exceptions.Exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process: the pager, colours and Ctrl-C are journalctl's own.
    DEPS.execvp(argv[0], argv)


# --------------------------------------------------------------------------- doctor

NAME_WIDTH = 16
FIX_WIDTH = 100


def _marks() -> dict[str, str]:
    """✓ / ! / ✗, or ASCII where the terminal's encoding cannot show them."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return {"ok": "ok", "warn": "!!", "fail": "XX"}
    return {"ok": "✓", "warn": "!", "fail": "✗"}


def format_report(results: Sequence[CheckResult], marks: Mapping[str, str]) -> list[str]:
    """The doctor's screen: one line per check (more for multi-line details), with the
    fix under each check that is not ok, and a closing verdict."""
    pad = " " * (len(marks["ok"]) + 1 + NAME_WIDTH)
    lines: list[str] = []
    for r in results:
        first, *rest = r.detail.splitlines() or [""]
        lines.append(f"{marks[r.level]} {r.name:<{NAME_WIDTH}}{first}")
        lines.extend(pad + line for line in rest)
        if r.fix and not r.ok:
            lines.extend(textwrap.wrap(f"fix: {r.fix}", FIX_WIDTH, initial_indent=pad,
                                       subsequent_indent=pad + "     ",
                                       break_on_hyphens=False, break_long_words=False))
    failed = sum(1 for r in results if r.level == "fail")
    warned = sum(1 for r in results if r.level == "warn")
    lines.append("")
    if failed:
        lines.append(f"{failed} thing{'s' if failed > 1 else ''} attuned needs "
                     f"{'are' if failed > 1 else 'is'} broken ({marks['fail']} above).")
    elif warned:
        lines.append(f"attuned can work; {warned} thing{'s' if warned > 1 else ''} could "
                     f"be better ({marks['warn']} above).")
    else:
        lines.append("Everything attuned needs works.")
    return lines


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check everything attuned needs; say how to fix what is wrong.

    The schedule file, the session bus and notification server, the service, the
    running daemon, the history database and the time zone. Exits 1 when something
    attuned needs is broken (marked ✗), 0 otherwise (warnings are marked !).

    \b
    Example:
        attuned doctor || attuned service logs
    """
    from attuned.cli.common import config_path
    from attuned.system import doctor as doc

    inputs = doc.Inputs(config=config_path(ctx), environ=dict(_environ()), platform=_platform())
    if DEPS.runner is not None:
        inputs = dataclasses.replace(inputs, runner=DEPS.runner)
    results = doc.run_checks(inputs)
    for line in format_report(results, _marks()):
        click.echo(line)
    ctx.exit(0 if doc.needed_ok(results) else 1)
