"""TaskSet: what a part of attuned starts in the background ends before what it uses
closes; a failure is logged, not lost."""

from __future__ import annotations

import asyncio
import logging

import pytest

from attuned.tasks import TaskSet


def test_drain_waits_for_running_tasks_and_those_they_start() -> None:
    done: list[str] = []

    async def main() -> None:
        tasks = TaskSet("test")

        async def second() -> None:
            await asyncio.sleep(0.01)
            done.append("second")

        async def first() -> None:
            await asyncio.sleep(0.01)
            tasks.spawn(second())
            done.append("first")

        tasks.spawn(first())
        await tasks.drain(5)
        assert len(tasks) == 0

    asyncio.run(main())
    assert done == ["first", "second"]


def test_drain_cancels_what_is_still_running_after_its_timeout() -> None:
    seen: list[str] = []

    async def main() -> None:
        tasks = TaskSet("test")

        async def forever() -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        tasks.spawn(forever())
        await asyncio.sleep(0)
        assert await tasks.idle(0.01) is False
        await tasks.drain(0.01)
        assert len(tasks) == 0

    asyncio.run(main())
    assert seen == ["cancelled"]


def test_a_failing_task_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        tasks = TaskSet("core")

        async def boom() -> None:
            raise RuntimeError("the bus went away")

        tasks.spawn(boom())
        await tasks.drain(1)

    caplog.set_level(logging.ERROR, logger="attuned")
    asyncio.run(main())
    assert "a background task of the core failed" in caplog.text
    assert "RuntimeError: the bus went away" in caplog.text
