"""`kam knowledge ...` and `kam eval ...`: the guidance knowledge base from the command line."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from bot.config import Settings
from knowledge.embeddings import EmbeddingModelError
from knowledge.eval import DEFAULT_QUESTIONS, EvalError, evaluate, load_questions
from knowledge.index import (
    COLLECTION_NAME,
    SHIPPED_CORPUS_DIR,
    GuidanceIndex,
    IndexReport,
    build_guidance_index,
    default_sources,
)
from knowledge.ingest import SUPPORTED_SUFFIXES, IngestError, load_document

knowledge_app = typer.Typer(
    help="Guidance documents: index, add, list and search.", no_args_is_help=True
)
eval_app = typer.Typer(help="Quality evals.", no_args_is_help=True)

# The eval runs on its own collection holding only the shipped corpus, so user documents
# neither change the figures nor get dropped from the main index.
EVAL_COLLECTION = "kam-guidance-eval"
SNIPPET_CHARS = 160


def _settings() -> Settings:
    # bot.cli imports this module to register the sub-apps, so import it at call time.
    from bot.cli import get_settings

    return get_settings()


def _fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _open_index(settings: Settings, collection: str = COLLECTION_NAME) -> GuidanceIndex:
    try:
        return build_guidance_index(settings, collection_name=collection)
    except EmbeddingModelError as exc:
        raise _fail(str(exc), 2) from None


def _sync(index: GuidanceIndex, sources: list[Path], console: Console) -> IndexReport:
    """Sync with a progress bar for the chunks being embedded."""
    columns = (TextColumn("embedding"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("embedding", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = index.sync(sources, progress=advance)
        except IngestError as exc:
            raise _fail(str(exc)) from None
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    return report


def _cells(*values: str) -> list[Text]:
    # Text, not str: guidance and file names may contain [brackets] that rich reads as markup.
    return [Text(v) for v in values]


def _print_report(report: IndexReport, console: Console) -> None:
    console.print(
        f"Documents: {report.docs_added} added, {report.docs_updated} updated, "
        f"{report.docs_removed} removed, {report.docs_unchanged} unchanged.\n"
        f"Chunks: {report.chunks_added} added, {report.chunks_removed} removed, "
        f"{report.chunks_unchanged} unchanged. Took {report.seconds:.1f} s.",
        highlight=False,
    )


@knowledge_app.command("index")
def index_command() -> None:
    """Index the shipped guidance and your own documents (only changed chunks are embedded)."""
    settings = _settings()
    console = Console()
    index = _open_index(settings)
    _print_report(_sync(index, default_sources(settings), console), console)


@knowledge_app.command("add")
def add_command(
    files: Annotated[list[Path], typer.Argument(help="Guidance files: .md, .txt or .pdf.")],
) -> None:
    """Copy guidance files into your corpus directory and index them."""
    settings = _settings()
    console = Console()
    target = settings.user_corpus_dir
    shipped = {p.stem for p in SHIPPED_CORPUS_DIR.glob("*")}
    # Re-adding a file of the same name replaces it; another name with the same id clashes.
    yours = {p.stem: p.name for p in target.glob("*")} if target.is_dir() else {}
    for path in files:
        if not path.is_file():
            raise _fail(f"{path}: file not found")
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise _fail(f"{path.name}: unsupported file type; use .md, .txt or .pdf")
        clash = "a shipped document" if path.stem in shipped else yours.get(path.stem, path.name)
        if clash != path.name:
            raise _fail(f"{path.name}: {clash} already has the id '{path.stem}'; rename the file")
        yours[path.stem] = path.name
        try:
            load_document(path)  # reject a broken file before anything is copied
        except IngestError as exc:
            raise _fail(str(exc)) from None
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy2(path, target / path.name)
        console.print(Text(f"Added {path.name} to {target}"))
    index = _open_index(settings)
    _print_report(_sync(index, default_sources(settings), console), console)


@knowledge_app.command("list")
def list_command() -> None:
    """List the indexed guidance documents."""
    settings = _settings()
    console = Console()
    docs = _open_index(settings).documents()
    if not docs:
        console.print("No guidance indexed yet: run `kam knowledge index`.")
        return
    table = Table(title=f"{len(docs)} guidance documents")
    table.add_column("id", overflow="fold")
    table.add_column("title")
    table.add_column("chunks", justify="right")
    table.add_column("source")
    for doc in docs:
        table.add_row(*_cells(doc.doc_id, doc.title, str(doc.chunks), _short_source(doc.sources)))
    console.print(table)


def _short_source(sources: tuple[str, ...]) -> str:
    """The first source's author, and how many more there are (full list: the file)."""
    if not sources:
        return "-"
    first = sources[0].split(",")[0]
    return first + (f" (+{len(sources) - 1} more)" if len(sources) > 1 else "")


@knowledge_app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=20, help="Number of results.")] = 4,
    topic: Annotated[
        str | None, typer.Option("--topic", help="Only documents with this topic.")
    ] = None,
) -> None:
    """Search the guidance and show the best passages with their sections and scores."""
    settings = _settings()
    console = Console()
    index = _open_index(settings)
    if index.count() == 0:
        console.print("No guidance indexed yet: run `kam knowledge index`.")
        return
    hits = index.search(query, k=k, topic=topic)
    if not hits:
        console.print(Text("No matching guidance" + (f" with topic '{topic}'." if topic else ".")))
        return
    table = Table("title", "section", "score", "snippet")
    for hit in hits:
        snippet = " ".join(hit.text.split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"
        table.add_row(*_cells(hit.title, hit.section, f"{hit.score:.3f}", snippet))
    console.print(table)


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
        raise _fail(str(exc), 2) from None
    settings = _settings()
    console = Console()
    index = _open_index(settings, collection=EVAL_COLLECTION)
    _sync(index, [SHIPPED_CORPUS_DIR], console)
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
                *_cells(miss.question, ", ".join(miss.expected), ", ".join(miss.retrieved))
            )
        console.print(table)
