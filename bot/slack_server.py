"""HTTP serving of the Slack app: `POST /slack/events` for Slack, `GET /healthz` for probes.

A threaded WSGI server from the standard library, with Bolt's WSGI adapter in
front: each request gets its own thread, acknowledges in milliseconds, and the
answers run on the app's own worker pool. The same WSGI callable runs under any
WSGI server (gunicorn, uWSGI) if one is preferred.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def build_wsgi_app(app: App, healthy: Callable[[], bool] = lambda: True):
    """A WSGI callable: Slack requests to Bolt, `GET /healthz` answered here."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ, start_response) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            try:
                ok = healthy()
            except Exception:
                log.exception("health check failed")
                ok = False
            body = json.dumps({"ok": ok}).encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return slack(environ, start_response)

    return wsgi


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # Slack and load tests open many connections at once; the default backlog of 5 drops them.
    request_queue_size = 256


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s " + format, self.address_string(), *args)


class SlackHttpServer:
    """Serves the app on `host:port` (port 0 picks a free one) until `shutdown()`."""

    def __init__(
        self, app: App, host: str, port: int, *, healthy: Callable[[], bool] = lambda: True
    ):
        self.httpd = make_server(
            host,
            port,
            build_wsgi_app(app, healthy),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.05)

    def start(self) -> SlackHttpServer:
        """Serve in a background thread (tests, benchmarks)."""
        self._thread = threading.Thread(target=self.serve_forever, name="slack-http", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
