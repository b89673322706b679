"""Soak: `kam serve` for 5 minutes under faults, answering every event exactly once.

Starts the mock Slack Web API and a scripted OpenAI-compatible model (each in a process
of its own) and `kam serve` on the demo data with KAM_LLM=openai and the offline model as
fallback. Then, over `--duration` seconds, sends `--events` signed app_mention events (50
channels, at most `--concurrency` in flight) plus Slack-style retries of some of them,
while:
- the scripted model answers with a tool call and then the text, and injects a fault into
  `--fault-rate` of its replies (500, 429, an HTML page, a hang past the fallback timeout);
- a bulk `kam import` of `--import-rows` order lines runs (from `--import-at` seconds), the
  write lock SQLite gives it held for its whole transaction (PostgreSQL takes row locks);
- the answer worker is killed with SIGKILL halfway through (`--kill-at`).

Reports, from what the mock Slack received: every event answered or apologised for
exactly once, placeholders left behind, duplicates; the acknowledgement latency p99
inside and outside the import window (targets: < 50 ms outside; inside < 3 s on SQLite,
< 50 ms on PostgreSQL: with DATABASE_URL set to a PostgreSQL server the soak runs on a
scratch database there); RSS of the server and
its workers at the start and the end.

    .venv/bin/python benchmarks/soak_bench.py [--events 1000] [--duration 300]

Not part of `make test` (`make bench-soak`).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bench import (  # noqa: E402
    RemoteMock,
    bench_database,
    free_port,
    mention,
    percentile,
    post,
    prepare_database,
    signed_request,
    start_mock,
    wait_up,
)
from slack_bench import start_server as bench_server  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402
from sqlalchemy import select  # noqa: E402

from store.db import make_engine, make_session_factory  # noqa: E402
from store.models import Account, Product  # noqa: E402
from tests.support.replies import replies  # noqa: E402

SECRET = "soak-signing-secret"
CHANNELS = 50
ACK_P99_OUTSIDE_MS = 50.0
ACK_P99_INSIDE_SQLITE_MS = 3000.0
FALLBACK_TIMEOUT_S = 2.0


# ----------------------------------------------------------------- the scripted model


def model_reply(body: dict, rng: random.Random, fault_rate: float):
    """One step of the scripted model: a fault (fault_rate of the time), else a tool call
    for the question, then the answer."""
    from tests.support.mock_openai import Hang, Html, Status

    if rng.random() < fault_rate:
        return rng.choice([
            Status(500), Status(429, {"retry-after": "0"}), Html(),
            Hang(FALLBACK_TIMEOUT_S * 2),
        ])
    messages = body.get("messages", [])
    if messages and messages[-1].get("role") == "tool":
        return {"content": "Here is what I found: " + str(messages[-1].get("content"))[:400]}
    question = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"),
                    "") or ""
    if match := re.search(r"How is (.+?) doing", str(question)):
        return {"tool_calls": [("account_summary", {"account": match.group(1)})]}
    if "risk" in str(question):
        return {"tool_calls": [("at_risk_accounts", {})]}
    if "renewals" in str(question):
        return {"tool_calls": [("renewals_due", {"days": 90})]}
    return {"tool_calls": [("search_guidance", {"query": str(question)[:200]})]}


def serve_model(fault_rate: float, seed: int) -> None:
    """`--serve-model`: run the scripted model until killed; prints its base URL first."""
    from tests.support.mock_openai import MockOpenAI

    rng, lock = random.Random(seed), threading.Lock()

    def respond(body: dict):
        with lock:
            return model_reply(body, rng, fault_rate)

    with MockOpenAI(responder=respond) as server:
        print(server.base_url, flush=True)
        threading.Event().wait()


def start_model(fault_rate: float, seed: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-model", "--fault-rate", str(fault_rate),
         "--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return process, process.stdout.readline().strip()  # type: ignore[union-attr]


# ----------------------------------------------------------------- the server


def start_server(root: Path, url: str, mock: RemoteMock, model_url: str,
                 port: int) -> subprocess.Popen:
    """`kam serve` with the scripted model behind the offline fallback, in its own group."""
    return bench_server(root, url, mock, port, own_group=True, settings={
        "KAM_LLM": "openai",
        "KAM_LLM_FALLBACK": "offline",
        "KAM_LLM_FALLBACK_TIMEOUT_S": str(FALLBACK_TIMEOUT_S),
        "KAM_MODEL": "scripted",
        "OPENAI_API_KEY": "sk-soak",
        "OPENAI_BASE_URL": model_url,
        # The soak's nine people ask ~200 questions a minute: the limit is exercised (a
        # database write per question) without turning questions away.
        "KAM_USER_RATE_PER_MINUTE": "100000",
        "KAM_USER_RATE_BURST": "100",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": "xoxb-soak",
    })


def children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if fields[1] == str(pid) and fields[0] != "Z":
            found.append(int(proc.name))
    return found


def workers(pid: int) -> list[int]:
    return [child for child in children(pid)
            if "spawn_main" in Path(f"/proc/{child}/cmdline").read_text(errors="replace")]


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


# ----------------------------------------------------------------- the import


def write_orders(root: Path, url: str, rows: int) -> Path:
    """`rows` new order lines for the demo accounts, dated within the last year of data."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        accounts = session.scalars(select(Account.account_id)).all()
        products = session.scalars(select(Product.product_id)).all()
    engine.dispose()
    folder = root / "import"
    folder.mkdir()
    rng = random.Random(11)
    with (folder / "orders.csv").open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(["order_id", "account_id", "product_id", "order_date", "quantity",
                      "revenue", "cost"])
        for n in range(rows):
            revenue = rng.randint(100, 50_000)
            out.writerow([f"SOAK-{n:07d}", rng.choice(accounts), rng.choice(products),
                          f"2026-{rng.randint(1, 8):02d}-{rng.randint(1, 28):02d}",
                          rng.randint(1, 50), f"{revenue}.00", f"{revenue * 6 // 10}.00"])
    return folder


