"""The last resort: the nudge as one line on a stream (stderr; the journal under systemd)."""

from __future__ import annotations

import sys
from typing import TextIO

from attuned.errors import NotifyError
from attuned.notify.base import (
    CLI_ANSWER_HINT,
    Delivery,
    Notification,
    OneWay,
    one_line,
)


def format_nudge(n: Notification) -> str:
    line = f"attuned nudge: {one_line(n)}"
    if n.actions:
        line += f" (answer with: {CLI_ANSWER_HINT})"
    return line


class LogNotifier(OneWay):
    backend = "log"

    def __init__(self, stream: TextIO | None = None) -> None:
        """`stream` defaults to the current sys.stderr at each send."""
        super().__init__()
        self._stream = stream

    async def send(self, n: Notification) -> Delivery:
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            stream.write(format_nudge(n) + "\n")
            stream.flush()
        except (OSError, ValueError) as exc:
            raise NotifyError(f"Could not write the nudge to the log: {exc}") from exc
        return Delivery(self.backend, None, None)

    async def close_notification(self, notification_id: int) -> None:
        return None

    async def aclose(self) -> None:
        return None
