"""What every notification backend shares: the nudge as data, the delivery receipt,
the server description, and the `Notifier` protocol the daemon core talks to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Freedesktop urgency levels (the "urgency" hint is a byte).
URGENCY_LOW = 0
URGENCY_NORMAL = 1
URGENCY_CRITICAL = 2

# Notify's expire_timeout (ms): the server's own default, or never expire.
EXPIRES_DEFAULT = -1
EXPIRES_NEVER = 0

# NotificationClosed reasons from the freedesktop spec.
CLOSED_EXPIRED = 1
CLOSED_DISMISSED = 2
CLOSED_BY_CALL = 3
CLOSED_UNDEFINED = 4

# What the user can type instead of pressing a button; said once when buttons are missing.
CLI_ANSWER_HINT = "attuned done|snooze|skip"

# The answers every nudge offers, as (action key, button label); the keys are what
# on_action receives.
NUDGE_ACTIONS: tuple[tuple[str, str], ...] = (("done", "Done"), ("snooze", "Snooze"),
                                              ("skip", "Skip"))

ActionCallback = Callable[[int, str], None]  # (notification id, action key)
ClosedCallback = Callable[[int, int], None]  # (notification id, reason)
ReplyCallback = Callable[[int, str], None]  # (notification id, the text typed)
PausedCallback = Callable[[bool], None]  # the desktop's do-not-disturb switched
PhoneAnswerCallback = Callable[[str, str], None]  # (nudge id, action key)


@dataclass(frozen=True)
class Notification:
    """One nudge as shown on the desktop. `actions` are (key, label) pairs.
    `resident`: ask the server to keep it after a button is pressed (the spec's
    "resident" hint), for the sender to withdraw it."""

    title: str
    body: str
    actions: tuple[tuple[str, str], ...] = ()
    replaces_id: int = 0
    urgency: int = URGENCY_NORMAL
    category: str = "x-attuned.nudge"
    # The app's name and icon, as servers find them: its desktop entry (attuned.desktop)
    # and the icon by its theme name (`attuned service install` puts both in place).
    desktop_entry: str = "attuned"
    timeout_ms: int = EXPIRES_DEFAULT
    resident: bool = False
    app_name: str = "attuned"
    icon: str = "attuned"
    # The nudge's id in the history, for channels that answer by it (the phone).
    nudge_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    """Which backend delivered a nudge; the id is only known for D-Bus deliveries."""

    backend: str
    notification_id: int | None
    server: str | None


@dataclass(frozen=True)
class ServerInfo:
    """A notification server, as GetServerInformation and GetCapabilities describe it."""

    name: str
    vendor: str
    version: str
    spec_version: str
    capabilities: tuple[str, ...]

    @property
    def supports_actions(self) -> bool:
        return "actions" in self.capabilities


class Notifier(Protocol):
    """A way to put a nudge in front of the person.

    The owner (the daemon core) sets the callbacks: a button pressed (`on_action`), a
    bubble closed (`on_closed`), a reply typed into it (`on_reply`), the desktop's
    do-not-disturb switched (`on_dnd_change`). Backends that cannot hear one of these
    never call it.
    """

    on_action: ActionCallback | None
    on_closed: ClosedCallback | None
    on_reply: ReplyCallback | None
    on_dnd_change: PausedCallback | None

    async def do_not_disturb(self) -> bool | None:
        """Has the person paused notifications? None where it cannot be told."""
        ...

    async def send(self, n: Notification) -> Delivery:
        """Deliver `n` or raise `attuned.errors.NotifyError` saying why not."""
        ...

    async def close_notification(self, notification_id: int) -> None: ...

    async def aclose(self) -> None: ...


class PhoneChannel(Protocol):
    """Where nudges reach the person away from the screen (attuned.notify.phone). An
    answer given there comes to `on_answer`, once; `forget` a nudge answered elsewhere
    so that the phone cannot answer it again."""

    on_answer: PhoneAnswerCallback | None

    async def start(self) -> None: ...

    async def send(self, n: Notification) -> Delivery: ...

    def forget(self, nudge_id: str) -> None: ...

    def describe(self) -> str:
        """Each channel and whether it works, for `attuned status`."""
        ...

    async def aclose(self) -> None: ...


class OneWay:
    """For notifiers that hear nothing back (the log, plyer): the callbacks are kept but
    never called, and do-not-disturb cannot be told."""

    def __init__(self) -> None:
        self.on_action: ActionCallback | None = None
        self.on_closed: ClosedCallback | None = None
        self.on_reply: ReplyCallback | None = None
        self.on_dnd_change: PausedCallback | None = None

    async def do_not_disturb(self) -> bool | None:
        return None


def one_line(n: Notification) -> str:
    """The nudge as a single log line (for the log backend and delivery logs)."""
    body = " / ".join(part.strip() for part in n.body.splitlines() if part.strip())
    return f"{n.title}: {body}" if body else n.title
