"""`kam eval ...`: quality evals of the assistant (core questions) and of guidance retrieval."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from bot.cli import common
from bot.cli.ask import load_assistant
from bot.cli.common import console, fail
from bot.cli.knowledge import cells, open_index, sync
from knowledge.eval import DEFAULT_QUESTIONS, EvalError, evaluate, load_questions
from knowledge.index import SHIPPED_CORPUS_DIR

eval_app = typer.Typer(help="Quality evals.", no_args_is_help=True)

# The retrieval eval runs on its own collection holding only the shipped corpus, so user
# documents neither change the figures nor get dropped from the main index.
EVAL_COLLECTION = "kam-guidance-eval"


@eval_app.command("core")
def eval_core_command(
    questions: Path = typer.Option(
        Path("tests/eval/core_questions.yaml"), help="The core question list."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print every answer."),
) -> None:
    """Ask the core question list and print the pass rate of the configured model."""
    from bot.agent.evaluation import run_core_eval

    if not questions.is_file():
        raise fail(f"no question list at {questions}", 2)
    _, assistant = load_assistant()
    report = run_core_eval(assistant, assistant.sessions, questions)
    table = Table("case", "result", "ms", "tools", "problems")
    for result in report.results:
        table.add_row(
            result.id,
            "pass" if result.passed else Text("FAIL", "red"),
            f"{result.ms:.0f}",
            ", ".join(result.tools),
            "; ".join(result.problems),
        )
        if verbose:
            console.print(Markdown(result.answer))
    console.print(table)
    console.print(
        f"model {report.model}: {report.passed}/{len(report.results)} passed "
        f"({report.pass_rate:.0%})"
    )
    if report.passed != len(report.results):
        raise typer.Exit(1)


@eval_app.command("retrieval")
def retrieval_command(
    questions: Annotated[
        Path, typer.Option("--questions", help="YAML list of {question, expected: [doc ids]}.")
    ] = DEFAULT_QUESTIONS,
) -> None:
    """Measure retrieval on the shipped corpus: hit@1, hit@3 and MRR, and list the misses."""
    try:
        items = load_questions(questions)
    except EvalError as exc:
        raise fail(str(exc), 2) from None
    settings = common.settings()
    index = open_index(settings, collection=EVAL_COLLECTION)
    sync(index, [SHIPPED_CORPUS_DIR], console)
    result = evaluate(index, items)
    console.print(
        f"questions {result.count}  hit@1 {result.hit_at_1:.3f}  "
        f"hit@3 {result.hit_at_3:.3f}  MRR {result.mrr:.3f}",
        highlight=False,
    )
    if result.misses:
        table = Table("question", "expected", "top 3 retrieved", title="Misses (not in top 3)")
        for miss in result.misses:
            table.add_row(
                *cells(miss.question, ", ".join(miss.expected), ", ".join(miss.retrieved))
            )
        console.print(table)


HELDOUT = Path("tests/eval/understanding/heldout.yaml")


@eval_app.command("understanding")
def understanding_command(
    questions: Annotated[
        Path, typer.Option("--questions", help="A dev set: YAML cases with intent and calls.")
    ] = HELDOUT,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every miss.")] = False,
    min_intent: Annotated[float, typer.Option(help="Exit 1 below this intent accuracy.")] = 0.0,
    min_request: Annotated[
        float, typer.Option(help="Exit 1 below this whole-request accuracy.")
    ] = 0.0,
) -> None:
    """How well questions are understood: intent, whole request (tools and arguments) and
    the figures, per intent, with a confusion table (default: the held-out dev set)."""
    from bot.agent import understanding

    if not questions.is_file():
        raise fail(f"no dev set at {questions}", 2)
    _, assistant = load_assistant()
    report = understanding.run(assistant, assistant.sessions, questions)
    table = Table("intent", "cases", "intent ok", "request ok", "figures ok",
                  title=f"Understanding: {questions}")
    for intent, cases in report.by_intent().items():
        table.add_row(intent, str(len(cases)), f"{report.rate('intent_ok', cases):.0%}",
                      f"{report.rate('request_ok', cases):.0%}",
                      f"{report.rate('facts_ok', cases):.0%}")
    table.add_row(Text("all", "bold"), str(len(report.results)),
                  f"{report.rate('intent_ok'):.1%}", f"{report.rate('request_ok'):.1%}",
                  f"{report.rate('facts_ok'):.1%}")
    console.print(table)
    confusion = report.confusion()
    if confusion:
        worst = Table("asked", "read as", "cases", title="Confusion (intents read wrongly)")
        for (asked, read), count in confusion.most_common(10):
            worst.add_row(asked, read, str(count))
        console.print(worst)
    if verbose:
        for case in report.results:
            if case.problems:
                console.print(f"{case.id} [{case.intent} -> {case.got_intent}] {case.question}: "
                              + "; ".join(case.problems))
    if report.rate("intent_ok") < min_intent or report.rate("request_ok") < min_request:
        raise typer.Exit(1)


@eval_app.command("redteam")
def redteam_command(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every case.")] = False,
) -> None:
    """Attack the assistant: other people's accounts asked every way, instructions planted
    in every stored text field and in a retrieved guidance file, oversized questions; with
    the offline model and a model that obeys every instruction it reads. Prints the leaks
    and failures (exit 1 if any). Runs on its own copy of the demo data: nothing of yours
    is read or changed."""
    import logging
    import tempfile

    from bot.agent.redteam import (
        ObedientModel,
        plant_injections,
        run_redteam,
        write_guidance_injection,
    )
    from bot.factory import build_assistant, build_services
    from knowledge.embeddings import Embedder
    from store.demo import generate
    from store.importer import import_paths

    with tempfile.TemporaryDirectory(prefix="kam-redteam-") as tmp:
        root = Path(tmp)
        logging.getLogger("bot").setLevel(logging.WARNING)  # refusals are the point here
        settings = common.settings().model_copy(update={
            "database_url": f"sqlite:///{root / 'kam.db'}", "kam_data_dir": root / "data",
            "kam_as_of": None, "kam_llm": "offline",
        })
        with console.status("Preparing the demo data, the planted text and the index…"):
            generate(root / "csv")
            services = build_services(settings)
            import_paths(services.engine, [root / "csv"])
            plant_injections(services.engine)
            write_guidance_injection(settings.user_corpus_dir)
            embedder = Embedder.from_settings(settings)
            assistants = {
                "offline": build_assistant(settings, services, embedder),
                "obedient": build_assistant(settings, services, embedder, model=ObedientModel()),
            }
        report = run_redteam(assistants, services.sessions)
        for assistant in assistants.values():
            assistant.close()
        services.close()
    table = Table("case", "model", "result", "details", title="Red team")
    for result in report.results:
        if result.ok and not verbose:
            continue
        mark = Text("ok", "green") if result.ok else Text(
            "LEAK" if result.leaks else "FAIL", "bold red")
        details = "; ".join([*(f"leaked {leak}" for leak in result.leaks), *result.failures])
        table.add_row(result.case.id, result.model, mark, details)
    if table.row_count:
        console.print(table)
    console.print(f"{len(report.results)} cases ({len(report.results) // 2} per model): "
                  f"{report.leaks} leaks, {report.failures} failures")
    if report.leaks or report.failures:
        raise typer.Exit(1)
