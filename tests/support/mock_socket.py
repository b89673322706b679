"""A Slack Socket Mode endpoint on 127.0.0.1: the WebSocket `apps.connections.open` hands out.

It greets each connection with `hello` (as Slack does), sends the envelopes a test pushes
with `send`, and records what the app sends back (`acks`: one per envelope it took).
Point the mock Web API at it with `mock_slack.socket_url = socket.url`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class MockSocketMode:
    def __init__(self) -> None:
        self.acks: list[dict] = []
        self.connections: list[ServerConnection] = []
        self.closed: list[ServerConnection] = []
        self._lock = threading.Lock()
        self._server: Server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket=test"

    def start(self) -> MockSocketMode:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def open(self) -> list[ServerConnection]:
        with self._lock:
            return [c for c in self.connections if c not in self.closed]

    def wait_connected(self, timeout: float = 10) -> None:
        self._wait(lambda: bool(self.open()), timeout, "no Socket Mode connection")

    def wait_closed(self, timeout: float = 30) -> None:
        self._wait(lambda: not self.open(), timeout, "the connection stayed open")

    def wait_acks(self, count: int, timeout: float = 10) -> list[dict]:
        self._wait(lambda: len(self.acks) >= count, timeout,
                   f"fewer than {count} envelope(s) acknowledged")
        return self.acks

    def send(self, payload: dict, *, retry_attempt: int = 0) -> str:
        """Send an Events API body (as HTTP would carry it) in an envelope; its envelope id."""
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "type": "events_api", "payload": payload,
                    "accepts_response_payload": False, "retry_attempt": retry_attempt,
                    "retry_reason": "timeout" if retry_attempt else ""}
        self.open()[-1].send(json.dumps(envelope))
        return envelope_id

    def _handle(self, connection: ServerConnection) -> None:
        with self._lock:
            self.connections.append(connection)
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "connection_info": {"app_id": "A0KAMAPP1"}}))
        try:
            for message in connection:
                data = json.loads(message)
                if "envelope_id" in data:
                    with self._lock:
                        self.acks.append(data)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self.closed.append(connection)

    @staticmethod
    def _wait(predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"{what} within {timeout} s")
