"""`kam knowledge ...` and `kam eval retrieval` through Typer's CliRunner, on real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from knowledge.index import SHIPPED_CORPUS_DIR

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, shipped_index) -> Path:
    """A data dir whose index already holds the shipped corpus (copied, not re-embedded)."""
    data = tmp_path / "data"
    shutil.copytree(shipped_index.chroma_dir, data / "chroma")
    return data


def kam(data_dir: Path, *args: str):
    env = {"KAM_DATA_DIR": str(data_dir), "KAM_LOG_LEVEL": "WARNING", "COLUMNS": "200"}
    return runner.invoke(app, list(args), env=env)


def shipped_doc_count() -> int:
    return len(list(SHIPPED_CORPUS_DIR.glob("*.md")))


def test_index_reports_what_changed_and_the_time(data_dir):
    result = kam(data_dir, "knowledge", "index")

    assert result.exit_code == 0, result.output
    assert (
        f"Documents: 0 added, 0 updated, 0 removed, {shipped_doc_count()} unchanged."
        in result.output
    )
    assert "Chunks: 0 added, 0 removed," in result.output
    assert "Took " in result.output


def test_add_copies_the_file_into_the_user_corpus_and_indexes_it(data_dir, tmp_path, write_doc):
    playbook = write_doc(
        "our-playbook.md",
        "Our renewal playbook",
        "## Pricing floor\n\nNever go below list minus 12%.",
        directory=tmp_path,
    )

    result = kam(data_dir, "knowledge", "add", str(playbook))

    assert result.exit_code == 0, result.output
    assert (data_dir / "corpus" / "our-playbook.md").is_file()
    assert "Documents: 1 added, 0 updated, 0 removed" in result.output
    listing = kam(data_dir, "knowledge", "list")
    assert "our-playbook" in listing.output and "Our renewal playbook" in listing.output
    found = kam(data_dir, "knowledge", "search", "our renewal playbook pricing floor", "-k", "1")
    assert "Our renewal playbook" in found.output and "Pricing floor" in found.output


def test_add_accepts_text_and_pdf_files(data_dir, tmp_path, make_pdf):
    notes = tmp_path / "call-notes.txt"
    notes.write_text("Call the sponsor every month.")
    handbook = tmp_path / "handbook.pdf"
    handbook.write_bytes(make_pdf([["Escalate critical tickets within one hour."]]))

    result = kam(data_dir, "knowledge", "add", str(notes), str(handbook))

    assert result.exit_code == 0, result.output
    assert "Documents: 2 added" in result.output


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("plan.docx", "x", "plan.docx: unsupported file type; use .md, .txt or .pdf"),
        ("broken.md", "---\ntopics: [x]\n---\ntext\n", "broken.md: front matter needs a 'title'"),
        ("qbr-preparation.md", "# Mine\n\ntext", "a shipped document already has the id"),
    ],
)
def test_add_rejects_bad_files_and_copies_nothing(data_dir, tmp_path, name, content, error):
    path = tmp_path / name
    path.write_text(content)

    result = kam(data_dir, "knowledge", "add", str(path))

    assert result.exit_code == 1
    assert error in " ".join(result.output.split())
    assert not (data_dir / "corpus").exists()


def test_add_of_a_missing_file_is_a_clear_error(data_dir, tmp_path):
    result = kam(data_dir, "knowledge", "add", str(tmp_path / "nope.md"))

    assert result.exit_code == 1
    assert "nope.md: file not found" in result.output


def test_list_shows_every_shipped_document_with_chunks_and_source(data_dir):
    result = kam(data_dir, "knowledge", "list")

    assert result.exit_code == 0, result.output
    assert f"{shipped_doc_count()} guidance documents" in result.output
    assert "qbr-preparation" in result.output
    assert "(+" in result.output, "the source column names the first source and counts the rest"


def test_search_shows_title_section_score_and_snippet(data_dir):
    result = kam(data_dir, "knowledge", "search", "what should a QBR agenda look like", "-k", "2")

    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[1]
    assert all(word in header for word in ("title", "section", "score", "snippet"))
    assert "QBR" in result.output


def test_search_with_a_topic_only_returns_that_topic(data_dir):
    result = kam(data_dir, "knowledge", "search", "how do I prepare", "--topic", "renewals")

    assert result.exit_code == 0, result.output
    assert "Renewals and negotiation" in result.output or "Forecasting" in result.output
    assert "Stakeholder mapping" not in result.output


def test_search_on_an_empty_index_says_how_to_build_it(tmp_path):
    result = kam(tmp_path / "empty", "knowledge", "search", "anything")

    assert result.exit_code == 0
    assert "run `kam knowledge index`" in result.output


def test_eval_retrieval_prints_the_metrics_and_the_misses(data_dir, tmp_path):
    questions = tmp_path / "questions.yaml"
    questions.write_text(
        "- question: How do I prepare a quarterly business review?\n"
        "  expected: [qbr-preparation]\n"
        "- question: How do I prepare a quarterly business review?\n"
        "  expected: [competitor-tracking]\n"
    )

    result = kam(data_dir, "eval", "retrieval", "--questions", str(questions))

    assert result.exit_code == 0, result.output
    assert "questions 2  hit@1 " in result.output and "hit@3 0.500" in result.output
    assert "Misses" in result.output and "competitor-tracking" in result.output


def test_eval_retrieval_with_a_missing_question_file_is_a_clear_error(data_dir, tmp_path):
    result = kam(data_dir, "eval", "retrieval", "--questions", str(tmp_path / "none.yaml"))

    assert result.exit_code == 2
    assert "Question file not found" in result.output


def test_a_missing_embedding_model_is_one_clear_line(data_dir, tmp_path):
    env_dir = str(tmp_path / "no-model")
    result = runner.invoke(
        app,
        ["knowledge", "search", "x"],
        env={"KAM_DATA_DIR": str(data_dir), "KAM_EMBEDDING_MODEL_DIR": env_dir, "COLUMNS": "300"},
    )

    assert result.exit_code == 2
    assert "error: Embedding model files missing in" in result.output
    assert "Traceback" not in result.output


def test_adding_a_file_again_replaces_it_but_a_new_name_with_the_same_id_is_refused(
    data_dir, tmp_path
):
    first = tmp_path / "notes.txt"
    first.write_text("Call the sponsor every month.")
    assert kam(data_dir, "knowledge", "add", str(first)).exit_code == 0
    first.write_text("Call the sponsor every two weeks.")

    again = kam(data_dir, "knowledge", "add", str(first))
    other = tmp_path / "notes.md"
    other.write_text("# Notes\n\nOther notes.")
    clash = kam(data_dir, "knowledge", "add", str(other))

    assert again.exit_code == 0 and "Documents: 0 added, 1 updated" in again.output
    assert clash.exit_code == 1
    assert "notes.md: notes.txt already has the id 'notes'" in clash.output


def test_markup_like_text_in_guidance_is_printed_as_is(data_dir, tmp_path):
    doc = tmp_path / "brackets.md"
    doc.write_text("# Brackets\n\n## [bold]Not markup[/bold]\n\nKeep [red]this[/red] literal.")
    kam(data_dir, "knowledge", "add", str(doc))

    result = kam(data_dir, "knowledge", "search", "keep this literal not markup", "-k", "1")

    assert "[bold]Not markup[/bold]" in result.output
    assert "[red]this[/red]" in result.output
