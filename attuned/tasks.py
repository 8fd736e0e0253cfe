"""Background tasks with an owner: every task a part of attuned starts is kept in its
`TaskSet`, logged if it fails, and finished (drained, then cancelled) before what it uses
is closed. So a nudge being answered at SIGTERM is written before the history closes, and
nothing runs after its owner stopped.

asyncio is imported only when a task is started: the CLI's quick commands use modules
that hold a TaskSet, and never start one.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger("attuned")


class TaskSet:
    """The running tasks of one owner."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` in the background on the running loop; a failure is logged."""
        import asyncio

        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a background task of the %s failed", self.name,
                      exc_info=task.exception())

    async def idle(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds until no task runs (those started meanwhile
        included); False if some still do. Nothing is cancelled."""
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for every task (and those they start meanwhile)
        to finish; cancel whatever is still running then, and wait for it to end."""
        await self.idle(timeout)
        await self.cancel()

    async def cancel(self) -> None:
        """Cancel every task and wait for them to end."""
        import asyncio

        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