def run_import(root: Path, url: str, folder: Path, window: dict) -> None:
    env = {**os.environ, "DATABASE_URL": url,
           "KAM_DATA_DIR": str(root / "data"), "KAM_LOG_LEVEL": "WARNING"}
    kam = Path(sys.executable).parent / "kam"
    window["start"] = time.monotonic()
    result = subprocess.run([str(kam), "import", str(folder)], cwd=root, env=env,
                            capture_output=True, text=True)
    window["end"] = time.monotonic()
    window["ok"] = result.returncode == 0
    window["output"] = (result.stdout + result.stderr).strip().splitlines()[-1:]


# ----------------------------------------------------------------- the load


async def send_paced(port: int, schedule: list[tuple[float, str, dict]], concurrency: int,
                     started: float) -> list[tuple[float, int, float]]:
    """Send each request at its time (seconds after `started`), signed as it goes out (the
    signature carries the time), at most `concurrency` in flight; returns (sent at, status,
    ack ms) per request, in order."""
    verifier = SignatureVerifier(SECRET)
    results: list = [None] * len(schedule)
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, at: float, body: str, headers: dict) -> None:
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        async with gate:
            sent = time.monotonic()
            try:
                status, ms = await post(port, signed_request(verifier, body, headers))
            except OSError:
                status, ms = 0, float("nan")
            results[index] = (sent, status, ms)

    await asyncio.gather(*(one(i, *item) for i, item in enumerate(schedule)))
    return results


def build_schedule(args, questions, rng: random.Random):
    events = []
    for i in range(args.events):
        user, question = questions[i % len(questions)]
        events.append((f"EvS{uuid.uuid4().hex[:10].upper()}", f"1780000000.{i:06d}", user,
                       f"C0SOAK{i % CHANNELS:03d}", question))
    spacing = args.duration / max(1, args.events)
    schedule = [(i * spacing, mention(*event), {}) for i, event in enumerate(events)]
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    for event in rng.sample(events, min(args.retries, len(events))):
        at = events.index(event) * spacing + rng.uniform(0.5, 5)
        schedule.append((at, mention(*event), retry))
    schedule.sort(key=lambda item: item[0])
    return events, schedule


# ----------------------------------------------------------------- the verdict


def verdict(mock: RemoteMock, events: list, show: bool = False) -> dict:
    """Per event thread: how many replies, whether any is still a placeholder (with `show`,
    the threads that are not resolved exactly once are printed)."""
    bot_replies = replies(mock.calls())
    threads: dict[tuple[str, str], list] = {}
    for reply in bot_replies:
        threads.setdefault((reply.channel, reply.thread_ts), []).append(reply)
    counts = Counter()
    for _, ts, _, channel, _ in events:
        own = threads.get((channel, ts), [])
        # A reply: a placeholder or stream (later replaced), or an apology posted on its own;
        # an answer too long for one message continues in further messages of the thread.
        primary = [r for r in own if r.primary] or own[:1]
        if any(r.unfinished for r in own):
            outcome = "placeholder left"
        elif not primary:
            outcome = "unanswered"
        elif len(primary) > 1:
            outcome = "more than one reply"
        else:
            outcome = "apologised once" if primary[0].apology else "answered once"
        counts[outcome] += 1
        if show and outcome not in ("answered once", "apologised once"):
            print(f"  {outcome}: {channel} {ts}: " + " | ".join(
                f"{r.kind} {r.ts} {[h[:40] for h in r.history]}" for r in own))
    return dict(counts)


