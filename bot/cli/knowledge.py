"""`kam knowledge ...` and `kam eval ...`: the guidance knowledge base from the command line."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from bot.cli import common
from bot.cli.common import console, fail, warn
from bot.config import Settings
from knowledge.embeddings import EmbeddingModelError
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

SNIPPET_CHARS = 160


def open_index(settings: Settings, collection: str = COLLECTION_NAME) -> GuidanceIndex:
    try:
        return build_guidance_index(settings, collection_name=collection)
    except EmbeddingModelError as exc:
        raise fail(str(exc), 2) from None


def sync(index: GuidanceIndex, sources: list[Path], console: Console) -> IndexReport:
    """Sync with a progress bar for the chunks being embedded."""
    columns = (TextColumn("embedding"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("embedding", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = index.sync(sources, progress=advance)
        except IngestError as exc:
            raise fail(str(exc)) from None
    for warning in report.warnings:
        warn(warning)
    return report


def cells(*values: str) -> list[Text]:
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
    settings = common.settings()
    index = open_index(settings)
    _print_report(sync(index, default_sources(settings), console), console)


@knowledge_app.command("add")
def add_command(
    files: Annotated[list[Path], typer.Argument(help="Guidance files: .md, .txt or .pdf.")],
) -> None:
    """Copy guidance files into your corpus directory and index them."""
    settings = common.settings()
    target = settings.user_corpus_dir
    shipped = {p.stem for p in SHIPPED_CORPUS_DIR.glob("*")}
    # Re-adding a file of the same name replaces it; another name with the same id clashes.
    yours = {p.stem: p.name for p in target.glob("*")} if target.is_dir() else {}
    for path in files:
        if not path.is_file():
            raise fail(f"{path}: file not found")
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise fail(f"{path.name}: unsupported file type; use .md, .txt or .pdf")
        clash = "a shipped document" if path.stem in shipped else yours.get(path.stem, path.name)
        if clash != path.name:
            raise fail(f"{path.name}: {clash} already has the id '{path.stem}'; rename the file")
        yours[path.stem] = path.name
        try:
            load_document(path)  # reject a broken file before anything is copied
        except IngestError as exc:
            raise fail(str(exc)) from None
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy2(path, target / path.name)
        console.print(Text(f"Added {path.name} to {target}"))
    index = open_index(settings)
    _print_report(sync(index, default_sources(settings), console), console)


@knowledge_app.command("list")
def list_command() -> None:
    """List the indexed guidance documents."""
    settings = common.settings()
    docs = open_index(settings).documents()
    if not docs:
        console.print("No guidance indexed yet: run `kam knowledge index`.")
        return
    table = Table(title=f"{len(docs)} guidance documents")
    table.add_column("id", overflow="fold")
    table.add_column("title")
    table.add_column("chunks", justify="right")
    table.add_column("source")
    for doc in docs:
        table.add_row(*cells(doc.doc_id, doc.title, str(doc.chunks), _short_source(doc.sources)))
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
    settings = common.settings()
    index = open_index(settings)
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
        table.add_row(*cells(hit.title, hit.section, f"{hit.score:.3f}", snippet))
    console.print(table)
