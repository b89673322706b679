"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 for tests.

Each request to /v1/chat/completions takes the next step of the script:
- a dict with `tool_calls` (list of (name, args-dict-or-raw-json-string)) or `content`;
- `Status(code, headers, body)` for errors such as 429 with Retry-After or 500;
- `Hang(seconds)` to stall until the client times out;
- `Html(text)`: a 200 whose body is an HTML page (a proxy's error page), not a completion.
Instead of a script, `responder(request_body)` may compute each step (a model that reads
what it is sent, e.g. one that obeys injected instructions).
Every request body is recorded in `requests`. A request with `"stream": true` gets the
same step as server-sent events (one chunk with the whole message, then the finish).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Status:
    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict = field(default_factory=lambda: {"error": {"message": "scripted error"}})


@dataclass
class Hang:
    seconds: float


@dataclass
class Html:
    text: str = "<html><body><h1>502 Bad Gateway</h1></body></html>"


def completion(step: dict, model: str, number: int) -> dict:
    message: dict = {"role": "assistant", "content": step.get("content")}
    if step.get("tool_calls"):
        message["tool_calls"] = [
            {
                "id": f"call_{number}_{i}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
            for i, (name, args) in enumerate(step["tool_calls"])
        ]
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if step.get("tool_calls") else "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def stream_events(data: dict) -> bytes:
    """A completion as the chunks of a streamed one (server-sent events)."""
    choice = data["choices"][0]
    delta = {k: v for k, v in choice["message"].items() if v is not None}
    if "tool_calls" in delta:
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(delta["tool_calls"])]
    head = {k: data[k] for k in ("id", "created", "model")}
    chunks = [
        {**head, "object": "chat.completion.chunk",
         "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**head, "object": "chat.completion.chunk",
         "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]},
        {**head, "object": "chat.completion.chunk", "choices": [], "usage": data["usage"]},
    ]
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"


class MockOpenAI:
    """Start with `with MockOpenAI(script) as server:`; point the client at `server.base_url`."""

    def __init__(
        self, script: list | None = None, responder: Callable[[dict], object] | None = None
    ):
        self.script = list(script or [])
        self.responder = responder
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    outer.requests.append(body)
                    number = len(outer.requests)
                    if outer.responder is None:
                        step = (outer.script.pop(0) if outer.script
                                else {"content": "(script ended)"})
                if outer.responder is not None:
                    step = outer.responder(body)
                if isinstance(step, Hang):
                    time.sleep(step.seconds)
                    step = {"content": "too late"}
                if isinstance(step, Status):
                    self._send(step.code, step.body, step.headers)
                elif isinstance(step, Html):
                    self._send_raw(200, step.text.encode(), "text/html")
                elif body.get("stream"):
                    data = completion(step, body.get("model", "mock"), number)
                    self._send_raw(200, stream_events(data), "text/event-stream")
                else:
                    self._send(200, completion(step, body.get("model", "mock"), number))

            def _send(self, code: int, payload: dict, headers: dict | None = None):
                self._send_raw(code, json.dumps(payload).encode(), "application/json", headers)

            def _send_raw(self, code: int, data: bytes, content_type: str,
                          headers: dict | None = None):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> MockOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
