"""Fixtures for the fault suite: a writable copy of the demo data with its guidance index
and a warm model cache (the assistant builds in about a second), and `kam serve` run as a
real process against the mock Slack Web API (and, for slow answers, the mock OpenAI API)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.config import Settings
from bot.factory import build_assistant, build_services
from tests.support.databases import copy_database
from tests.support.mock_socket import MockSocketMode
from tests.support.servers import free_port
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, SlackSender

ROOT = Path(__file__).resolve().parents[2]
KAM = Path(sys.executable).parent / "kam"
APP_TOKEN = "xapp-1-test-token"


@pytest.fixture(scope="session")
def fault_home(tmp_path_factory, demo_engine, guidance_home: Path, embedder) -> Path:
    """The demo database, the shipped guidance index and a trained intent cache, once."""
    home = tmp_path_factory.mktemp("fault-home")
    copy_database(demo_engine, home / "kam.db")
    shutil.copytree(guidance_home / "chroma", home / "data" / "chroma")
    settings = home_settings(home)
    services = build_services(settings)
    build_assistant(settings, services, embedder).close()  # trains the intent classifier
    services.close()
    (home / "data" / "threads.db").unlink(missing_ok=True)
    return home


def home_settings(home: Path, **overrides) -> Settings:
    return Settings(_env_file=None, database_url=f"sqlite:///{home / 'kam.db'}",
                    kam_data_dir=home / "data", **overrides)


@pytest.fixture
def home(fault_home: Path, tmp_path: Path) -> Path:
    """A private copy of the fault home, to break as a test likes."""
    copy = tmp_path / "home"
    shutil.copytree(fault_home, copy)
    return copy


@pytest.fixture
def make_assistant(embedder) -> Callable[..., Assistant]:
    built: list = []

    def make(settings: Settings, *, create: bool = True) -> Assistant:
        services = build_services(settings, create=create)
        assistant = build_assistant(settings, services, embedder)
        built.append((assistant, services))
        return assistant

    yield make
    for assistant, services in built:
        assistant.close()
        services.close()


@pytest.fixture
def settings_for_slack(mock_slack) -> Callable[[Path], Settings]:
    def make(home: Path) -> Settings:
        return home_settings(home, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=mock_slack.url)

    return make


@dataclass
class KamServer:
    """`kam serve` in a process of its own (and its own process group), on 127.0.0.1."""

    process: subprocess.Popen
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def sender(self) -> SlackSender:
        return SlackSender(f"http://127.0.0.1:{self.port}")

    def get(self, path: str) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            conn.close()

    def wait_ready(self, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"kam serve exited: {self.output()}")
            try:
                status, body = self.get("/readyz")
                if status == 200:
                    return body
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"kam serve not ready in {timeout} s: {self.output()}")

    def workers(self) -> list[int]:
        """The pids of the answer worker processes (children of the server)."""
        found = []
        for proc in Path("/proc").iterdir():
            try:
                stat = (proc / "stat").read_text()
                cmdline = (proc / "cmdline").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[-1].split()
            if int(fields[1]) == self.pid and fields[0] != "Z" and "spawn_main" in cmdline:
                found.append(int(proc.name))
        return found

    def terminate(self, *, group: bool = False) -> None:
        if group:
            os.killpg(self.pid, signal.SIGTERM)
        else:
            os.kill(self.pid, signal.SIGTERM)

    def wait_exit(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def kam_serve(home: Path, mock_slack, tmp_path: Path):
    """Start `kam serve` on the home copy; `start(**env)` returns a ready KamServer."""
    started: list[KamServer] = []

    def start(*, socket: MockSocketMode | None = None, **env: str) -> KamServer:
        """Ready when /readyz says so (over `socket`, the probes alone are served)."""
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        environment = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{home / 'kam.db'}",
            "KAM_DATA_DIR": str(home / "data"),
            "KAM_LLM": "offline",
            "KAM_LOG_LEVEL": "INFO",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": mock_slack.url,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            "TOKENIZERS_PARALLELISM": "false",
            **env,
        }
        if socket is not None:
            mock_slack.socket_url = socket.url
            environment["SLACK_APP_TOKEN"] = APP_TOKEN
        over = ["--socket"] if socket else []
        process = subprocess.Popen(
            [str(KAM), "serve", *over, "--host", "127.0.0.1", "--port", str(port)],
            cwd=home, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as under systemd
        )
        server = KamServer(process, port, log)
        started.append(server)
        server.wait_ready()
        if socket is not None:
            socket.wait_connected(timeout=10)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.process.wait(timeout=30)


@pytest.fixture
def socket_mode():
    """A Socket Mode endpoint on 127.0.0.1, for one test."""
    socket = MockSocketMode().start()
    yield socket
    socket.stop()



SLOW_S = 3.0
HANG_S = 60.0


def _question(request: dict) -> str:
    users = [m for m in request.get("messages", []) if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    return content if isinstance(content, str) else json.dumps(content)


def slow_responder(request: dict) -> dict:
    """A model that answers at once, in SLOW_S seconds ("slowly"), or hangs ("hang")."""
    question = _question(request)
    if "hang" in question:
        time.sleep(HANG_S)
    elif "slowly" in question:
        time.sleep(SLOW_S)
    return {"content": f"The answer to: {question[:60]}"}


@pytest.fixture
def slow_model():
    """The mock OpenAI-compatible API with `slow_responder`; `env` points `kam serve` at it."""
    from tests.support.mock_openai import MockOpenAI

    with MockOpenAI(responder=slow_responder) as server:
        server.env = {"KAM_LLM": "openai", "OPENAI_API_KEY": "sk-test",
                      "OPENAI_BASE_URL": server.base_url, "KAM_LLM_TIMEOUT_S": "120"}
        yield server
