"""A mock Slack Web API on 127.0.0.1 that records every call, for tests and benchmarks.

It answers the methods the bot uses (auth.test, chat.postMessage, chat.update,
chat.postEphemeral, views.publish, users.info, files.getUploadURLExternal,
files.completeUploadExternal; the AI-app methods assistant.threads.setStatus,
setSuggestedPrompts and setTitle, chat.startStream, appendStream and stopStream;
conversations.info and conversations.members; canvases.create, canvases.edit and
canvases.access.set, keeping each canvas's markdown in `canvases`; apps.connections.open,
with an app-level token, hands out `socket_url`), the upload URL it hands out, and
`response_url` posts under /hooks/. Faults are scripted per method:
`fail("chat.postMessage", status=429, headers={"Retry-After": "1"})` answers the next
call that way. Channels are scripted with `channel(...)`: who is in it, and whether it
is shared with another company (Slack Connect); other channels hold only the bot.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

_TIMESTAMPS = itertools.count(1)
STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0TEAM001"


@dataclass
class Call:
    """One request the mock received: the API method (or hook path) and its decoded body."""

    method: str
    body: dict
    headers: dict
    at: float
    reply: dict = field(default_factory=dict)


@dataclass
class Fault:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a class attribute: it is read when the socket starts listening


class MockSlack:
    """Start with `start()`; `url` is the Web API base, `hook_url(name)` a response_url."""

    def __init__(self, port: int = 0) -> None:
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        self.channels: dict[str, dict] = {}
        self.bots: set[str] = {BOT_USER_ID}
        self.socket_url: str | None = None  # a MockSocketMode's, for apps.connections.open
        self.canvases: dict[str, str] = {}  # canvas id -> its markdown
        self._lock = threading.Lock()
        self._ts = _TIMESTAMPS  # shared: message ts stay unique across mocks in one run
        self._files = itertools.count(1)
        self.uploads: dict[str, bytes] = {}  # file id -> the bytes uploaded to its URL
        self._canvases = itertools.count(1)
        self.server = _Server(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # ------------------------------------------------------------ lifecycle

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return self.base + "/api/"

    def hook_url(self, name: str = "cmd") -> str:
        return f"{self.base}/hooks/{name}"

    def start(self) -> MockSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------ scripting and reading

    def fail(self, method: str, *, status: int = 200, headers: dict | None = None,
             error: str | None = None, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with a status (e.g. 429) or an API error."""
        with self._lock:
            self.faults.setdefault(method, []).extend(
                Fault(status, headers or {}, error) for _ in range(times)
            )

    def channel(self, channel_id: str, members: list[str], *, name: str = "sales",
                external: bool = False) -> None:
        """Script a channel: its human `members` (the bot is added) and whether it is shared
        with another company (`is_ext_shared`, Slack Connect)."""
        self.channels[channel_id] = {
            "id": channel_id, "name": name, "is_channel": True, "is_private": False,
            "is_im": False, "is_mpim": False, "is_ext_shared": external,
            "members": [BOT_USER_ID, *members],
        }

    def streamed(self, ts: str | None = None) -> str:
        """The markdown text of a streamed message (the first stream if `ts` is None)."""
        return "".join(c["text"] for c in self.stream_chunks(ts) if c["type"] == "markdown_text")

    def stream_chunks(self, ts: str | None = None) -> list[dict]:
        """Every chunk of a streamed message, in the order they were sent."""
        chunks: list[dict] = []
        with self._lock:
            calls = [c for c in self.calls if c.method in STREAM_METHODS]
        for call in calls:
            stream = call.reply.get("ts") if call.method == "chat.startStream" else call.body["ts"]
            ts = ts or stream
            if stream != ts:
                continue
            if call.body.get("markdown_text"):
                chunks.append({"type": "markdown_text", "text": call.body["markdown_text"]})
            chunks.extend(call.body.get("chunks") or [])
        return chunks

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Poll until `count` calls of `method` arrived (bounded); return them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.of(method)
            if len(calls) >= count:
                return calls
            time.sleep(0.01)
        raise AssertionError(
            f"expected {count} {method} call(s) within {timeout} s, got {len(self.of(method))}"
        )

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        raise AssertionError(f"condition not met within {timeout} s")

    def settle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until no call arrived for `quiet` seconds: nothing more is on its way."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                last = self.calls[-1].at if self.calls else 0.0
            if time.monotonic() - last >= quiet:
                return
            time.sleep(0.02)

    def bodies(self) -> str:
        """Every recorded request body as JSON text, to scan for unescaped markup."""
        with self._lock:
            return "\n".join(json.dumps(c.body, ensure_ascii=False) for c in self.calls)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.faults.clear()
            self.uploads.clear()

    # ------------------------------------------------------------ answers

    def _answer(self, method: str, body: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "url": "https://kam.example/", "team": "KAM", "user": "kam",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID}
        if method in ("chat.postMessage", "chat.update"):
            channel = str(body.get("channel", ""))
            if channel.startswith("U"):  # a user id opens the app's DM with them
                channel = "D" + channel[1:]
            ts = body.get("ts") or f"{1_700_000_000 + next(self._ts)}.000100"
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"text": body.get("text"), "ts": ts}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._files):06d}"
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = json.loads(body.get("files", "[]"))
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        if method == "users.info":
            user = body.get("user", "")
            return {"ok": True, "user": {"id": user, "name": user.lower(),
                                         "is_bot": user in self.bots}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{1_700_000_000 + next(self._ts)}.000200"}
        if method in STREAM_METHODS:
            ts = body.get("ts") or f"{1_700_000_000 + next(self._ts)}.000300"
            return {"ok": True, "channel": body.get("channel"), "ts": ts}
        if method == "conversations.info":
            info = self._channel(str(body.get("channel", "")))
            return {"ok": True, "channel": {k: v for k, v in info.items() if k != "members"}}
        if method == "conversations.members":
            members = self._channel(str(body.get("channel", "")))["members"]
            start, limit = int(body.get("cursor") or 0), int(body.get("limit") or 100)
            more = start + limit < len(members)
            return {"ok": True, "members": members[start : start + limit],
                    "response_metadata": {"next_cursor": str(start + limit) if more else ""}}
        if method.startswith("canvases."):
            return self._canvas(method, body)
        return {"ok": True}

    def _canvas(self, method: str, body: dict) -> dict:
        if method == "canvases.create":
            canvas_id = f"F0CANVAS{next(self._canvases):03d}"
            self.canvases[canvas_id] = (body.get("document_content") or {}).get("markdown", "")
            return {"ok": True, "canvas_id": canvas_id}
        canvas_id = body.get("canvas_id", "")
        if canvas_id not in self.canvases:
            return {"ok": False, "error": "canvas_not_found"}
        if method == "canvases.edit":
            for change in body.get("changes") or []:
                if change.get("operation") == "replace" and not change.get("section_id"):
                    self.canvases[canvas_id] = change["document_content"]["markdown"]
        return {"ok": True}

    def _channel(self, channel_id: str) -> dict:
        if channel_id in self.channels:
            return self.channels[channel_id]
        im = channel_id.startswith("D")
        return {"id": channel_id, "name": "" if im else "general", "is_channel": not im,
                "is_im": im, "is_mpim": False, "is_private": im, "is_ext_shared": False,
                "members": [BOT_USER_ID]}

    def _handler(self):
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                if path == "/_calls":  # for a mock in another process (the benchmark)
                    since = int(dict(parse_qsl(self.path.partition("?")[2])).get("since", 0))
                    with mock._lock:
                        calls = [c.__dict__ for c in mock.calls[since:]]
                    self._send(200, {"calls": calls})
                    return
                method = path.removeprefix("/api/") if path.startswith("/api/") else path
                body = _decode(raw, self.headers.get("Content-Type", ""), method)
                call = Call(method, body, dict(self.headers), time.monotonic())
                with mock._lock:
                    queue = mock.faults.get(method)
                    fault = queue.pop(0) if queue else None
                    call.reply = self._reply(fault, path, raw, method, body)
                    mock.calls.append(call)
                status = fault.status if fault else 200
                if path.startswith(("/upload/", "/hooks/")) and status == 200:
                    self._send_text(call.reply["text"])
                else:
                    self._send(status, call.reply, fault.headers if fault else None)

            def _reply(self, fault, path, raw, method, body) -> dict:
                if fault and fault.status != 200:
                    return {"ok": False, "error": "ratelimited"}
                if fault and fault.error:
                    return {"ok": False, "error": fault.error}
                if path.startswith("/upload/"):
                    mock.uploads[path.removeprefix("/upload/")] = raw
                    return {"text": f"OK - {len(raw)}"}
                if path.startswith("/hooks/"):
                    return {"text": "ok"}
                if method == "apps.connections.open":
                    app_token = self.headers.get("Authorization", "").startswith("Bearer xapp-")
                    return ({"ok": True, "url": mock.socket_url} if app_token and mock.socket_url
                            else {"ok": False, "error": "invalid_auth"})
                if not self.headers.get("Authorization", "").startswith("Bearer xoxb-"):
                    return {"ok": False, "error": "invalid_auth"}
                return mock._answer(method, body)

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _send_text(self, text: str) -> None:
                data = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _decode(raw: bytes, content_type: str, method: str) -> dict:
    if method.startswith("/upload/"):
        return {"bytes": len(raw)}
    text = raw.decode("utf-8", errors="replace")
    if not text:
        return {}
    if "json" in content_type or text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return {"raw": text}
    return dict(parse_qsl(text, keep_blank_values=True))


if __name__ == "__main__":
    # `python mock_slack.py PORT`: serve until killed; GET /_calls lists the calls as JSON.
    import sys

    MockSlack(int(sys.argv[1])).server.serve_forever()
