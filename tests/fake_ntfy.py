"""A FAKE ntfy server (no real one can be installed here: ntfy is in neither Debian's nor
PyPI's packages), implementing what attuned uses of the documented API
(https://docs.ntfy.sh/publish/, https://docs.ntfy.sh/subscribe/api/):

- publish: `POST /` with a JSON body (topic, title, message, priority, tags, actions),
  and `POST|PUT /<topic>` with the message as the body and X-Title / X-Priority / X-Tags
  headers; the reply is the message as JSON (id, time, event "message", topic, ...);
- subscribe: `GET /<topic>/json[?since=ID|UNIX-TIME|all]`, a stream of JSON lines: an
  "open" event, the cached messages after `since`, then each new one, and "keepalive"
  events while nothing happens;
- auth: with `token` set, every request needs `Authorization: Bearer TOKEN`, else 401
  (ntfy's JSON error body, code 40101).

`press(message, key)` is the phone: it performs the message's `http` action as the app
would. `down()` / `up()` refuse and close the subscribers' streams (a network cut) while
publishing still works, so answers given meanwhile wait in the cache.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeNtfy:
    def __init__(self, *, token: str | None = None, keepalive: float = 1.0) -> None:
        self.token = token
        self.keepalive = keepalive
        self.messages: list[dict[str, Any]] = []
        self.subscriptions: list[str] = []  # each GET's path and query, as it came
        self.arrived: dict[str, float] = {}  # message id -> time.time() at its publish
        self.refusing = False
        self._cond = threading.Condition()
        self._generation = 0  # bumped by down(): open streams end
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._publish(self)

            do_PUT = do_POST

            def do_GET(self) -> None:
                fake._subscribe(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeNtfy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- the API

    def _authorized(self, h: BaseHTTPRequestHandler) -> bool:
        if self.token is None or h.headers.get("Authorization") == f"Bearer {self.token}":
            return True
        body = json.dumps({"code": 40101, "http": 401, "error": "unauthorized"}).encode()
        h.send_response(401)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        return False

    def _publish(self, h: BaseHTTPRequestHandler) -> None:
        arrived = time.time()  # first: the bench measures lateness at this instant
        if not self._authorized(h):
            return
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        path = urllib.parse.urlsplit(h.path).path.strip("/")
        if not path:
            body = json.loads(raw)
            msg = {k: body[k] for k in ("topic", "title", "message", "priority", "tags",
                                        "actions") if k in body}
        else:
            msg = {"topic": path, "message": raw.decode()}
            for header, key in (("X-Title", "title"), ("X-Priority", "priority"),
                                ("X-Tags", "tags")):
                if h.headers.get(header):
                    msg[key] = h.headers[header]
        msg.update(id=secrets.token_hex(6), time=int(time.time()), event="message")
        with self._cond:
            self.messages.append(msg)
            self.arrived[msg["id"]] = arrived
            self._cond.notify_all()
        body = json.dumps(msg).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _subscribe(self, h: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(h.path)
        topic, _, fmt = url.path.strip("/").partition("/")
        if fmt != "json":
            h.send_error(404)
            return
        if not self._authorized(h):
            return
        with self._cond:
            self.subscriptions.append(h.path)
            self._cond.notify_all()
            if self.refusing:
                h.send_error(503)
                return
            generation = self._generation
        since = urllib.parse.parse_qs(url.query).get("since", [None])[0]
        h.send_response(200)
        h.send_header("Content-Type", "application/x-ndjson; charset=utf-8")
        h.end_headers()
        try:
            self._line(h, {"id": secrets.token_hex(6), "time": int(time.time()),
                           "event": "open", "topic": topic})
            with self._cond:
                sent = self._cached_index(topic, since)
            while True:
                with self._cond:
                    mine = [m for m in self.messages[sent:] if m["topic"] == topic]
                    sent = len(self.messages)
                    if not mine and self._generation == generation:
                        self._cond.wait(self.keepalive)
                        mine = [m for m in self.messages[sent:] if m["topic"] == topic]
                        sent = len(self.messages)
                    if self._generation != generation:
                        return
                for m in mine:
                    self._line(h, m)
                if not mine:
                    self._line(h, {"id": secrets.token_hex(6), "time": int(time.time()),
                                   "event": "keepalive", "topic": topic})
        except (BrokenPipeError, ConnectionResetError):
            return

    def _cached_index(self, topic: str, since: str | None) -> int:
        """Index into the messages from which a subscriber with `since` gets them."""
        if since is None:
            return len(self.messages)
        if since == "all":
            return 0
        for i, m in enumerate(self.messages):
            if m["id"] == since:
                return i + 1
        if since.isdigit():
            for i, m in enumerate(self.messages):
                if m["time"] >= int(since):
                    return i
            return len(self.messages)
        return len(self.messages)

    @staticmethod
    def _line(h: BaseHTTPRequestHandler, event: dict[str, Any]) -> None:
        h.wfile.write(json.dumps(event).encode() + b"\n")
        h.wfile.flush()

    # -- for the tests

    def on(self, topic: str) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self.messages if m["topic"] == topic]

    def wait_for(self, topic: str, count: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(mine := [m for m in self.messages if m["topic"] == topic]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(mine)} messages on {topic}, not {count}")
                self._cond.wait(left)
            return mine

    def wait_subscribed(self, count: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.subscriptions) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.subscriptions)} subscriptions, "
                                         f"not {count}")
                self._cond.wait(left)
            return list(self.subscriptions)

    def down(self) -> None:
        """Cut the subscribers off and refuse new ones (publishing still works)."""
        with self._cond:
            self.refusing = True
            self._generation += 1
            self._cond.notify_all()

    def up(self) -> None:
        with self._cond:
            self.refusing = False

    def publish(self, topic: str, text: str) -> dict[str, Any]:
        """Anyone posting to a topic (a forger, say)."""
        req = urllib.request.Request(f"{self.url}/{topic}", data=text.encode(),
                                     method="POST", headers=self._auth())
        with urllib.request.urlopen(req, timeout=5) as resp:
            reply: dict[str, Any] = json.loads(resp.read())
        return reply

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def press(self, message: dict[str, Any], label: str) -> None:
        """The phone: perform the `http` action labelled `label`, as the app does."""
        [action] = [a for a in message["actions"] if a["label"] == label]
        assert action["action"] == "http"
        req = urllib.request.Request(action["url"], data=action.get("body", "").encode(),
                                     method=action.get("method", "POST"),
                                     headers=action.get("headers", {}))
        with urllib.request.urlopen(req, timeout=5) as resp:
            resp.read()


def lines(stream: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    for raw in stream:
        if raw.strip():
            yield json.loads(raw)
