"""Benchmark of `attuned run` beside a bare APScheduler 3.11 process with the same jobs.

    python bench/daemon_bench.py [--idle 60] [--practices 1000] [--large 10000] [--json F]

Three schedules: (a) the built-in example (attuned/config.example.toml, copied as the
config), (b) N generated practices (--practices, 1,000: a generous real ceiling, which
the targets are for), (c) a large generated one (--large, 10,000: figures only, no
targets; 0 leaves it out). For each, in the same run and on the same private
dbus-daemon with the same minimal notification server (bench/_common.py):

- start-up: process start to the daemon's "ready" log line (generated: loaded and
  scheduled), and the CPU seconds the process had used by then;
- RSS: VmRSS from /proc/PID/status, 2 s after "ready";
- idle: CPU seconds and wakeups (voluntary context switches summed over every thread in
  /proc/PID/task/*/status) over --idle seconds, reported per minute. Both processes idle
  at the same time; nothing is due in that window (see "quiet" below);
- reload: save the file atomically by rename and time until the log line "reloaded"
  (median of 3 saves; the bare process reloads its job list on SIGHUP instead, as it has
  no file watcher), and the CPU seconds the process used meanwhile. The wall time
  includes the watcher's 0.15 s wait for a burst of saves to end; CPU seconds are what
  other work on the machine disturbs least;
- lateness: 20 `once` nudges 2 s apart (whole seconds, attuned's on even seconds and the
  bare scheduler's on odd ones, so they never compete for the CPU at one instant),
  measured AT THE NOTIFICATION SERVER: receive time minus the planned instant;
- stop: SIGTERM to exit.

Quiet: so that no practice comes due during the idle window, the example schedule runs
with TZ set to a fixed-offset zone where it is now about 02:00, inside the example's own
quiet hours (22:30-07:00); the generated schedules (timezone UTC) have no time or window
within two hours of the start. The lateness nudges set `quiet_hours = "none"`.

Exit status 0 even when a target is missed (this is a measurement); MISSED is printed.
The machine's load average is printed beside the figures: other work skews them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as c  # noqa: E402

NUDGE_GAP = 2  # seconds between two lateness nudges of one process


# -- targets -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    limit: float
    unit: str
    applies: tuple[str, ...]  # which schedules the target is stated for

    def met(self, value: float | None) -> bool | None:
        if value is None or math.isnan(value):
            return None
        return value <= self.limit


TARGETS: dict[str, Target] = {
    "startup_s": Target(0.5, "s", ("generated",)),  # "1,000 practices loaded and scheduled"
    "rss_mib": Target(30.0, "MiB", ("example",)),
    "wakeups_per_min": Target(1.0, "/min", ("example", "generated")),
    "lateness_median_ms": Target(5.0, "ms", ("example", "generated")),
    "lateness_max_ms": Target(50.0, "ms", ("example", "generated")),
    "reload_s": Target(0.3, "s", ("example", "generated")),
    "stop_s": Target(1.0, "s", ("example", "generated")),  # issue 3: "a clean exit within 1 s"
}

LABELS = {
    "startup_s": "start-up to ready (s)",
    "startup_cpu_s": "start-up CPU (s)",
    "rss_mib": "RSS after start (MiB)",
    "cpu_s_per_min": "idle CPU (s/min)",
    "wakeups_per_min": "idle wakeups (/min)",
    "threads": "threads",
    "lateness_median_ms": "lateness median (ms)",
    "lateness_max_ms": "lateness max (ms)",
    "nudges_received": "nudges received",
    "reload_s": "reload after save (s)",
    "reload_cpu_s": "reload CPU (s)",
    "stop_s": "SIGTERM to exit (s)",
}


# -- schedules -----------------------------------------------------------------------------


def quiet_zone(now: datetime) -> str:
    """A fixed-offset zone in which it is now about 02:00 (the example's quiet hours)."""
    hours = now.hour + now.minute / 60
    offset = round(2 - hours) % 24
    if offset > 14:
        offset -= 24
    # POSIX sign convention in the Etc area: Etc/GMT-7 is UTC+7.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def generated_schedule(n: int, now: datetime, seed: int = 7) -> str:
    """N practices of every rule kind, timezone UTC, none of them due in the next two
    hours (the bench's window): their times and windows avoid the hours from now's hour
    to two hours on. No practice lies wholly in quiet hours (see README: such a practice
    makes the planner search four years ahead)."""
    rng = random.Random(seed)
    free = [(now.hour + 3 + k) % 24 for k in range(21)]  # hours that are not the bench's

    def clock() -> str:
        return f"{rng.choice(free):02d}:{rng.randrange(60):02d}"

    def window(shortest: int, longest: int) -> str:
        # Inside the 21 free hours, so it may cross midnight but never covers now.
        length = rng.randint(shortest, longest)
        first = rng.randrange(0, 21 - length)
        return f"{free[first]:02d}:00-{(free[first] + length) % 24:02d}:00"

    out = [
        "# generated by bench/daemon_bench.py",
        "[settings]",
        'timezone = "UTC"',
        'grace = "15m"',
        'snooze = "10m"',
        "",
    ]
    days = ['"daily"', '"weekdays"', '"weekends"', '"mon,wed,fri"', '["tue", "thu-sat"]']
    for i in range(n):
        kind = i % 10
        out += ["[[practice]]", f'id = "p{i:05d}"', f'title = "Practice {i}"',
                f'message = ["Variant one of {i}.", "Variant two of {i}."]']
        if kind <= 3:
            times = sorted({clock() for _ in range(rng.randint(1, 3))})
            out += ["at = [" + ", ".join(f'"{t}"' for t in times) + "]",
                    f"days = {rng.choice(days)}"]
        elif kind <= 5:
            out += [f'every = "{rng.choice(["30m", "45m", "1h", "90m", "2h"])}"',
                    f'between = "{window(3, 12)}"']
        elif kind == 6:
            out += [f"random = {rng.randint(1, 3)}", f'between = "{window(6, 10)}"',
                    'min_gap = "30m"']
        elif kind <= 8:
            out += [f'cron = "{rng.randrange(60)} {rng.choice(free)} * * '
                    f'{rng.choice(["*", "1-5", "0,6", "sun"])}"']
        else:
            when = now + timedelta(days=rng.randint(1, 60), minutes=rng.randrange(1440))
            out += [f"once = {when:%Y-%m-%dT%H:%M:00}"]
        if i % 7 == 0 and kind != 9:  # a period, but not around a `once` (it may miss it)
            first = now.date() - timedelta(days=rng.randint(0, 10))
            out += [f"from = {first.isoformat()}",
                    f"until = {(first + timedelta(days=rng.randint(20, 90))).isoformat()}"]
        out.append("")
    return "\n".join(out)


def lateness_practices(instants: list[datetime], zone: Any, prefix: str) -> str:
    out = ["", "# lateness nudges added by bench/daemon_bench.py"]
    for k, at in enumerate(instants):
        out += ["[[practice]]", f'id = "bench-late-{k:02d}"', f'title = "{prefix}{k:02d}"',
                'message = "bench"', f"once = {at.astimezone(zone):%Y-%m-%dT%H:%M:%S}",
                'quiet_hours = "none"', ""]
    return "\n".join(out)


def save_atomically(path: Path, text: str) -> None:
    """As an editor saves: a new file beside it, renamed over it."""
    tmp = path.with_name(f".{path.name}.bench-tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def attuned_run_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "attuned", "--config", str(config), "run"]


def bare_command(jobs_file: Path) -> list[str]:
    return [sys.executable, "-c", BARE_PROGRAM, str(jobs_file)]


def bare_jobs(config: Path, zone_name: str | None, state: Path,
              now: datetime) -> list[dict[str, Any]]:
    """The jobs attuned plans at start (each enabled practice's next nudge), computed with
    attuned's own timing core and seed, for the bare scheduler to hold the same jobs."""
    from zoneinfo import ZoneInfo

    from attuned.config import read as schedule_io
    from attuned.config import zones
    from attuned.core import timing
    from attuned.state import seed

    sched = schedule_io.load(config)
    zone = ZoneInfo(zone_name) if sched.settings.timezone is None and zone_name \
        else zones.schedule_zone(sched.settings)
    secret = seed.load_seed(state / "seed")
    jobs = []
    for p in sched.practices:
        if not p.enabled:
            continue
        nxt = timing.next_occurrence(p, now, zone, secret)
        if nxt is not None:
            jobs.append({"id": p.id, "at": nxt.isoformat(), "title": p.title,
                         "body": p.messages[0] if p.messages else ""})
    return jobs


# -- one measured process ------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: c.LineLog
    started: float
    figures: dict[str, Any] = field(default_factory=dict)
    reload_cpu: list[float] = field(default_factory=list)  # CPU seconds of each reload

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            t0 = time.monotonic()
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
                self.figures["stop_s"] = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                self.figures["stop_s"] = None
        c.stop_process(self.popen)


def spawn(name: str, cmd: list[str], env: dict[str, str], echo: bool) -> Proc:
    t0 = time.monotonic()
    popen = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return Proc(name, popen, c.LineLog(popen.stderr, sys.stderr if echo else None), t0)


def reload_attuned(p: Proc, config: Path, text: str, timeout: float) -> float:
    mark = p.log.mark()
    cpu = c.cpu_seconds(p.pid)
    save_atomically(config, text)
    t0 = time.monotonic()
    took = p.log.wait_for(r"\breloaded\b", after=mark, timeout=timeout) - t0
    p.reload_cpu.append(c.cpu_seconds(p.pid) - cpu)
    return took


def reload_bare(p: Proc, jobs_file: Path, jobs: list[dict[str, Any]], timeout: float) -> float:
    jobs_file.write_text(json.dumps(jobs))
    mark = p.log.mark()
    cpu = c.cpu_seconds(p.pid)
    t0 = time.monotonic()
    p.popen.send_signal(signal.SIGHUP)
    took = p.log.wait_for(r"\breloaded\b", after=mark, timeout=timeout) - t0
    p.reload_cpu.append(c.cpu_seconds(p.pid) - cpu)
    return took


def watchdog_usec() -> int:
    """WatchdogSec= of the shipped unit, in microseconds (120 s if it cannot be read)."""
    unit = c.ROOT / "systemd" / "attuned.service"
    try:
        for line in unit.read_text().splitlines():
            if line.strip().startswith("WatchdogSec="):
                return int(float(line.split("=", 1)[1].strip()) * 1_000_000)
    except (OSError, ValueError):
        pass
    return 120_000_000


def make_env(home: Path, work: Path, bus: c.PrivateBus, system_bus: c.PrivateBus,
             args: argparse.Namespace, zone_name: str | None,
             notify_socket: Path | None = None) -> dict[str, str]:
    env = c.child_env(home, None if args.no_pyc else work / "pycache",
                      drop=("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM",
                            "ATTUNED_FAKE_CLOCK", "ATTUNED_CLOCK_CHECK_SECONDS", "TZ"))
    env.update({"DBUS_SESSION_BUS_ADDRESS": bus.address,
                "ATTUNED_SYSTEM_BUS_ADDRESS": system_bus.address})
    if zone_name:
        env["TZ"] = zone_name
    if notify_socket is not None:
        # As under systemd with the shipped unit (systemd/attuned.service): Type=notify,
        # WatchdogSec=120.
        env["NOTIFY_SOCKET"] = str(notify_socket)
        env["WATCHDOG_USEC"] = str(watchdog_usec())
    return env


def warm_up(args: argparse.Namespace, bus: c.PrivateBus, system_bus: c.PrivateBus,
            work: Path) -> None:
    """One unmeasured start of each program: writes the byte-code caches and fills the
    page cache, so neither measured start pays for compiling."""
    home = work / "warm-up"
    config = c.private_home(home, c.EXAMPLE.read_text())
    env = make_env(home, work, bus, system_bus, args, None)
    jobs = home / "jobs.json"
    jobs.write_text("[]")
    for name, cmd in (("attuned", attuned_run_command(config)), ("bare", bare_command(jobs))):
        p = spawn(name, cmd, env, args.verbose)
        try:
            p.log.wait_for(r"\bready\b", timeout=120)
        finally:
            p.stop()


def run_schedule(kind: str, base_text: str, args: argparse.Namespace, bus: c.PrivateBus,
                 system_bus: c.PrivateBus, server: c.ServerProcess, work: Path
                 ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    home = work / kind
    config = c.private_home(home, base_text)
    now = datetime.now(UTC)
    zone_name = quiet_zone(now) if kind == "example" else None
    sink = c.NotifySocketSink(home / "runtime" / "notify.sock")
    env = make_env(home, work, bus, system_bus, args, zone_name, sink.path)
    info: dict[str, Any] = {"zone": zone_name or "UTC (settings)", "config": str(config)}

    c.progress(f"[{kind}] starting attuned")
    att = spawn("attuned", attuned_run_command(config), env, args.verbose)
    bare: Proc | None = None
    try:
        ready = att.log.wait_for(r"\bready\b", timeout=120)
        att.figures["startup_s"] = ready - att.started
        att.figures["startup_cpu_s"] = c.cpu_seconds(att.pid)
        jobs_file = home / "bare-jobs.json"
        base_jobs = bare_jobs(config, zone_name, home / "state", datetime.now(UTC))
        jobs_file.write_text(json.dumps(base_jobs))
        info["jobs"] = len(base_jobs)
        c.progress(f"[{kind}] starting the bare scheduler with {len(base_jobs)} jobs")
        bare = spawn("bare", bare_command(jobs_file), env, args.verbose)
        ready = bare.log.wait_for(r"\bready\b", timeout=120)
        bare.figures["startup_s"] = ready - bare.started
        bare.figures["startup_cpu_s"] = c.cpu_seconds(bare.pid)

        time.sleep(2)  # let start-up settle (lazy imports, first GC) before RSS
        for p in (att, bare):
            p.figures["rss_mib"] = c.rss_mib(p.pid)

        c.progress(f"[{kind}] idle for {args.idle:g} s (load {c.load_average()})")
        marks = {p.name: p.log.mark() for p in (att, bare)}
        n_before = len(server.records())
        before = {p.name: (c.cpu_seconds(p.pid), c.voluntary_switches(p.pid)) for p in (att, bare)}
        t0 = time.monotonic()
        time.sleep(args.idle)
        elapsed = time.monotonic() - t0
        for p in (att, bare):
            cpu0, (sw0, _) = before[p.name]
            sw1, threads = c.voluntary_switches(p.pid)
            p.figures["cpu_s_per_min"] = (c.cpu_seconds(p.pid) - cpu0) * 60 / elapsed
            p.figures["wakeups_per_min"] = (sw1 - sw0) * 60 / elapsed
            p.figures["threads"] = threads
            said = p.log.lines[marks[p.name]:]
            if said:
                info[f"{p.name} logged while idle"] = [line for _, line in said]
        n_idle = len(server.records()) - n_before
        if n_idle:
            info["nudges during idle"] = n_idle
        info["load during idle"] = c.load_average()

        # Reloads: two saves that change nothing but a comment, then the one that adds the
        # lateness nudges; the figure is the median of the three.
        c.progress(f"[{kind}] reloading")
        att_reloads = [reload_attuned(att, config, base_text + f"\n# touched {i}\n", 120)
                       for i in range(2)]
        bare_reloads = [reload_bare(bare, jobs_file, base_jobs, 120) for _ in range(2)]
        margin = 3 + 2 * (max(att_reloads) + max(bare_reloads))
        first = datetime.fromtimestamp(math.ceil(time.time() + margin), UTC)
        att_at = [first + timedelta(seconds=NUDGE_GAP * k) for k in range(args.nudges)]
        bare_at = [t + timedelta(seconds=NUDGE_GAP / 2) for t in att_at]
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(zone_name or "UTC")
        # Each process's nudges are titled with its prefix: that is how they are told apart
        # at the notification server.
        att_prefix, bare_prefix = f"{kind} attuned ", f"{kind} bare "
        late_text = lateness_practices(att_at, zone, att_prefix)
        att_reloads.append(reload_attuned(att, config, base_text + late_text, 120))
        bare_reloads.append(reload_bare(bare, jobs_file, base_jobs + [
            {"id": f"bare-late-{k:02d}", "at": t.isoformat(), "title": f"{bare_prefix}{k:02d}",
             "body": "bench"} for k, t in enumerate(bare_at)], 120))
        att.figures["reload_s"] = c.median(att_reloads)
        bare.figures["reload_s"] = c.median(bare_reloads)
        for measured in (att, bare):
            measured.figures["reload_cpu_s"] = c.median(measured.reload_cpu)
        info["reloads attuned (s)"] = [round(x, 3) for x in att_reloads]
        info["reloads bare (s)"] = [round(x, 3) for x in bare_reloads]
        if time.time() > first.timestamp():
            info["warning"] = "the reloads ended after the first lateness nudge was due"

        c.progress(f"[{kind}] waiting for {2 * args.nudges} nudges (until "
                 f"{bare_at[-1]:%H:%M:%S} UTC)")
        wait = bare_at[-1].timestamp() - time.time() + 10
        for p, prefix, planned in ((att, att_prefix, att_at), (bare, bare_prefix, bare_at)):
            recs = server.wait_for(lambda r, pre=prefix: r["summary"].startswith(pre),
                                   args.nudges, max(wait, 1))
            wait = 1
            late = []
            for r in recs:
                k = int(r["summary"].removeprefix(prefix))
                late.append((r["t"] - planned[k].timestamp()) * 1000)
            p.figures["nudges_received"] = len(late)
            p.figures["lateness_median_ms"] = c.median(late)
            p.figures["lateness_max_ms"] = max(late) if late else float("nan")
            p.figures["lateness_all_ms"] = [round(x, 2) for x in late]
    finally:
        for proc in (att, bare):
            if proc is not None:
                proc.stop()
        sink.close()
    kinds: dict[str, int] = {}
    for message in sink.messages:
        for line in message.splitlines():
            key = line.split("=", 1)[0]
            kinds[key] = kinds.get(key, 0) + 1
    info["sd_notify fields"] = kinds
    info["attuned log tail"] = att.log.tail(3)
    return att.figures, bare.figures if bare is not None else {}, info


# -- the bare APScheduler process ------------------------------------------------------------

# Run with `python -c BARE_PROGRAM JOBS_FILE`, so the process imports nothing but what a
# bare scheduler needs: APScheduler 3.11's AsyncIOScheduler and one dbus-fast connection.
# Each job sends the same Notify attuned sends. It logs "ready" and "reloaded" on stderr
# like attuned; SIGHUP re-reads the job list (pause, remove all, add, resume).
BARE_PROGRAM = """
import asyncio, json, signal, sys
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from dbus_fast import Message, Variant
from dbus_fast.aio import MessageBus

jobs_path = Path(sys.argv[1])

def say(text):
    print("bare: " + text, file=sys.stderr, flush=True)

async def main():
    bus = await MessageBus().connect()
    scheduler = AsyncIOScheduler(timezone=UTC)

    async def fire(title, body):
        await bus.call(Message(
            destination="org.freedesktop.Notifications", path="/org/freedesktop/Notifications",
            interface="org.freedesktop.Notifications", member="Notify",
            signature="susssasa{sv}i",
            body=["bare-apscheduler", 0, "", title, body,
                  ["done", "Done", "snooze", "Snooze", "skip", "Skip"],
                  {"urgency": Variant("y", 1), "category": Variant("s", "presence"),
                   "desktop-entry": Variant("s", "attuned")}, -1]))

    def load():
        jobs = json.loads(jobs_path.read_text())
        for j in jobs:
            scheduler.add_job(fire, DateTrigger(run_date=datetime.fromisoformat(j["at"])),
                              args=(j["title"], j["body"]), id=j["id"], misfire_grace_time=900)
        return len(jobs)

    def reload():
        scheduler.pause()
        scheduler.remove_all_jobs()
        n = load()
        scheduler.resume()
        say(f"reloaded {n} jobs")

    n = load()
    scheduler.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload)
    say(f"ready with {n} jobs")
    await stop.wait()
    scheduler.shutdown(wait=False)
    bus.disconnect()

asyncio.run(main())
"""


# -- report ---------------------------------------------------------------------------------


def fmt(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if key.endswith("_ms"):
            return f"{value:.1f}"
        if key in ("startup_s", "startup_cpu_s", "reload_s", "reload_cpu_s", "stop_s"):
            return f"{value:.3f}"
        return f"{value:.2f}"
    return str(value)


def table(results: dict[str, Any]) -> tuple[str, list[str]]:
    rows = [("schedule", "figure", "attuned", "bare APScheduler", "target", "met?")]
    missed: list[str] = []
    for kind, res in results["schedules"].items():
        att, bare = res["attuned"], res["bare"]
        for key, label in LABELS.items():
            target = TARGETS.get(key)
            verdict, tgt = "", ""
            if target is not None and kind in target.applies:
                tgt = f"<= {target.limit:g} {target.unit}"
                ok = target.met(att.get(key))
                verdict = "yes" if ok else ("MISSED" if ok is False else "?")
                if ok is False:
                    missed.append(f"{kind}: {label}")
            if key == "nudges_received":
                tgt, verdict = f"{results['nudges']}", (
                    "yes" if att.get(key) == results["nudges"] else "MISSED")
                if verdict == "MISSED":
                    missed.append(f"{kind}: {label}")
            rows.append((kind, label, fmt(key, att.get(key)), fmt(key, bare.get(key)), tgt,
                         verdict))
    return c.markdown_table(rows), missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60.0,
                        help="idle period in seconds (default 60)")
    parser.add_argument("--practices", type=int, default=1000,
                        help="size of the generated schedule the targets are for "
                             "(default 1000)")
    parser.add_argument("--large", type=int, default=10_000,
                        help="size of the large generated schedule, figures only "
                             "(default 10000; 0 leaves it out)")
    parser.add_argument("--nudges", type=int, default=20, help="lateness nudges (default 20)")
    parser.add_argument("--only", choices=("example", "generated", "large"),
                        help="measure one schedule only")
    parser.add_argument("--json", metavar="FILE", nargs="?", const="-",
                        help="also dump the figures as JSON (to FILE, or stdout with no FILE)")
    parser.add_argument("--no-pyc", action="store_true",
                        help="no byte-code caches (PYTHONDONTWRITEBYTECODE=1): every start "
                             "compiles attuned from source")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="echo the processes' log lines")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="attuned-bench-"))
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_start": c.load_average(), "cpus": os.cpu_count(),
        "python": sys.version.split()[0], "idle_s": args.idle, "nudges": args.nudges,
        "practices_generated": args.practices, "practices_large": args.large,
        "byte_code_cache": not args.no_pyc,
        "schedules": {},
    }
    bus = c.PrivateBus(work / "session-bus").start()
    system_bus = c.PrivateBus(work / "system-bus").start()
    server = c.ServerProcess(bus.address, work / "notifications.jsonl").start()
    try:
        if not args.no_pyc:
            c.progress("warming up (byte-code caches)")
            warm_up(args, bus, system_bus, work)
        schedules = {}
        if args.only in (None, "example"):
            schedules["example"] = c.EXAMPLE.read_text()
        if args.only in (None, "generated"):
            schedules["generated"] = generated_schedule(args.practices, datetime.now(UTC))
        if args.only in (None, "large") and args.large:
            schedules["large"] = generated_schedule(args.large, datetime.now(UTC))
        for kind, text in schedules.items():
            att, bare, info = run_schedule(kind, text, args, bus, system_bus, server, work)
            results["schedules"][kind] = {"attuned": att, "bare": bare, "info": info}
    finally:
        server.stop()
        system_bus.stop()
        bus.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    results["load_average_end"] = c.load_average()

    text, missed = table(results)
    print(f"attuned daemon benchmark, {results['when']}, {results['cpus']} CPUs, "
          f"Python {results['python']}, idle {args.idle:g} s, {args.nudges} nudges, "
          f"generated schedules: {args.practices} and {args.large} practices, byte-code caches "
          f"{'off' if args.no_pyc else 'on'}")
    print(f"load average (1/5/15 min): {results['load_average_start']} at start, "
          f"{results['load_average_end']} at the end")
    print()
    print(text)
    print()
    for kind, res in results["schedules"].items():
        info = res["info"]
        print(f"{kind}: zone {info['zone']}, bare jobs {info.get('jobs')}, reloads attuned "
              f"{info.get('reloads attuned (s)')} s, bare (SIGHUP) "
              f"{info.get('reloads bare (s)')} s, load during idle {info.get('load during idle')}")
        print(f"  sd_notify from attuned: {info.get('sd_notify fields')}")
        for key in ("nudges during idle", "attuned logged while idle", "bare logged while idle",
                    "warning"):
            if key in info:
                print(f"  NOTE {key}: {info[key]}")
    if missed:
        print("\nMISSED: " + "; ".join(missed))
    else:
        print("\nAll targets met.")
    c.dump_json(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
