"""What a phone costs: `attuned run` with and without [phone] (ntfy), on the same private
dbus-daemon and minimal notification server (bench/_common.py), publishing to the FAKE
ntfy server of the tests (tests/fake_ntfy.py) on 127.0.0.1.

    python bench/phone_bench.py [--nudges 10] [--json F]

- RSS: VmRSS from /proc/PID/status 2 s after the last nudge (the phone's threads, urllib
  and OpenSSL, which stays loadable where a phone is configured, are all in by then);
- lateness to the phone: the instant the fake server reads the publish request minus the
  nudge's planned instant, for `--nudges` once nudges 2 s apart (when = "always");
- lateness to the desktop: the same, at the notification server, for comparison.

Exit status 0 whatever the figures (a measurement). The load average is printed beside
them: other work on the machine skews them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import _common as c  # noqa: E402
from fake_ntfy import FakeNtfy  # noqa: E402

TOPIC = "attuned-bench-0123456789abcdefghijkl"
GAP = 2


def schedule(instants: list[datetime], phone: str) -> str:
    out = ['[settings]\ntimezone = "UTC"\nquiet_hours = "none"\n', phone]
    for i, at in enumerate(instants):
        out.append(f'[[practice]]\nid = "n{i}"\ntitle = "N{i}"\nmessage = "Nudge {i}"\n'
                   f"once = {at:%Y-%m-%dT%H:%M:%S}\n")
    return "\n".join(out)


def run(name: str, phone: str, ntfy: FakeNtfy | None, args: argparse.Namespace,
        work: Path) -> dict[str, Any]:
    bus = c.PrivateBus(work / f"{name}-bus").start()
    server = c.ServerProcess(bus.address, work / f"{name}-notify.jsonl").start()
    proc = None
    try:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
        instants = [start + timedelta(seconds=GAP * i) for i in range(args.nudges)]
        home = work / name
        config = c.private_home(home, schedule(instants, phone))
        env = c.child_env(home, work / "pycache", drop=("NOTIFY_SOCKET", "TZ"))
        env.update({"DBUS_SESSION_BUS_ADDRESS": bus.address,
                    "ATTUNED_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/bench"})
        proc = subprocess.Popen([sys.executable, "-m", "attuned", "--config", str(config),
                                 "run"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        log = c.LineLog(proc.stderr)
        wait = (instants[-1] - datetime.now(UTC)).total_seconds() + 10
        desktop = server.wait_for(lambda r: r.get("summary", "").startswith("N"),
                                  args.nudges, wait)
        published: list[dict[str, Any]] = []
        if ntfy is not None:
            published = ntfy.wait_for(TOPIC, args.nudges, 10)
        time.sleep(2)
        figures: dict[str, Any] = {"rss_mib": round(c.rss_mib(proc.pid), 2)}
        due = {f"N{i}": at.timestamp() for i, at in enumerate(instants)}
        late = [(r["t"] - due[r["summary"]]) * 1000 for r in desktop]
        figures["desktop_lateness_median_ms"] = round(c.median(late), 2)
        figures["desktop_lateness_max_ms"] = round(max(late), 2)
        if ntfy is not None:
            plate = [(ntfy.arrived[m["id"]] - due[m["title"]]) * 1000 for m in published]
            figures["phone_lateness_median_ms"] = round(c.median(plate), 2)
            figures["phone_lateness_max_ms"] = round(max(plate), 2)
            figures["published"] = len(published)
        del log
        return figures
    finally:
        c.stop_process(proc)
        server.stop()
        bus.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nudges", type=int, default=10)
    parser.add_argument("--json", help="write the figures as JSON to this file (- for stdout)")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="attuned-phone-bench-") as tmp:
        work = Path(tmp)
        c.progress("without a phone")
        results["no phone"] = run("plain", "", None, args, work)
        with FakeNtfy() as ntfy:
            c.progress("with [phone] ntfy over http")
            phone = f'[phone]\nntfy = "{ntfy.url}/{TOPIC}"\nwhen = "always"\n'
            results["phone"] = run("phone", phone, ntfy, args, work)
            # An https:// server (ntfy.sh) keeps OpenSSL loadable (attuned/entry.py): its
            # cost, measured against the fake (plain http, so every publish fails its
            # TLS handshake and goes to the log; only the RSS figure is meant).
            c.progress("with [phone] ntfy over https")
            tls = f'[phone]\nntfy = "{ntfy.url.replace("http:", "https:")}/{TOPIC}"\n' \
                  'when = "always"\n'
            results["phone https"] = run("tls", tls, None, args, work)
    added = results["phone"]["rss_mib"] - results["no phone"]["rss_mib"]
    added_tls = results["phone https"]["rss_mib"] - results["no phone"]["rss_mib"]
    results["added_rss_mib"] = round(added, 2)
    results["added_rss_https_mib"] = round(added_tls, 2)
    rows = [["figure", "no phone", "phone (ntfy, http)", "phone (https)"]]
    for key in ("rss_mib", "desktop_lateness_median_ms", "desktop_lateness_max_ms",
                "phone_lateness_median_ms", "phone_lateness_max_ms"):
        rows.append([key, *(str(results[k].get(key, "-"))
                            for k in ("no phone", "phone", "phone https"))])
    print(c.markdown_table(rows))
    print(f"\nadded RSS with a phone: {added:.2f} MiB over http, {added_tls:.2f} MiB over "
          f"https; load average {c.load_average()}")
    c.dump_json(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
