"""`attuned run`: the process lifecycle. Wires file -> model -> timing -> scheduler ->
notifier -> store, serves the control socket, and keeps going through suspend, clock
jumps, edits, a restarted notification server, and signals."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import os
import signal
from collections.abc import Coroutine, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from attuned import paths
from attuned.app.service import ScheduleState, Service, changed_practices
from attuned.config.reload_cache import ReloadCache
from attuned.core.clock import Clock
from attuned.core.keys import JobKey, JobKind
from attuned.core.model import Action, NudgeState, Schedule
from attuned.core.words import count
from attuned.daemon.clock import SystemClock
from attuned.daemon.clockwatch import ClockWatcher
from attuned.daemon.control import Params, UnknownMethod
from attuned.errors import AttunedError, ScheduleError
from attuned.tasks import TaskSet

log = logging.getLogger("attuned")

STATUS_DELAY = 0.5  # seconds after a nudge before the status line is refreshed

# The control socket's methods and the parameters each takes (see README).
ALLOWED: dict[str, tuple[str, ...]] = {
    "status": (), "reload": (), "ping": (),
    "done": ("target", "note", "how"), "skip": ("target", "note"),
    "snooze": ("target", "for"),
    "reflect": ("practice", "verdict", "text"), "together": ("switch", "until"),
}
NOTES_TITLE = "attuned could not read all it had kept"  # Store.notes: old state files


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the schedule is read and planned.

    Reading makes a large graph that lives on (10,000 practices: about a million objects),
    and the collector would re-scan it again and again as it grows, finding nothing to
    free: about a tenth of the start-up (bench/daemon_bench.py). Reference counting
    still frees everything else as usual; the collector runs again afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# How long a stop waits for what is under way (a nudge being sent, an answer being
# written) before it cancels it: the unit's TimeoutStopSec is far longer.
DRAIN_SECONDS = 2.0


class Daemon:
    """One run of the daemon: `await Daemon(config).run()` until SIGTERM or `stop()`.

    `clock` is the one clock every part of it reads (tests pass a fake one)."""

    def __init__(self, config: Path, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.stopping = asyncio.Event()
        self.service: Service | None = None
        self._error_notified: str | None = None
        self._problem_nid: int | None = None
        self.clockwatch: ClockWatcher | None = None
        self.tasks = TaskSet("daemon")
        self._status_timer: asyncio.TimerHandle | None = None
        # A reload validates only the practices whose text changed (bench/README.md).
        self._schedule_cache = ReloadCache()

    def stop(self) -> None:
        self.stopping.set()

    # ---------------------------------------------------------------- start-up

    async def run(self) -> int:
        """Start every part, each with its way out registered as it comes up, run until
        asked to stop, and end them in reverse: nothing is left running, and what was
        under way is drained before the history closes."""
        async with contextlib.AsyncExitStack() as stack:
            await self._start(stack)
            await self.stopping.wait()
            log.info("stopping")
            self.sd.stopping()
        return 0

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        from attuned.config import zones
        from attuned.daemon import lock
        from attuned.daemon.control import ControlServer
        from attuned.daemon.scheduler import NudgeScheduler
        from attuned.daemon.sdnotify import SdNotifier
        from attuned.notify.chain import default_chain
        from attuned.state import seed
        from attuned.state.store import BUSY_TIMEOUT_MS, Store, empty_words

        self.sd = SdNotifier(os.environ)
        stack.callback(lock.acquire().release)
        # How long a write waits for another process's lock; tests shorten it.
        busy = float(os.environ.get("ATTUNED_BUSY_TIMEOUT_SECONDS") or BUSY_TIMEOUT_MS / 1000)
        store = Store.open(paths.history_db(), busy_timeout=busy)
        stack.callback(store.close)
        try:
            with gc_paused():
                sched, example = self._schedule_cache.load_or_example(
                    self.config, self.clock.now().astimezone().date())
            error = None
        except ScheduleError as e:
            # No last good schedule yet: run nothing, say why, and wait for the fix.
            sched, example, error = Schedule(source=str(self.config)), False, str(e)
        if example:
            log.info("no schedule at %s yet: running the built-in example "
                     "(`attuned init` makes it yours)", self.config)
        zone = zones.schedule_zone(sched.settings)
        chain = default_chain()
        stack.push_async_callback(chain.aclose)
        clock = self.clock
        planner: NudgeScheduler[JobKey] = NudgeScheduler(
            on_due=self._on_due, on_missed=self._on_missed, clock=clock)
        self.service = service = Service(
            store=store, notifier=chain, planner=planner,
            state=ScheduleState(sched, clock.now(), error, example),
            zone=zone, seed=seed.load_seed(paths.seed_file()), clock=clock,
        )
        stack.push_async_callback(self._finish)
        stack.callback(planner.shutdown)  # first: nothing new comes due while draining
        chain.on_action = service.on_action
        chain.on_closed = service.on_closed
        chain.on_reply = service.on_reply
        chain.on_dnd_change = service.on_dnd_change
        chain.on_server_change = lambda _: service.spawn(self._rekey_bubbles(chain))
        await self._connect(chain)
        # The bubbles of an earlier run are still up while the same server runs (an
        # answer or an expiry closes them); another server's ids are not ours.
        identity = (await chain.primary.server_identity()
                    if chain.primary is not None else None)
        if store.forget_notification_ids(keep_for=identity) == 0 and identity is not None:
            await service.take_over_bubbles()
        # Recorded by an earlier run that stopped before sending them: sent now, or
        # recorded as not delivered once past their grace (beside the start: a slow
        # server never delays it).
        service.spawn(service.deliver_unsent())
        await self._start_presence(stack)
        await self._start_phone(stack, sched)
        planner.start()
        with planner.batch(), gc_paused():
            service.restore_pending()
            changed = service.plan_all(startup=True)
        log.info("schedule %s: %s, %d planned", sched.source,
                 count(len(sched.practices), "practice"), changed)
        if store.moved_aside is not None:
            await self._tell(
                "attuned started a fresh history",
                f"The history database could not be read, so it was moved aside to "
                f"{store.moved_aside} (nothing was deleted) and a fresh one started.")
        if store.was_empty:
            await self._tell("attuned started a fresh history", empty_words(store.path) + ".")
        for note in store.notes:  # the old state files' import, once: what was wrong
            await self._tell(NOTES_TITLE, note)
        if store.notes:
            try:
                store.notes_told()
            except AttunedError as e:  # told again at the next start, no harm
                log.info("%s", e)
        if error is not None:
            await self._report_schedule_error(error)

        control = ControlServer(paths.control_socket(), self._handle)
        await control.start()
        stack.push_async_callback(control.close)
        watcher = self._start_watcher()
        if watcher is not None:
            stack.callback(watcher.stop)
        sleep = await self._start_sleepwatch(planner)
        if sleep is not None:
            stack.push_async_callback(sleep.stop)
        stack.callback(self._start_clockwatch(planner).stop)  # and the watchdog pings
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
            stack.callback(loop.remove_signal_handler, sig)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.reload("SIGHUP"))
        stack.callback(loop.remove_signal_handler, signal.SIGHUP)
        self.sd.ready()
        self._status()
        log.info("ready; next: %s", self._next_words())

    async def _finish(self) -> None:
        """What the core and the daemon started ends (or is cancelled) before the bus
        connection and the history close; refused writes get one last try."""
        if self._status_timer is not None:
            self._status_timer.cancel()
        await self.tasks.drain(DRAIN_SECONDS)
        if self.service is not None:
            await self.service.finish(DRAIN_SECONDS)

    async def _rekey_bubbles(self, chain: Any) -> None:
        """The notification server changed: the ids another one issued are not ours."""
        identity = await chain.primary.server_identity()
        assert self.service is not None
        try:
            self.service.store.forget_notification_ids(keep_for=identity)
        except AttunedError as e:
            log.info("could not forget the old notification ids: %s", e)

    async def _connect(self, chain: Any) -> None:
        from attuned.errors import NotifyError

        if chain.primary is None:
            return
        try:
            info = await chain.primary.connect()
        except NotifyError as e:
            log.warning("no session bus yet (%s); nudges go to the log until it appears", e)
            return
        if info is None:
            if await chain.primary.server_activatable():
                log.info("no notification server running yet; the bus starts one at the "
                         "first nudge")
            else:
                log.warning("no notification server on the bus yet; nudges go to the log "
                            "until one appears")

    async def _start_presence(self, stack: contextlib.AsyncExitStack) -> None:
        """Where the person is (the screensaver, logind's session), kept from their
        change signals, for the phone's `when = "away"` and `status`."""
        from attuned.daemon.presence import PresenceWatcher
        from attuned.notify.busaddr import session_bus_address

        assert self.service is not None
        watcher = PresenceWatcher(self.clock, session_address=session_bus_address(os.environ),
                                  system_address=os.environ.get("ATTUNED_SYSTEM_BUS_ADDRESS"),
                                  idle_after=self.service.schedule.settings.phone.idle)
        await watcher.start()
        stack.push_async_callback(watcher.stop)
        self.service.presence = watcher
        self.service.is_away = lambda: watcher.current().away
        # A nudge held while away ([settings] away = "hold") is shown on the return.
        stack.callback(watcher.subscribe(self.service.on_presence_change))

    async def _start_phone(self, stack: contextlib.AsyncExitStack, sched: Schedule) -> None:
        """[phone]'s channels, as the schedule at start-up names them (a change to
        [phone] takes a restart). One that cannot be used is told; nudges still come."""
        if not sched.settings.phone.configured:
            return
        from attuned.notify import phone

        assert self.service is not None
        service = self.service
        try:
            # From the seed (state that outlives the process, private to the user): the
            # key of the phone buttons' tokens.
            secret = hashlib.sha256(b"attuned phone answers\0" + service.seed.encode()).digest()
            channel = phone.build(sched.settings.phone, secret)
        except AttunedError as e:
            await self._tell("attuned cannot use your phone", str(e))
            return
        if channel is None:
            return
        channel.on_answer = service.on_phone_answer
        def tell(title: str, body: str) -> None:
            self.tasks.spawn(self._tell(title, body))

        channel.tell = tell
        for rec in service.store.open_nudges():
            if rec.state is NudgeState.SHOWN and rec.shown_at is not None:
                channel.remember(rec.id, rec.shown_at.timestamp())
        await channel.start()
        stack.push_async_callback(channel.aclose)
        service.phone = channel

    def _on_due(self, key: JobKey, due: datetime) -> None:
        assert self.service is not None
        self.service.on_due(key, due)
        self._status_soon()

    def _on_missed(self, key: JobKey, due: datetime) -> None:
        assert self.service is not None
        self.service.on_missed(key, due)
        self._status()

    def _start_watcher(self) -> Any:
        from attuned.daemon.filewatch import FileWatcher, InotifyUnavailable

        try:
            self.config.parent.mkdir(parents=True, exist_ok=True)
            watcher = FileWatcher(self.config, lambda: self.reload("the file changed"))
            watcher.start()
            return watcher
        except (InotifyUnavailable, OSError) as e:
            log.warning("cannot watch %s for edits (%s); run `attuned reload` after editing",
                        self.config, e)
            return None

    async def _start_sleepwatch(self, planner: Any) -> Any:
        from attuned.daemon.sleepwatch import SleepWatcher

        def resumed() -> None:
            log.info("resumed from suspend; delivering what came due")
            planner.wakeup()
            if self.clockwatch is not None:
                self.clockwatch.check_now()  # so the minute timer does not report it again

        watcher = SleepWatcher(on_resume=resumed,
                               address=os.environ.get("ATTUNED_SYSTEM_BUS_ADDRESS"))
        return watcher if await watcher.start() else None

    def _start_clockwatch(self, planner: Any) -> ClockWatcher:
        def jumped(delta: float) -> None:
            log.info("the wall clock moved by %+.0f s (suspend or a clock change); "
                     "re-planning", delta)
            assert self.service is not None
            planner.wakeup()
            self.service.plan_all(startup=True)
            self._status()

        def zone_changed() -> None:
            from attuned.config import zones

            assert self.service is not None
            if self.service.schedule.settings.timezone is None:
                self.service.zone = zones.schedule_zone(self.service.schedule.settings)
                log.info("the system time zone is now %s; re-planning", self.service.zone)
                self.service.plan_all(startup=False)
                self._status()

        interval = float(os.environ.get("ATTUNED_CLOCK_CHECK_SECONDS", "60"))
        # One timer for all housekeeping (issue 3: at most one wakeup a minute idle): the
        # clock check also pings the systemd watchdog, at least twice per its interval.
        # The shipped unit's WatchdogSec=120 makes that the clock check's own minute.
        watchdog = self.sd.watchdog_interval()
        tick = None
        if watchdog is not None:
            interval = min(interval, watchdog / 2)
            self.sd.watchdog()
            tick = self.sd.watchdog
        watcher = ClockWatcher(self.clock, on_jump=jumped, on_zone_change=zone_changed,
                               interval=interval, on_tick=tick)
        watcher.start()
        self.clockwatch = watcher
        return watcher

    # ---------------------------------------------------------------- reload

    def reload(self, why: str) -> None:
        self.sd.reloading()
        try:
            self._reload(why)
        except Exception:
            # Never leave systemd believing we are reloading forever, nor die over it.
            log.exception("the schedule could not be reloaded; the last good one keeps running")
        finally:
            self.sd.ready()
            self._status()

    def _reload(self, why: str) -> None:
        from attuned.config import zones

        assert self.service is not None
        service = self.service
        try:
            with gc_paused():
                sched, example = self._schedule_cache.load_or_example(
                    self.config, self.clock.now().astimezone().date())
            zone = zones.schedule_zone(sched.settings)
        except ScheduleError as e:
            service.state.error = str(e)
            text = str(e)
            log.error("the schedule was not reloaded (%s); the last good one keeps running:\n%s",
                      why, text if text.endswith(".") else text + ".")
            self._spawn(self._report_schedule_error(str(e)))
            return
        except AttunedError as e:
            log.error("the schedule was not reloaded: %s", e)
            return
        was_broken = service.state.error is not None
        # Only what changed is re-planned (issue 3: a reload changes only the jobs that
        # changed; 10,000 practices took ~1 s to re-plan on every save).
        only = changed_practices(service.schedule, sched) if zone == service.zone else None
        service.state = ScheduleState(sched, self.clock.now(), None, example)
        service.zone = zone
        with service.planner.batch(), gc_paused():
            changed = service.plan_all(startup=False, only=only)
        self._error_notified = None
        if was_broken:
            log.info("the schedule is valid again")
            self._spawn(self._close_problem())  # fixing the file clears the warning
        log.info("reloaded %s (%s): %s, %s changed", sched.source, why,
                 count(len(sched.practices), "practice"), count(changed, "job"))

    async def _report_schedule_error(self, text: str) -> None:
        if self._error_notified == text:
            return
        self._error_notified = text
        await self._close_problem()
        # Logged once already, as the error it is: only shown here.
        self._problem_nid = await self._tell("attuned: your schedule has a problem",
                         f"{text}\nThe last good schedule keeps running. "
                         "`attuned check` shows this again.", logged=True)

    async def _tell(self, title: str, body: str, *, logged: bool = False) -> int | None:
        from attuned.notify.base import Notification

        assert self.service is not None
        if not logged:
            log.warning("%s: %s", title.removeprefix("attuned: "), body)
        try:
            d = await self.service.notifier.send(Notification(title=title, body=body, urgency=1))
        except Exception as e:
            log.debug("could not show %r: %s", title, e)
            return None
        return d.notification_id

    async def _close_problem(self) -> None:
        nid, self._problem_nid = self._problem_nid, None
        if nid and self.service is not None:
            try:
                await self.service.notifier.close_notification(nid)
            except Exception as e:
                log.debug("could not close the schedule warning: %s", e)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.tasks.spawn(coro)

    # ---------------------------------------------------------------- control

    async def _handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The control socket's methods. Every parameter is checked by type and value
        before anything is done (a malformed request answers nothing)."""
        from attuned.app.answering import LONGEST_SNOOZE
        from attuned.state.store import HOWS, VERDICTS

        assert self.service is not None
        service = self.service
        take = ALLOWED.get(method)
        if take is None:
            raise UnknownMethod(f'unknown request "{method}"')
        p = Params(method, params, take)
        if method == "status":
            return (await service.status()).to_json()
        if method == "reload":
            self.reload("asked to")
            return {"reloaded": service.state.error is None, "error": service.state.error}
        if method in ("done", "skip", "snooze"):
            result = await service.act(
                p.text("target"), Action(method), source="cli", note=p.text("note", empty=True),
                how=p.text("how", choices=HOWS), snooze_for=p.duration("for", most=LONGEST_SNOOZE))
            return result.to_json()
        if method == "reflect":
            refl = await service.reflect(p.text("practice"),
                                         p.text("verdict", required=True, choices=VERDICTS) or "",
                                         p.text("text", empty=True) or "")
            return refl.to_json()
        if method == "together":
            switched = await service.together(
                p.text("switch", required=True, choices=("on", "off", "until")) or "",
                p.text("until"))
            return switched.to_json()
        return {"pong": True}

    # ---------------------------------------------------------------- status

    def _next_words(self) -> str:
        assert self.service is not None
        due = self.service.planner.due_times()
        # min, not sorted: one pass (aware datetimes compare slowly; 10,000 jobs sorted
        # took 130 ms on each nudge and reload).
        first = min(((t, k.ident) for k, t in due.items() if k.kind == JobKind.NUDGE),
                    default=None)
        if first is None:
            return "nothing planned"
        t, pid = first
        return f"{pid} at {t.astimezone(self.service.zone):%a %H:%M}"

    def _status(self) -> None:
        assert self.service is not None
        words = f"next: {self._next_words()}"
        if self.service.state.error is not None:
            # `systemctl status` is where people look when nudges stop: say the file is
            # broken and what runs meanwhile, not only the next nudge.
            runs = ("the last good schedule runs" if self.service.schedule.practices
                    else "nothing runs until it is fixed")
            words = f"the schedule file has a problem (`attuned check` shows it); {runs}; {words}"
        self.sd.status(words)

    def _status_soon(self) -> None:
        """The status a moment after a nudge, once for a burst: it looks at every planned
        job (10 ms with 10,000 practices), and run at once it delayed the nudge itself,
        whose send awaits (bench/daemon_bench.py measured 25 ms late instead of 4)."""
        if self._status_timer is not None:
            return

        def refresh() -> None:
            self._status_timer = None
            self._status()

        self._status_timer = asyncio.get_running_loop().call_later(STATUS_DELAY, refresh)


def run(config: Path, verbose: int) -> int:
    from attuned.daemon.logs import setup_logging

    setup_logging(verbose)
    try:
        return asyncio.run(Daemon(config).run())
    except AttunedError as e:
        log.error("%s", e)
        return e.exit_code
    except KeyboardInterrupt:
        return 0

