"""Retrieval performance: model load, index build, and query latency.

Prints the embedding model's cold-load time, the full index build of the shipped corpus,
and query latency (p50/p95, warm model) over the shipped corpus and over 10,000
synthetic chunks. Targets: query p50 < 30 ms at 10,000 chunks; shipped corpus indexed
in < 60 s. Embedding 10,000 chunks takes a few minutes on 2 CPU cores; pass
`--data-dir DIR` to keep the synthetic index and reuse it on the next run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.embeddings import Embedder, default_model_dir  # noqa: E402
from knowledge.eval import DEFAULT_QUESTIONS, load_questions  # noqa: E402
from knowledge.index import SHIPPED_CORPUS_DIR, GuidanceIndex  # noqa: E402

QUERY_P50_TARGET_MS = 30.0
BUILD_TARGET_S = 60.0
SECTIONS_PER_DOC = 20

# Vocabulary for synthetic guidance: varied enough that neighbours are not all ties.
SUBJECTS = [
    "The key account manager",
    "The account team",
    "Your executive sponsor",
    "The champion",
    "Procurement",
    "The economic buyer",
    "Customer success",
    "The service desk",
    "Finance",
    "The regional director",
    "Our product specialist",
    "The customer's operations lead",
]
ACTIONS = [
    "reviews",
    "maps",
    "escalates",
    "negotiates",
    "forecasts",
    "documents",
    "prioritises",
    "challenges",
    "tracks",
    "agrees",
    "benchmarks",
    "renews",
    "qualifies",
    "prepares",
]
OBJECTS = [
    "the renewal timeline",
    "share of wallet",
    "the stakeholder map",
    "open critical tickets",
    "the QBR agenda",
    "customer-defined KPIs",
    "the discount request",
    "the churn risk score",
    "the white-space analysis",
    "the account plan",
    "net revenue retention",
    "the pipeline",
    "cost to serve",
    "the NPS detractors",
    "the competitor log",
    "the value delivered",
]
QUALIFIERS = [
    "before the quarter closes",
    "with the customer's steering group",
    "every month",
    "ahead of the budget cycle",
    "when usage drops",
    "after each escalation",
    "using last year's figures",
    "against the agreed targets",
    "with a named owner and date",
    "so nobody is surprised",
    "in the shared workspace",
    "before procurement gets involved",
]
TOPICS = ["renewals", "qbr", "churn", "pricing", "stakeholders", "forecasting", "upsell", "kpis"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def sentence(rng: random.Random) -> str:
    return (
        f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} "
        f"{rng.choice(QUALIFIERS)}, then {rng.choice(ACTIONS)} {rng.choice(OBJECTS)}."
    )


def write_synthetic_corpus(directory: Path, chunks: int, seed: int = 7) -> None:
    """Markdown files of SECTIONS_PER_DOC short sections each: one chunk per section."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(0, chunks, SECTIONS_PER_DOC):
        doc = n // SECTIONS_PER_DOC
        sections = []
        for s in range(min(SECTIONS_PER_DOC, chunks - n)):
            body = " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))
            sections.append(f"## {rng.choice(OBJECTS).capitalize()} {doc}-{s}\n\n{body}\n")
        topics = ", ".join(rng.sample(TOPICS, 2))
        front = (
            f"---\ntitle: Synthetic playbook {doc:04d}\n"
            f"topics: [{topics}]\nsources: [synthetic]\n---\n"
        )
        (directory / f"synthetic-{doc:04d}.md").write_text(front + "\n" + "\n".join(sections))


def progress_printer(label: str):
    last = [-1]

    def report(done: int, total: int) -> None:
        pct = 100 * done // total if total else 100
        if pct // 5 != last[0] // 5 or done == total:
            last[0] = pct
            print(f"  {label}: {done:,}/{total:,} chunks embedded ({pct}%)", flush=True)

    return report


