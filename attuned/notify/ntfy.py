"""The phone through ntfy (https://docs.ntfy.sh): each nudge published to the person's
topic with Done / Snooze / Skip as `http` actions, which make the phone post
"ACTION TOKEN" to a reply topic on the same server; the daemon listens there (the JSON
stream) and takes an answer only with the token of an open nudge it published with it.

HTTP through the standard library's urllib, in threads: it takes proxies and TLS
settings from the environment (http_proxy, https_proxy, no_proxy, SSL_CERT_FILE) and
costs no dependency. The stream's thread posts each message to the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from attuned.errors import AttunedError, NotifyError
from attuned.notify.base import Delivery, Notification, PhoneAnswerCallback

log = logging.getLogger("attuned.notify")

ANSWERS = ("done", "snooze", "skip")
LABELS = {"done": "Done", "snooze": "Snooze", "skip": "Skip"}
PUBLISH_TIMEOUT = 10.0
# ntfy sends a keepalive every 45 s by default: twice that without a byte is a dead line.
READ_TIMEOUT = 100.0
BACKOFF_FIRST = 1.0
BACKOFF_MOST = 60.0


class TokenFileError(AttunedError):
    """The access token's file cannot be used."""


def read_token(path: str) -> str:
    """The access token in `path`; refused when others may read the file."""
    file = Path(os.path.expanduser(path))
    try:
        mode = file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TokenFileError(
                f"the ntfy token file {file} can be read by others; it holds a secret: "
                f"chmod 600 {file}")
        token = file.read_text("utf-8").strip()
    except OSError as e:
        raise TokenFileError(f"cannot read the ntfy token file {file}: "
                             f"{e.strerror or e}") from None
    if not token:
        raise TokenFileError(f"the ntfy token file {file} is empty; put the access token "
                             "(tk_...) in it")
    return token


def split_topic(url: str) -> tuple[str, str]:
    """("https://ntfy.sh", "attuned-abc") from "https://ntfy.sh/attuned-abc"."""
    server, _, topic = url.rstrip("/").rpartition("/")
    return server, topic


def reply_topic(topic: str) -> str:
    """Where the phone's answers go: as unguessable as the topic itself."""
    return f"{topic}-answers"


def parse_answer(text: str) -> tuple[str, str] | None:
    """("done", token) from "done TOKEN"; None for anything else."""
    words = text.split()
    if len(words) != 2 or words[0] not in ANSWERS:
        return None
    return words[0], words[1]


