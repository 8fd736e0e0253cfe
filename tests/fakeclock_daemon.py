"""FAKE-clock daemon, for tests only: the real daemon (attuned.daemon.lifecycle.Daemon),
run on tests/fakeclock.py's FakeClock instead of the system clock, with a second
control socket through which a test moves that clock.

    python tests/fakeclock_daemon.py --start 2026-03-29T00:40:00+00:00 --config CFG [-v]

The product has no way to move its clock; this entry point hands the daemon a fake one
through the same seam the real clock goes through. It serves, on
$ATTUNED_RUNTIME_DIR/fakeclock.sock (the product's own JSON-lines server):

    {"method": "advance", "params": {"seconds": 3600}}   awake time passes; every timer
                                                         due on the way fires, and what it
                                                         started finishes, in order
    {"method": "suspend", "params": {"seconds": 3600}}   the machine sleeps (wall clock
                                                         jumps, timers do not run)
    {"method": "step", "params": {"seconds": -60}}      the wall clock is set
    {"method": "now"}                                    {"now": ISO}

Each reply carries the fake clock's `now` after the move.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakeclock import FakeClock

from attuned import paths
from attuned.daemon.control import ControlServer
from attuned.daemon.lifecycle import Daemon
from attuned.daemon.logs import setup_logging
from attuned.errors import AttunedError

SETTLE_SECONDS = 10.0


async def main(start: datetime, config: Path) -> int:
    clock = FakeClock(start)
    daemon = Daemon(config, clock)

    async def settle() -> None:
        # What a timer started (a nudge being sent, its record) ends before time moves on.
        for _ in range(3):
            await daemon.tasks.idle(SETTLE_SECONDS)
            if daemon.service is not None:
                await daemon.service.tasks.idle(SETTLE_SECONDS)
            await asyncio.sleep(0)

    clock.settle = settle

    async def handle(method: str, params: dict[str, Any]) -> dict[str, Any]:
        seconds = float(params.get("seconds", 0))
        if method == "advance":
            await clock.advance(seconds)
        elif method == "suspend":
            clock.suspend(seconds)
        elif method == "step":
            clock.step(seconds)
        elif method != "now":
            raise AttunedError(f"the fake clock knows advance, suspend, step and now, "
                               f"not {method!r}")
        return {"now": clock.now().isoformat()}

    server = ControlServer(paths.runtime_dir() / "fakeclock.sock", handle)
    await server.start()
    try:
        return await daemon.run()
    finally:
        await server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", required=True, type=datetime.fromisoformat)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args()
    setup_logging(args.verbose)
    try:
        sys.exit(asyncio.run(main(args.start, args.config)))
    except AttunedError as e:
        print(f"attuned: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
