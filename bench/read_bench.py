"""Benchmark of reading the schedule alone: `attuned.config.read.parse_text` on generated
schedules (bench/daemon_bench.py's generator: every rule kind, timezone UTC).

    python bench/read_bench.py [--runs 11] [--practices 1000,10000] [--json F]

For each size: the whole read (TOML parse, the scan for lines, validation), the daemon's
reload after a save that changed one practice (ReloadCache), and the whole read's parts
alone: `tomllib.loads`, `scan`, the checker. With tomli installed (it is no dependency:
`pip install 'tomli<2.4'`, the compiled TOML 1.0 one) `tomli.loads` alone is shown beside
tomllib's. Each figure is the median of --runs (the cases take turns), as CPU time of
this process and wall time; the cyclic garbage collector is paused, as the daemon pauses
it while it reads. Target: 1,000 practices read in 0.15 s,
a part of the 0.5 s start-up (loaded and scheduled) that planning shares. Exit status 0
even when the target is missed; MISSED is printed.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as c  # noqa: E402
from daemon_bench import generated_schedule  # noqa: E402

READ_TARGET_S = 0.15  # for 1,000 practices
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # fixed, so every run reads the same text


def measure(cases: dict[str, Callable[[], object]], runs: int) -> dict[str, tuple[float, float]]:
    """(median CPU seconds, median wall seconds) of `runs` calls of each case. The cases
    take turns, so that a burst of other work on the machine falls on all of them."""
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    wall: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):
        for label, f in cases.items():
            gc.collect()
            gc.disable()
            c0, w0 = time.process_time(), time.perf_counter()
            f()
            cpu[label].append(time.process_time() - c0)
            wall[label].append(time.perf_counter() - w0)
            gc.enable()
    return {k: (statistics.median(cpu[k]), statistics.median(wall[k])) for k in cases}


def figures(n: int, runs: int) -> dict[str, tuple[float, float]]:
    from attuned.config import read
    from attuned.config.layout import scan
    from attuned.config.reload_cache import ReloadCache
    from attuned.config.validate import Checker

    text = generated_schedule(n, NOW)
    data, layout = tomllib.loads(text), scan(text)
    assert len(read.parse_text(text).practices) == n
    # The daemon's reload after a save that changed one practice (and back, in turns).
    edited = text.replace('title = "Practice 0"', 'title = "Practice zero"', 1)
    assert edited != text
    cache, saves = ReloadCache(), [text, edited]
    cache.parse_text(text)

    def reload() -> object:
        saves.reverse()
        return cache.parse_text(saves[0])

    cases: dict[str, Callable[[], object]] = {
        "whole read (parse_text)": lambda: read.parse_text(text),
        "reload, one practice changed (ReloadCache)": reload,
        "  tomllib.loads alone": lambda: tomllib.loads(text),
        "  scan alone": lambda: scan(text),
        "  checker alone": lambda: Checker("c.toml", layout).schedule(data),
    }
    try:
        import tomli  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        assert tomli.loads(text) == data
        cases[f"  tomli {tomli.__version__}.loads alone"] = lambda: tomli.loads(text)
    return measure(cases, runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="runs per figure (default 11)")
    parser.add_argument("--practices", default="1000,10000",
                        help="sizes, comma-separated (default 1000,10000)")
    parser.add_argument("--json", metavar="FILE", nargs="?", const="-",
                        help="also dump the figures as JSON (to FILE, or stdout with no FILE)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.practices.split(",")]
    results: dict[str, Any] = {"load_average_start": c.load_average(), "runs": args.runs,
                               "python": sys.version.split()[0], "sizes": {}}
    missed = []
    rows = [("practices", "figure", "CPU (ms)", "wall (ms)", "target", "met?")]
    for n in sizes:
        c.progress(f"{n} practices")
        got = figures(n, args.runs)
        results["sizes"][n] = {k.strip(): {"cpu_s": v[0], "wall_s": v[1]} for k, v in got.items()}
        for label, (cpu, wall) in got.items():
            target = verdict = ""
            if n == 1000 and label.startswith("whole"):
                target = f"<= {READ_TARGET_S * 1000:g} ms"
                verdict = "yes" if cpu <= READ_TARGET_S else "MISSED"
                if verdict == "MISSED":
                    missed.append(f"{n}: {label}")
            rows.append((f"{n:,}", label, f"{cpu * 1000:.1f}", f"{wall * 1000:.1f}", target,
                         verdict))
    results["load_average_end"] = c.load_average()
    print(f"attuned read benchmark, Python {results['python']}, median of {args.runs} runs, "
          f"load average {results['load_average_start']} at start, "
          f"{results['load_average_end']} at the end")
    print()
    print(c.markdown_table(rows))
    print("\nMISSED: " + "; ".join(missed) if missed else "\nTarget met.")
    c.dump_json(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
