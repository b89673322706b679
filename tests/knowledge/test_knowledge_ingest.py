"""Parsing guidance files and cutting them into chunks (no model, no vector store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.ingest import (
    INTRO_SECTION,
    FrontMatterError,
    IngestError,
    chunk_document,
    find_guidance_files,
    load_document,
    split_text,
)


def test_markdown_is_chunked_by_heading_with_title_topics_and_sources(write_doc):
    path = write_doc(
        "qbr-basics.md",
        "QBR basics",
        "## Before the meeting\n\nGather the numbers.\n\n## During the meeting\n\nListen more.",
        topics=["QBR", "Meetings"],
        sources=["A book, 2020", "A blog, 2024"],
    )
    doc = load_document(path)
    chunks = chunk_document(doc)

    assert doc.doc_id == "qbr-basics"
    assert doc.title == "QBR basics"
    assert doc.topics == ("qbr", "meetings")
    assert doc.sources == ("A book, 2020", "A blog, 2024")
    assert [(c.section, c.text) for c in chunks] == [
        ("Before the meeting", "Gather the numbers."),
        ("During the meeting", "Listen more."),
    ]
    meta = chunks[0].metadata()
    assert meta["doc_id"] == "qbr-basics"
    assert meta["title"] == "QBR basics"
    assert meta["section"] == "Before the meeting"
    assert meta["source"] == "A book, 2020; A blog, 2024"
    assert meta["topics"] == ["qbr", "meetings"]
    assert meta["path"] == str(path)
    assert meta["content_hash"] == chunks[0].content_hash


def test_sub_headings_cite_their_parent_and_headings_in_code_fences_are_text(write_doc):
    body = (
        "## Risks\n\nIntro to risks.\n\n### Churn\n\nWatch usage.\n\n"
        "```\n# not a heading\n```\n\n## Next steps\n\nAct."
    )
    chunks = chunk_document(load_document(write_doc("risks.md", "Risks guide", body)))

    assert [c.section for c in chunks] == ["Risks", "Risks › Churn", "Next steps"]
    assert "# not a heading" in chunks[1].text


def test_text_before_the_first_heading_is_the_introduction(write_doc):
    lead_in = "Why this matters. " * 15  # long enough to stand alone
    chunks = chunk_document(
        load_document(write_doc("a.md", "A", f"{lead_in}\n\n## Detail\n\nMore."))
    )
    assert [c.section for c in chunks] == [INTRO_SECTION, "Detail"]


def test_a_one_line_lead_in_opens_the_first_section_instead_of_standing_alone(write_doc):
    body = "A renewal is decided months before the end date.\n\n## Timeline\n\nStart at 120 days."
    chunks = chunk_document(load_document(write_doc("renew.md", "Renewals", body)))

    assert len(chunks) == 1
    assert chunks[0].section == "Timeline"
    assert chunks[0].text.startswith("A renewal is decided")


def test_markdown_without_front_matter_takes_its_title_from_the_first_heading(corpus_dir):
    path = corpus_dir / "playbook.md"
    path.write_text("# Our renewal playbook\n\nStart early.\n\n## Pricing\n\nHold the line.\n")
    doc = load_document(path)

    assert doc.title == "Our renewal playbook"
    assert [s.heading for s in doc.sections] == [INTRO_SECTION, "Pricing"]
    assert doc.sources == ()


def test_long_sections_are_split_under_the_cap_with_overlap():
    sentences = [
        f"Sentence number {i} says something useful about key accounts." for i in range(60)
    ]
    text = " ".join(sentences)

    pieces = split_text(text, max_chars=300, overlap=80)

    assert len(pieces) > 5
    assert all(len(p) <= 300 for p in pieces)
    for before, after in zip(pieces, pieces[1:], strict=False):
        first_sentence = after.split(". ")[0]
        assert first_sentence in before, "each piece starts with the end of the previous one"
    for sentence in sentences:
        assert any(sentence in p for p in pieces), "no text is lost"


def test_a_single_word_run_longer_than_the_cap_is_still_cut():
    pieces = split_text("x" * 50 + " " + "word " * 200, max_chars=100, overlap=20)
    assert pieces and all(len(p) <= 100 for p in pieces)


def test_long_section_chunks_keep_the_section_name(write_doc):
    body = "## Data to gather\n\n" + "\n\n".join(
        f"Paragraph {i}. " + "Revenue trend. " * 20 for i in range(8)
    )
    chunks = chunk_document(load_document(write_doc("data.md", "Data", body)))

    assert len(chunks) > 1
    assert {c.section for c in chunks} == {"Data to gather"}
    assert len({c.chunk_id for c in chunks}) == len(chunks)


@pytest.mark.parametrize("content", ["", "   \n\n", "---\ntitle: Empty\n---\n\n"])
def test_empty_files_produce_no_chunks(corpus_dir, content):
    path = corpus_dir / "empty.md"
    path.write_text(content)
    assert chunk_document(load_document(path)) == []


def test_plain_text_is_one_untitled_section_cited_by_document_title(corpus_dir):
    path = corpus_dir / "call-notes_2026.txt"
    path.write_text("Call the sponsor every month.\n\nKeep notes short.\n")
    doc = load_document(path)
    chunks = chunk_document(doc)

    assert doc.title == "Call notes 2026"
    assert [c.section for c in chunks] == [""]
    assert "Keep notes short." in chunks[0].text


def test_pdf_text_is_read_page_by_page(corpus_dir, make_pdf):
    path = corpus_dir / "negotiation.pdf"
    path.write_bytes(
        make_pdf(
            [["Know your walk-away point (BATNA)."], ["Trade concessions, never give them."]],
            title="Negotiation handbook",
        )
    )
    doc = load_document(path)

    assert doc.title == "Negotiation handbook"
    assert [s.heading for s in doc.sections] == ["Page 1", "Page 2"]
    assert "walk-away point (BATNA)" in doc.sections[0].text


def test_a_corrupt_pdf_is_a_clear_error(corpus_dir):
    path = corpus_dir / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(IngestError, match=r"^broken\.pdf: cannot read PDF"):
        load_document(path)


@pytest.mark.parametrize(
    ("front_matter", "message"),
    [
        ("topics: [qbr]\nsources: [x]\n", r"bad-doc\.md: front matter needs a 'title'"),
        ("title: ''\n", r"bad-doc\.md: front matter needs a 'title'"),
        ("title: [unclosed\n", r"bad-doc\.md: bad YAML in front matter \(line \d+\)"),
        (
            "title: Ok\nsources: just one string\n",
            r"bad-doc\.md: front matter 'sources' must be a list",
        ),
        ("title: Ok\ntopics: qbr\n", r"bad-doc\.md: front matter 'topics' must be a list"),
        ("- a list\n- not a mapping\n", r"bad-doc\.md: front matter must be a mapping"),
    ],
)
def test_front_matter_errors_name_the_file_in_one_line(corpus_dir, front_matter, message):
    path = corpus_dir / "bad-doc.md"
    path.write_text(f"---\n{front_matter}---\n\n## Body\n\nText.\n")

    with pytest.raises(FrontMatterError, match=message) as info:
        load_document(path)
    assert "\n" not in str(info.value)


def test_unclosed_front_matter_is_an_error(corpus_dir):
    path = corpus_dir / "open.md"
    path.write_text("---\ntitle: Open\n\n## Body\n")
    with pytest.raises(FrontMatterError, match=r"open\.md: front matter .* never closed"):
        load_document(path)


def test_only_supported_files_are_found(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    for name in ["a.md", "b.txt", "c.pdf", "sub/d.md", "e.docx", ".hidden.md", "_draft.md"]:
        (tmp_path / name).write_text("x")

    found = find_guidance_files([tmp_path, tmp_path / "does-not-exist"])

    assert sorted(p.relative_to(tmp_path).as_posix() for p in found) == [
        "a.md",
        "b.txt",
        "c.pdf",
        "sub/d.md",
    ]


def test_unsupported_file_type_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "plan.docx"
    path.write_text("x")
    with pytest.raises(IngestError, match=r"plan\.docx: unsupported file type \.docx"):
        load_document(path)


def test_text_that_is_not_utf8_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Preis für Schlüsselkunden".encode("latin-1"))
    with pytest.raises(IngestError, match=r"legacy\.txt: not UTF-8 text"):
        load_document(path)