def query_latency(index: GuidanceIndex, queries: list[str], rounds: int, topic: str | None = None):
    index.search(queries[0], topic=topic)  # warm caches
    samples = []
    for i in range(rounds):
        started = time.perf_counter()
        index.search(queries[i % len(queries)], k=4, topic=topic)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), percentile(samples, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chunks", type=int, default=10_000, help="synthetic chunks (default 10,000)"
    )
    parser.add_argument("--rounds", type=int, default=200, help="queries per latency figure")
    parser.add_argument("--data-dir", type=Path, help="keep and reuse the synthetic index here")
    args = parser.parse_args()

    questions = (
        [q.question for q in load_questions(DEFAULT_QUESTIONS)]
        if DEFAULT_QUESTIONS.is_file()
        else []
    )
    queries = questions or [sentence(random.Random(i)) for i in range(50)]
    rows: list[tuple[str, str, str]] = []

    started = time.perf_counter()
    embedder = Embedder(default_model_dir())
    cold = time.perf_counter() - started
    started = time.perf_counter()
    Embedder(default_model_dir())
    rows.append(("model cold load (imports + weights)", f"{cold:.2f} s", ""))
    rows.append(
        ("model load, second time in process", f"{time.perf_counter() - started:.2f} s", "")
    )

    started = time.perf_counter()
    embedder.embed(queries[:1])
    samples = []
    for i in range(args.rounds):
        t = time.perf_counter()
        embedder.embed([queries[i % len(queries)]])
        samples.append((time.perf_counter() - t) * 1000)
    rows.append(
        (
            "query embedding alone p50 / p95",
            f"{statistics.median(samples):.1f} / {percentile(samples, 0.95):.1f} ms",
            "",
        )
    )

    with tempfile.TemporaryDirectory() as tmp:
        print("Indexing the shipped corpus...", flush=True)
        shipped = GuidanceIndex(Path(tmp) / "shipped", embedder)
        report = shipped.sync([SHIPPED_CORPUS_DIR], progress=progress_printer("shipped"))
        ok = "ok" if report.seconds < BUILD_TARGET_S else "MISSED"
        rows.append(
            (
                f"shipped corpus build ({report.docs_added} docs, {report.chunks_added} chunks)",
                f"{report.seconds:.1f} s",
                f"target < {BUILD_TARGET_S:.0f} s: {ok}",
            )
        )
        rows.append(
            (
                "shipped corpus re-sync, nothing changed",
                f"{shipped.sync([SHIPPED_CORPUS_DIR]).seconds * 1000:.0f} ms",
                "",
            )
        )
        p50, p95 = query_latency(shipped, queries, args.rounds)
        rows.append(
            (f"query p50 / p95 at {shipped.count():,} chunks", f"{p50:.1f} / {p95:.1f} ms", "")
        )

        data_dir = args.data_dir or Path(tmp)
        corpus = data_dir / "synthetic-corpus"
        write_synthetic_corpus(corpus, args.chunks)
        synthetic = GuidanceIndex(data_dir / "synthetic-chroma", embedder)
        print(
            f"Indexing {args.chunks:,} synthetic chunks (reused if --data-dir holds them)...",
            flush=True,
        )
        report = synthetic.sync([corpus], progress=progress_printer("synthetic"))
        if report.chunks_added:
            rate = report.chunks_added / report.seconds
            rows.append(
                (
                    f"synthetic build ({report.chunks_added:,} chunks)",
                    f"{report.seconds:.0f} s",
                    f"{rate:.0f} chunks/s",
                )
            )
        p50, p95 = query_latency(synthetic, queries, args.rounds)
        ok = "ok" if p50 < QUERY_P50_TARGET_MS else "MISSED"
        rows.append(
            (
                f"query p50 / p95 at {synthetic.count():,} chunks",
                f"{p50:.1f} / {p95:.1f} ms",
                f"target p50 < {QUERY_P50_TARGET_MS:.0f} ms: {ok}",
            )
        )
        p50, p95 = query_latency(synthetic, queries, args.rounds, topic="renewals")
        rows.append(("  same, with --topic filter", f"{p50:.1f} / {p95:.1f} ms", ""))

    print(f"\nRetrieval benchmark ({os.cpu_count()} CPUs)")
    width = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"  {label:<{width}}  {value:>16}  {note}")


if __name__ == "__main__":
    main()
