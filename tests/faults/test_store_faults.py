"""The assistant's stores under faults: a damaged thread store or guidance index is moved
aside and rebuilt at start; damage while running, a read-only or a deleted database each
turn readiness red and give the user one honest line; answers that only read still come."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from bot.health import (
    DATABASE_DOWN,
    DATABASE_READ_ONLY,
    MEMORY_DAMAGED,
    Readiness,
    check_database,
    check_index,
    check_thread_store,
    database_identity,
)
from bot.slack.app import build_slack_app, shutdown_slack_app
from bot.slack.server import SlackHttpServer
from store.db import make_engine
from tests.faults.conftest import home_settings
from tests.support.slack import SIGNING_SECRET, SlackSender


def ask(assistant, question: str, user: str = "u_kam_anna"):
    return assistant.answer(user, question, uuid.uuid4().hex)


def damage(path: Path) -> None:
    """Overwrite the start of a file in place (its header: SQLite no longer knows it)."""
    with path.open("r+b") as file:
        file.write(b"this is not a database any more " * 64)


def test_a_damaged_thread_store_is_moved_aside_at_start(home, make_assistant):
    (home / "data" / "threads.db").write_bytes(b"garbage " * 4096)

    answer = ask(make_assistant(home_settings(home)), "How is Acme Industrial doing?")

    assert answer.ok and "Acme Industrial" in answer.text
    assert list((home / "data").glob("threads.db.damaged-*"))
    assert check_thread_store(home / "data").ok


def test_a_thread_store_damaged_while_running_is_one_honest_line_and_not_ready(
        home, make_assistant):
    assistant = make_assistant(home_settings(home))
    assert ask(assistant, "How is Acme Industrial doing?").ok
    for name in ("threads.db", "threads.db-wal", "threads.db-shm"):  # in place: same files
        damage(home / "data" / name)

    answer = ask(assistant, "How is Acme Industrial doing?")

    # Before: every answer failed with a traceback in the log, and health stayed 200.
    assert (answer.ok, answer.text) == (False, MEMORY_DAMAGED)
    check = check_thread_store(home / "data")
    assert not check.ok and "damaged" in check.detail


def test_a_damaged_guidance_index_is_rebuilt_at_start(home, make_assistant):
    damage(home / "data" / "chroma" / "chroma.sqlite3")
    assert not check_index(home / "data" / "chroma").ok

    answer = ask(make_assistant(home_settings(home)), "How should I prepare a QBR?")

    assert answer.ok and answer.citations
    assert list((home / "data").glob("chroma.damaged-*"))
    assert check_index(home / "data" / "chroma").ok


def test_a_read_only_database_still_answers_and_says_so_for_what_needs_a_write(
        home, make_assistant):
    # As root in a container, chmod does not stop writes: SQLite is asked to open the
    # file read-only, which fails the same way ("attempt to write a readonly database").
    url = f"sqlite:///file:{home / 'kam.db'}?mode=ro&uri=true"
    settings = home_settings(home).model_copy(update={"database_url": url})
    assistant = make_assistant(settings)

    read = ask(assistant, "How is Acme Industrial doing?")
    write = ask(assistant, "Draft an account plan for Acme Industrial")

    assert read.ok and "Acme Industrial" in read.text
    assert (write.ok, write.text) == (False, DATABASE_READ_ONLY)
    check = check_database(make_engine(url))
    assert not check.ok and "readonly database" in check.detail


def test_a_database_deleted_while_running_turns_readiness_red_and_answers_say_so(
        home, make_assistant):
    settings = home_settings(home)
    engine = make_engine(settings.db_url, create=False)
    identity = database_identity(settings.db_url)
    assistant = make_assistant(settings, create=False)
    assert check_database(engine, identity=identity).ok

    (home / "kam.db").unlink()
    assistant.sessions.kw["bind"].dispose()  # the next question needs a new connection

    check = check_database(engine, identity=identity)
    assert not check.ok and "is gone" in check.detail and "kam db init" in check.detail
    answer = ask(assistant, "How is Acme Industrial doing?")
    assert (answer.ok, answer.text) == (False, DATABASE_DOWN)
    assert not (home / "kam.db").exists()  # never recreated empty


def test_readyz_is_red_with_the_reason_while_health_stays_green(home, settings_for_slack,
                                                               make_assistant):
    settings = settings_for_slack(home)
    url = f"sqlite:///file:{home / 'kam.db'}?mode=ro&uri=true"
    engine = make_engine(url)
    assistant = make_assistant(home_settings(home))
    app = build_slack_app(settings, assistant, assistant.sessions)
    ready = Readiness([lambda: check_database(engine),
                       lambda: check_thread_store(home / "data")])
    server = SlackHttpServer(app, "127.0.0.1", 0, ready=ready,
                             signing_secret=SIGNING_SECRET).start()
    try:
        probe = SlackSender(server.url)
        health, readiness = probe.request("GET", "/healthz"), probe.request("GET", "/readyz")
    finally:
        server.shutdown()
        shutdown_slack_app(app)

    assert health.status == 200
    assert readiness.status == 503
    checks = json.loads(readiness.body)["checks"]
    assert not checks["database"]["ok"] and "readonly" in checks["database"]["detail"]
    assert checks["thread store"]["ok"]


def test_a_server_database_is_never_created_on_connect(tmp_path):
    missing = tmp_path / "gone.db"

    try:
        make_engine(f"sqlite:///{missing}", create=False)
    except Exception as error:
        assert "does not exist" in str(error)
    assert not missing.exists()

