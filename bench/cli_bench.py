"""Wall time of the CLI's quick commands beside the floor of any Python CLI.

    python bench/cli_bench.py [--runs 10] [--no-pyc] [--json [FILE]]

Runs, as subprocesses on the example schedule (copied to a private config; private state
directory): `attuned list`, `attuned next --count 10`, `attuned check`, `attuned --help`,
`python -c "import click"`, `python -c pass` and `python -S -c pass` (no site hooks), and
shell completion at a Tab (click's protocol: `_ATTUNED_COMPLETE=bash_complete` and the words)
for `attuned disable ` (the schedule's ids) and `attuned done ` (open nudges' ids too).
Each is run once unmeasured (byte-code caches, page cache), then --runs times; the median
(and min, max) wall time is printed.
For the attuned commands it also runs them once with PYTHONPROFILEIMPORTTIME=1 and reports
whether APScheduler, dbus-fast or asyncio got imported, how many modules were, and the
costliest imports.

Byte-code: this machine's environment may set PYTHONDONTWRITEBYTECODE=1, which makes every
run compile attuned from source (an installed package has .pyc files). By default the
children get a private PYTHONPYCACHEPREFIX instead; --no-pyc measures without caches.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as c  # noqa: E402

WATCHED = ("apscheduler", "dbus_fast", "asyncio", "sqlite3", "tomlkit", "plyer")


def attuned_command() -> list[str]:
    """The console script, as users run it; `python -m attuned` if it is not installed."""
    script = shutil.which("attuned")
    return [script] if script else [sys.executable, "-m", "attuned"]


def wall_times(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=60)  # unmeasured: caches
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True, timeout=60)
        times.append(time.perf_counter() - t0)
    return times


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_profile(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(cmd, env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                          capture_output=True, text=True, timeout=60, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            rows.append((m.group(4), int(m.group(2)), len(m.group(3)) // 2))
    names = {name for name, _, _ in rows}
    top = sorted(((cum, name) for name, cum, depth in rows if depth == 0), reverse=True)
    return {
        "modules_imported": len(names),
        "imports": {w: any(n == w or n.startswith(w + ".") for n in names) for w in WATCHED},
        "costliest_top_level_ms": [[name, round(cum / 1000, 1)] for cum, name in top[:5]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="measured runs per command")
    parser.add_argument("--no-pyc", action="store_true",
                        help="no byte-code caches (PYTHONDONTWRITEBYTECODE=1)")
    parser.add_argument("--json", metavar="FILE", nargs="?", const="-",
                        help="also dump the figures as JSON (to FILE, or stdout)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="attuned-cli-bench-"))
    try:
        home = work / "home"
        c.private_home(home, c.EXAMPLE.read_text())
        env = c.child_env(home, None if args.no_pyc else work / "pycache",
                          drop=("PYTHONPROFILEIMPORTTIME",))

        attuned = attuned_command()
        def tab(words: str) -> dict[str, str]:
            return {"_ATTUNED_COMPLETE": "bash_complete", "COMP_WORDS": words,
                    "COMP_CWORD": str(len(words.split()))}

        cases: list[tuple[str, list[str], bool, dict[str, str]]] = [
            ("attuned list", [*attuned, "list"], True, {}),
            ("attuned next --count 10", [*attuned, "next", "--count", "10"], True, {}),
            ("attuned check", [*attuned, "check"], True, {}),
            ("attuned --help", [*attuned, "--help"], True, {}),
            ("Tab: attuned disable _", attuned, True, tab("attuned disable ")),
            ("Tab: attuned done _", attuned, True, tab("attuned done ")),
            ('python -c "import click"', [sys.executable, "-c", "import click"], False, {}),
            ("python -c pass", [sys.executable, "-c", "pass"], False, {}),
            # No site-packages hooks at all: what the machine's .pth files cost every start.
            ("python -S -c pass", [sys.executable, "-S", "-c", "pass"], False, {}),
        ]
        results: dict[str, Any] = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": args.runs,
            "byte_code_cache": not args.no_pyc, "attuned": " ".join(attuned),
            "cpus": os.cpu_count(), "load_average_start": c.load_average(), "commands": {}}
        for label, cmd, profile, extra in cases:
            c.progress(label)
            times = wall_times(cmd, {**env, **extra}, args.runs)
            entry: dict[str, Any] = {
                "median_ms": round(c.median(times) * 1000, 1),
                "min_ms": round(min(times) * 1000, 1), "max_ms": round(max(times) * 1000, 1)}
            if profile:
                entry.update(import_profile(cmd, {**env, **extra}))
            results["commands"][label] = entry
        results["load_average_end"] = c.load_average()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    floor = results["commands"]['python -c "import click"']["median_ms"]
    print(f"attuned CLI wall time, median of {args.runs} runs ({results['attuned']}), "
          f"{results['cpus']} CPUs, byte-code caches {'off' if args.no_pyc else 'on'}")
    print(f"load average (1/5/15 min): {results['load_average_start']} at start, "
          f"{results['load_average_end']} at the end")
    print()
    rows = [("command", "median ms", "min", "max", "vs import click", "APScheduler?",
             "asyncio?", "dbus-fast?", "modules")]
    for label, e in results["commands"].items():
        imp = e.get("imports")
        rows.append((
            label, f"{e['median_ms']:.1f}", f"{e['min_ms']:.1f}", f"{e['max_ms']:.1f}",
            f"{e['median_ms'] - floor:+.1f}",
            ("IMPORTED" if imp["apscheduler"] else "no") if imp else "",
            ("imported" if imp["asyncio"] else "no") if imp else "",
            ("imported" if imp["dbus_fast"] else "no") if imp else "",
            str(e.get("modules_imported", ""))))
    print(c.markdown_table(rows))
    print()
    for label, e in results["commands"].items():
        if "costliest_top_level_ms" in e:
            costly = ", ".join(f"{n} {ms:g}" for n, ms in e["costliest_top_level_ms"])
            print(f"{label}: costliest imports (ms, cumulative): {costly}")
    bad = [label for label, e in results["commands"].items()
           if label in ("attuned list", "attuned next --count 10")
           and e.get("imports", {}).get("apscheduler")]
    print("\nMISSED: APScheduler imported by " + ", ".join(bad) if bad
          else "\nAPScheduler is not imported by `attuned list` or `attuned next`.")
    c.dump_json(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
