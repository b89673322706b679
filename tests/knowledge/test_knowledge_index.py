"""The guidance index on a real Chroma store in a temp dir, with the real embedding model."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from bot.health import check_index
from knowledge.embeddings import Embedder, EmbeddingModelError
from knowledge.index import GuidanceIndex, build_guidance_index, default_sources
from knowledge.ingest import FrontMatterError, IngestError
from tests.support.servers import free_port

RENEWALS = """
## Renewal timeline

Start 120 days before the contract end date. Confirm the notice period and open the
renewal opportunity in the CRM.

## Negotiation

Know your walk-away point before you meet procurement. Trade concessions, never give them.
"""

STAKEHOLDERS = """
## Buying roles

Map the decision maker, the economic buyer, influencers, users, the champion and blockers.

## Multi-threading

Never depend on one contact: build relationships with several people in each department.
"""

QBR = """
## Agenda

Open with the customer's goals, review results against their KPIs, agree actions and owners.
"""


@pytest.fixture
def three_docs(write_doc):
    return [
        write_doc("renewals.md", "Renewals", RENEWALS, topics=["renewals", "negotiation"]),
        write_doc("stakeholders.md", "Stakeholder mapping", STAKEHOLDERS, topics=["stakeholders"]),
        write_doc("qbr.md", "QBR agenda", QBR, topics=["qbr"]),
    ]


def test_first_sync_embeds_every_chunk_and_reports_it(
    index, corpus_dir, three_docs, counting_embedder
):
    report = index.sync([corpus_dir])

    assert (report.docs_added, report.docs_updated, report.docs_removed) == (3, 0, 0)
    assert report.chunks_added == 5 == index.count()
    assert len(counting_embedder.texts) == 5
    assert report.seconds > 0


def test_second_sync_of_unchanged_files_embeds_nothing(
    index, corpus_dir, three_docs, counting_embedder
):
    index.sync([corpus_dir])
    counting_embedder.reset()

    report = index.sync([corpus_dir])

    assert counting_embedder.texts == []
    assert (report.docs_unchanged, report.chunks_unchanged, report.chunks_added) == (3, 5, 0)


def test_editing_one_section_re_embeds_only_that_chunk(
    index, corpus_dir, three_docs, write_doc, counting_embedder
):
    index.sync([corpus_dir])
    counting_embedder.reset()
    edited = RENEWALS.replace("Trade concessions, never give them.", "Ask for something back.")
    write_doc("renewals.md", "Renewals", edited, topics=["renewals", "negotiation"])

    report = index.sync([corpus_dir])

    assert len(counting_embedder.texts) == 1
    assert "Ask for something back." in counting_embedder.texts[0]
    assert (report.docs_updated, report.docs_unchanged) == (1, 2)
    assert (report.chunks_added, report.chunks_removed, report.chunks_unchanged) == (1, 1, 4)
    assert index.count() == 5
    texts = [h.text for h in index.search("what to do in the negotiation", k=5)]
    assert not any("never give them" in t for t in texts), "the old chunk is gone"


def test_deleting_a_file_removes_its_chunks(index, corpus_dir, three_docs, counting_embedder):
    index.sync([corpus_dir])
    three_docs[2].unlink()
    counting_embedder.reset()

    report = index.sync([corpus_dir])

    assert report.docs_removed == 1 and report.chunks_removed == 1
    assert counting_embedder.texts == []
    assert [d.doc_id for d in index.documents()] == ["renewals", "stakeholders"]
    assert all(h.doc_id != "qbr" for h in index.search("QBR agenda", k=5))


def test_index_persists_across_instances(chroma_dir, embedder, corpus_dir, three_docs):
    GuidanceIndex(chroma_dir, embedder).sync([corpus_dir])

    reopened = GuidanceIndex(chroma_dir, embedder)

    assert reopened.count() == 5
    assert reopened.search("walk-away point")[0].doc_id == "renewals"


def test_replicas_share_the_index_on_a_chroma_server(chroma_url, counting_embedder, corpus_dir,
                                                     three_docs):
    name = f"t{uuid.uuid4().hex}"
    GuidanceIndex(chroma_url, counting_embedder, collection_name=name).sync([corpus_dir])
    counting_embedder.reset()

    other = GuidanceIndex(chroma_url, counting_embedder, collection_name=name)
    report = other.sync([corpus_dir])  # a second replica starting: nothing to embed again

    assert report.chunks_added == 0 and counting_embedder.texts == []
    assert other.search("walk-away point")[0].doc_id == "renewals"
    check = check_index(Path("unused"), chroma_url, collection=name)
    assert check.ok and "5 chunks" in check.detail


def test_a_chroma_server_without_the_guidance_is_not_ready(chroma_url, counting_embedder):
    name = f"t{uuid.uuid4().hex}"

    missing = check_index(Path("unused"), chroma_url, collection=name)
    GuidanceIndex(chroma_url, counting_embedder, collection_name=name)  # created, still empty
    empty = check_index(Path("unused"), chroma_url, collection=name)

    assert not missing.ok and "no guidance collection" in missing.detail
    assert not empty.ok and "holds no guidance" in empty.detail
    assert all("kam knowledge index" in c.detail for c in (missing, empty))


def test_a_replica_with_other_files_adds_only_what_the_shared_index_lacks(
        chroma_url, counting_embedder, corpus_dir, three_docs, write_doc, tmp_path):
    name = f"t{uuid.uuid4().hex}"
    GuidanceIndex(chroma_url, counting_embedder, collection_name=name).sync([corpus_dir])
    # Another replica: an older renewals.md, no qbr.md, and a document of its own.
    old = tmp_path / "replica-b"
    old.mkdir()
    for doc in three_docs[:2]:
        (old / doc.name).write_text(doc.read_text().replace("Trade concessions", "Give in"))
    write_doc("pricing.md", "Pricing", "## Discounts\n\nNever discount without a trade.\n",
              directory=old)
    counting_embedder.reset()

    replica = GuidanceIndex(chroma_url, counting_embedder, collection_name=name)
    report = replica.sync([old], mirror=False)

    # stakeholders.md is the same text at another path, which a chunk's id includes.
    assert report.docs_kept == ["qbr", "renewals", "stakeholders"]
    assert (report.docs_added, report.docs_removed, report.chunks_removed) == (1, 0, 0)
    assert [d.doc_id for d in replica.documents()] == ["pricing", "qbr", "renewals",
                                                       "stakeholders"]
    texts = [h.text for h in replica.search("negotiation with procurement", k=5)]
    assert not any("Give in" in t for t in texts), "the newer renewals.md stays"

    mirrored = replica.sync([old])  # `kam knowledge index` from replica B's folder

    assert (mirrored.docs_removed, mirrored.docs_updated) == (1, 2)
    assert [d.doc_id for d in replica.documents()] == ["pricing", "renewals", "stakeholders"]


def test_an_unreachable_chroma_server_is_one_line_for_the_operator():
    check = check_index(Path("unused"), f"http://127.0.0.1:{free_port()}")

    assert not check.ok and "does not answer" in check.detail and "KAM_CHROMA_URL" in check.detail


def test_search_results_carry_title_section_citation_and_sources(index, corpus_dir, three_docs):
    index.sync([corpus_dir])

    hits = index.search("how do I avoid relying on a single contact at the customer?", k=2)

    top = hits[0]
    assert top.doc_id == "stakeholders"
    assert top.citation == "[Stakeholder mapping › Multi-threading]"
    assert top.sources == ("Test source, 2026",)
    assert "several people" in top.text
    assert 0 < top.score <= 1
    assert hits[0].score >= hits[1].score


def test_topic_filter_keeps_only_documents_with_that_topic(index, corpus_dir, three_docs):
    index.sync([corpus_dir])

    hits = index.search("who should I talk to?", k=5, topic="Negotiation")

    assert hits and {h.doc_id for h in hits} == {"renewals"}
    assert index.search("who should I talk to?", topic="no-such-topic") == []


def test_documents_lists_each_document_once_with_its_chunk_count(index, corpus_dir, three_docs):
    index.sync([corpus_dir])

    docs = {d.doc_id: d for d in index.documents()}

    assert docs["renewals"].chunks == 2 and docs["qbr"].chunks == 1
    assert docs["renewals"].title == "Renewals"
    assert docs["renewals"].source == "Test source, 2026"
    assert index.topics() == ["negotiation", "qbr", "renewals", "stakeholders"]


def test_empty_files_are_skipped_with_a_warning(index, corpus_dir, three_docs, caplog):
    (corpus_dir / "blank.md").write_text("---\ntitle: Blank\n---\n")
    (corpus_dir / "nothing.txt").write_text("")

    with caplog.at_level(logging.WARNING, logger="knowledge.index"):
        report = index.sync([corpus_dir])

    assert report.docs_added == 3
    assert report.warnings == [
        "blank.md: no text found, nothing indexed",
        "nothing.txt: no text found, nothing indexed",
    ]
    assert "blank.md: no text found" in caplog.text


def test_a_bad_file_stops_the_sync_before_anything_is_written(index, corpus_dir, three_docs):
    (corpus_dir / "broken.md").write_text("---\ntopics: [x]\n---\n\n## A\n\nText.\n")

    with pytest.raises(FrontMatterError, match=r"^broken\.md: front matter needs a 'title'"):
        index.sync([corpus_dir])
    assert index.count() == 0


def test_two_files_with_the_same_id_are_an_error(index, corpus_dir, three_docs, tmp_path):
    other = tmp_path / "user"
    other.mkdir()
    (other / "qbr.txt").write_text("My own QBR notes.")

    with pytest.raises(IngestError, match=r"qbr\.txt: document id 'qbr' is also used by"):
        index.sync([corpus_dir, other])


def test_pdf_guidance_is_indexed_and_cited_by_page(index, corpus_dir, make_pdf):
    (corpus_dir / "negotiation-handbook.pdf").write_bytes(
        make_pdf(
            [
                ["Preparing a renewal negotiation.", "Know your walk-away point before you meet."],
                ["Escalating a service failure.", "Tell the customer what happened within a day."],
            ],
            title="Negotiation handbook",
        )
    )

    report = index.sync([corpus_dir])
    hit = index.search("what is my walk-away point in a negotiation", k=1)[0]

    assert report.chunks_added == 2
    assert hit.citation == "[Negotiation handbook › Page 1]"
    assert "walk-away point" in hit.text


def test_search_on_an_empty_index_or_blank_query_returns_nothing(index):
    assert index.search("anything") == []
    assert index.search("   ") == []


def test_build_guidance_index_uses_the_settings_directories(tmp_path: Path, embedder):
    class FakeSettings:
        chroma_dir = tmp_path / "data" / "chroma"
        user_corpus_dir = tmp_path / "data" / "corpus"
        kam_chroma_url = None

    index = build_guidance_index(FakeSettings(), embedder)

    assert index.chroma_dir == FakeSettings.chroma_dir and FakeSettings.chroma_dir.is_dir()
    assert default_sources(FakeSettings())[1] == FakeSettings.user_corpus_dir


def test_missing_model_files_fail_with_a_clear_message(tmp_path: Path):
    with pytest.raises(
        EmbeddingModelError, match="Embedding model files missing in .*KAM_EMBEDDING_MODEL_DIR"
    ):
        Embedder(tmp_path / "no-model-here")


def test_embeddings_are_normalized_384_dimensional_vectors(embedder):
    vectors = embedder.embed(["quarterly business review", "renewal negotiation"])

    assert len(vectors) == 2 and all(len(v) == 384 for v in vectors)
    assert all(abs(sum(x * x for x in v) - 1.0) < 1e-4 for v in vectors)