class NtfyNotifier:
    """A `PhoneChannel`: publishes to `topic_url`, hears answers on its reply topic."""

    backend = "ntfy"

    def __init__(self, topic_url: str, token: str | None = None, *,
                 secret: bytes | None = None) -> None:
        self.server, self.topic = split_topic(topic_url)
        # With a secret kept across restarts, a nudge's token is derived from its id, so a
        # later run still knows the buttons of a message an earlier run published.
        self._secret = secret
        self._after: dict[str, int] = {}  # nudge id -> the earliest answer time it takes
        self.replies = reply_topic(self.topic)
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        self.on_answer: PhoneAnswerCallback | None = None
        self._open: dict[str, str] = {}  # token -> nudge id, for nudges not yet answered
        self._seen: set[str] = set()  # message ids already taken: each answer once
        self._since = str(int(time.time()))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connected = asyncio.Event()

    # -- publishing

    def message(self, n: Notification, token: str | None) -> dict[str, Any]:
        """The publish request's JSON body (ntfy's "publish as JSON")."""
        body: dict[str, Any] = {
            "topic": self.topic, "title": n.title, "message": n.body,
            # A nudge is worth a sound but not an alarm; tags show as an emoji.
            "priority": 4 if n.urgency >= 2 else 3, "tags": ["seedling"],
        }
        if token is not None:
            url = f"{self.server}/{self.replies}"
            body["actions"] = [
                {"action": "http", "label": LABELS[key], "url": url, "method": "POST",
                 "body": f"{key} {token}", "headers": dict(self._auth), "clear": True}
                for key in ANSWERS]
        return body

    async def send(self, n: Notification) -> Delivery:
        """Publish `n`; with its nudge's id and buttons it carries a fresh token."""
        token = self._token_for(n.nudge_id) if n.nudge_id and n.actions else None
        data = json.dumps(self.message(n, token)).encode()
        if token is not None and n.nudge_id is not None:
            # Open before the publish returns: answered elsewhere meanwhile, `forget`
            # finds it.
            self._open[token] = n.nudge_id
        try:
            reply = await asyncio.to_thread(self._post, data)
        except (OSError, ValueError) as e:
            if token is not None:
                self._open.pop(token, None)
            raise NotifyError(f"could not publish to {self.server}: {_why(e)}") from None
        return Delivery(self.backend, None, f"{self.server} (message {reply.get('id')})")

    def _post(self, data: bytes) -> dict[str, Any]:
        req = urllib.request.Request(
            self.server + "/", data=data, method="POST",
            headers={"Content-Type": "application/json", **self._auth})
        with urllib.request.urlopen(req, timeout=PUBLISH_TIMEOUT) as resp:
            reply: dict[str, Any] = json.loads(resp.read() or b"{}")
        return reply

    def _token_for(self, nudge_id: str) -> str:
        if self._secret is None:
            return secrets.token_urlsafe(16)
        digest = hmac.new(self._secret, nudge_id.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def remember(self, nudge_id: str, shown_at: float) -> None:
        """An open nudge an earlier run published: its buttons answer it again, from the
        moment it was last shown (a press from before a snooze's return is not taken
        twice). Called before `start`, so the stream resumes early enough to hear a press
        made while no daemon ran."""
        if self._secret is None:
            return
        self._open[self._token_for(nudge_id)] = nudge_id
        self._after[nudge_id] = int(shown_at)
        self._since = str(min(int(self._since), int(shown_at)))

    def forget(self, nudge_id: str) -> None:
        """Answered elsewhere (or expired): the phone's buttons answer nothing now."""
        for token in [t for t, nid in self._open.items() if nid == nudge_id]:
            del self._open[token]
        self._after.pop(nudge_id, None)

    @property
    def open_count(self) -> int:
        return len(self._open)

    # -- answers

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._listen, name="ntfy-answers",
                                        daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        """Keep the reply topic's stream open: reconnect with backoff, resume from the
        last message taken (`since=`), so that an answer given meanwhile still comes."""
        wait = BACKOFF_FIRST
        failing = False
        while not self._stop.is_set():
            try:
                for event in self._stream():
                    if event.get("event") == "open":
                        wait = BACKOFF_FIRST
                        if failing:
                            log.info("listening for phone answers at %s again", self.server)
                        failing = False
                        self._post_to_loop(self.connected.set)
                    elif event.get("event") == "message":
                        self._post_to_loop(functools.partial(self._heard, event))
                    if self._stop.is_set():
                        return
            except (OSError, ValueError) as e:
                if self._stop.is_set():
                    return
                if not failing:
                    log.warning("lost the phone answers' stream at %s: %s; trying again",
                                self.server, _why(e))
                failing = True
            log.debug("the phone answers' stream at %s ended", self.server)
            self._post_to_loop(self.connected.clear)
            self._stop.wait(wait)
            wait = min(wait * 2, BACKOFF_MOST)

    def _stream(self) -> Iterator[dict[str, Any]]:
        query = urllib.parse.urlencode({"since": self._since})
        req = urllib.request.Request(f"{self.server}/{self.replies}/json?{query}",
                                     headers=self._auth)
        with urllib.request.urlopen(req, timeout=READ_TIMEOUT) as resp:
            for line in resp:
                if line.strip():
                    event: dict[str, Any] = json.loads(line)
                    if event.get("event") == "message" and event.get("id"):
                        self._since = str(event["id"])
                    yield event

    def _post_to_loop(self, call: Callable[[], object]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # RuntimeError: the loop closed meanwhile (the daemon is stopping).
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(call)

    def _heard(self, event: dict[str, Any]) -> None:
        mid = str(event.get("id", ""))
        if mid in self._seen:
            return
        self._seen.add(mid)
        parsed = parse_answer(str(event.get("message", "")))
        if parsed is None:
            log.warning("ignored a message on the phone answers' topic that is no answer "
                        "(id %s)", mid)
            return
        action, token = parsed
        nudge_id = self._open.get(token)
        if nudge_id is not None and _int(event.get("time")) < self._after.get(nudge_id, 0):
            log.warning("ignored a phone answer (%s, message %s) from before its nudge was "
                        "last shown", action, mid)
            return
        if nudge_id is None:
            log.warning("ignored a phone answer (%s, message %s) that carries no open "
                        "nudge's token", action, mid)
            return
        self.forget(nudge_id)
        if self.on_answer is not None:
            self.on_answer(nudge_id, action)

    async def aclose(self) -> None:
        # The stream's thread is a daemon thread blocked in a read: it notices the stop
        # at its next line or timeout, or ends with the process.
        self._stop.set()


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _why(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"the server answered {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    return str(e) or type(e).__name__