def report_log(log: list[str]) -> None:
    """How long the server's log grew, and what each traceback in it was about."""
    errors = Counter(line for line in log if re.match(r"^(WARNING|ERROR|CRITICAL) ", line)
                     and "token` will be unused" not in line)
    ends = Counter(log[i] for i in range(1, len(log))
                   if re.match(r"^\w[\w.]*(Error|Exception|Exit)\b", log[i]))
    print(f"server log: {len(log)} lines, {sum('Traceback' in x for x in log)} tracebacks")
    for line, count in (errors + ends).most_common(8):
        print(f"  {count} x {line[:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--retries", type=int, default=50)
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--import-rows", type=int, default=250_000)
    parser.add_argument("--import-at", type=float, default=None, help="default: 20 %% in")
    parser.add_argument("--kill-at", type=float, default=None, help="default: halfway")
    parser.add_argument("--settle", type=float, default=240, help="seconds to wait for answers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serve-model", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_model:
        serve_model(args.fault_rate, args.seed)
        return
    import_at = args.duration * 0.2 if args.import_at is None else args.import_at
    kill_at = args.duration * 0.5 if args.kill_at is None else args.kill_at

    mock_port = free_port()
    mock_process = start_mock(mock_port)
    mock = RemoteMock(mock_port)
    model_process, model_url = start_model(args.fault_rate, args.seed)
    with tempfile.TemporaryDirectory(prefix="kam-soak-") as tmp, \
            bench_database(Path(tmp)) as url:
        root = Path(tmp)
        print(f"database: {url.split('@')[-1]}")
        questions = prepare_database(root, url)
        orders = write_orders(root, url, args.import_rows)
        port = free_port()
        server = start_server(root, url, mock, model_url, port)
        try:
            wait_up(mock_port, "/_calls", mock_process)
            wait_up(port, "/readyz", server)
            ok = soak(args, root, url, port, server, mock, questions, orders, import_at,
                      kill_at)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
            for process in (mock_process, model_process):
                process.terminate()
                process.wait(timeout=30)
            report_log((root / "serve.log").read_text(errors="replace").splitlines())
    sys.exit(0 if ok else 1)


def soak(args, root, url, port, server, mock, questions, orders, import_at, kill_at) -> bool:
    rng = random.Random(args.seed)
    events, schedule = build_schedule(args, questions, rng)
    rss_start = rss_mb([server.pid, *children(server.pid)])
    print(f"kam serve ready: {len(workers(server.pid))} answer worker(s), RSS {rss_start:.0f} MB; "
          f"sending {len(events)} events + {len(schedule) - len(events)} retries over "
          f"{args.duration:.0f} s, {args.concurrency} in flight, model faults "
          f"{args.fault_rate:.0%}")
    window: dict = {}
    started = time.monotonic()
    importer = threading.Timer(import_at, run_import, args=(root, url, orders, window))
    killed: dict = {}

    def kill() -> None:
        for pid in workers(server.pid):
            os.kill(pid, signal.SIGKILL)
            killed.setdefault("pids", []).append(pid)
        killed["at"] = time.monotonic() - started

    killer = threading.Timer(kill_at, kill)
    importer.start()
    killer.start()
    results = asyncio.run(send_paced(port, schedule, args.concurrency, started))
    importer.join()
    killer.join()
    load_s = time.monotonic() - started

    deadline = time.monotonic() + args.settle
    counts = verdict(mock, events)
    while time.monotonic() < deadline:
        if counts.get("answered once", 0) + counts.get("apologised once", 0) == len(events):
            break
        time.sleep(5)
        counts = verdict(mock, events)
    time.sleep(3)  # room for a late duplicate
    counts = verdict(mock, events, show=True)
    rss_end = rss_mb([server.pid, *children(server.pid)])

    inside = [ms for sent, status, ms in results
              if window.get("start", 0) <= sent <= window.get("end", 0)]
    outside = [ms for sent, status, ms in results
               if not window.get("start", 0) <= sent <= window.get("end", 0)]
    statuses = Counter(status for _, status, _ in results)
    p99_in = percentile(inside, 99) if inside else float("nan")
    p99_out = percentile(outside, 99)
    inside_target = ACK_P99_INSIDE_SQLITE_MS if url.startswith("sqlite") else ACK_P99_OUTSIDE_MS
    resolved = counts.get("answered once", 0) + counts.get("apologised once", 0)
    print(f"sent in {load_s:.0f} s; HTTP statuses {dict(statuses)}")
    print(f"import of {args.import_rows:,} order lines: "
          f"{window.get('end', 0) - window.get('start', 0):.1f} s from "
          f"{window.get('start', started) - started:.0f} s "
          f"({'ok' if window.get('ok') else 'FAILED'}: {' '.join(window.get('output', []))})")
    print(f"worker(s) {killed.get('pids')} killed at {killed.get('at', 0):.0f} s")
    print(f"ack p99 outside the import window: {p99_out:.1f} ms over {len(outside)} requests "
          f"(median {statistics.median(outside):.1f} ms; target < {ACK_P99_OUTSIDE_MS:.0f} ms)")
    print(f"ack p99 inside the import window: {p99_in:.1f} ms over {len(inside)} requests "
          f"(target < {inside_target:.0f} ms)")
    print(f"resolved exactly once: {resolved}/{len(events)} {counts}")
    print(f"RSS (server and workers): {rss_start:.0f} MB at the start, {rss_end:.0f} MB at the "
          f"end ({rss_end - rss_start:+.0f} MB; the killed worker's replacement included)")
    ok = (resolved == len(events) and p99_out < ACK_P99_OUTSIDE_MS
          and (not inside or p99_in < inside_target) and statuses.get(200) == len(results))
    print("targets:", "met" if ok else "not met")
    return ok


if __name__ == "__main__":
    main()
