"""The guidance index: chunks of the corpus in a persistent Chroma collection, searched by
meaning with local embeddings."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from knowledge.embeddings import Embedder, TextEmbedder

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
from knowledge.ingest import (
    Chunk,
    IngestError,
    chunk_document,
    find_guidance_files,
    load_document,
)

log = logging.getLogger(__name__)

COLLECTION_NAME = "kam-guidance"
SHIPPED_CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
MAX_K = 20
_EMBED_BATCH = 64
_WRITE_BATCH = 1000

ProgressFn = Callable[[int, int], None]


class IndexSettings(Protocol):
    """The part of `bot.config.Settings` the index needs (knowledge/ does not import bot/)."""

    @property
    def chroma_dir(self) -> Path: ...
    @property
    def user_corpus_dir(self) -> Path: ...

    kam_chroma_url: str | None  # a Chroma server instead of the embedded store


# A citation in an answer as `Hit.citation` writes it, "[Title › Section]"; group 1 is the text
# inside the brackets. (A "[Title]" citation, of a document without sections, does not match.)
CITATION = re.compile(r"\[([^\[\]]+ › [^\[\]]+)\]")


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with what is needed to cite it."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    score: float
    sources: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()

    @property
    def citation(self) -> str:
        """How answers cite the chunk: [Title › Section]."""
        return f"[{self.title} › {self.section}]" if self.section else f"[{self.title}]"


@dataclass(frozen=True)
class DocSummary:
    """One indexed document."""

    doc_id: str
    title: str
    chunks: int
    source: str
    path: str
    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


@dataclass
class IndexReport:
    """What a sync changed."""

    docs_added: int = 0
    docs_updated: int = 0
    docs_removed: int = 0
    docs_unchanged: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_unchanged: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    # Only when adding (`mirror=False`): documents the index holds in another version or
    # that are not in the files, left as they are.
    docs_kept: list[str] = field(default_factory=list)


def default_sources(settings: IndexSettings) -> list[Path]:
    """The shipped corpus plus the user's own guidance directory."""
    return [SHIPPED_CORPUS_DIR, Path(settings.user_corpus_dir)]


def build_guidance_index(
    settings: IndexSettings,
    embedder: TextEmbedder | None = None,
    collection_name: str = COLLECTION_NAME,
) -> GuidanceIndex:
    """Build the index from settings (the model is loaded here unless one is passed in).
    Call `sync(default_sources(settings))` to bring it up to date; it is cheap when nothing
    changed."""
    if embedder is None:
        embedder = Embedder.from_settings(settings)
    store = settings.kam_chroma_url or Path(settings.chroma_dir)
    return GuidanceIndex(store, embedder, collection_name=collection_name)


class GuidanceIndex:
    """Guidance chunks in Chroma. Embeddings are always computed here, never by Chroma."""

    def __init__(
        self,
        store: Path | str,
        embedder: TextEmbedder,
        *,
        collection_name: str = COLLECTION_NAME,
    ) -> None:
        """`store`: a directory (Chroma embedded in this process) or the URL of a Chroma
        server, `http(s)://host:port` (`chroma run`; shared by every replica)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        self.embedder = embedder
        self.chroma_dir = None if isinstance(store, str) else Path(store)  # None: a server
        self._client: ClientAPI
        if isinstance(store, str):
            url = urlsplit(store)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError(f"{store!r} is not a Chroma server URL (http://host:port)")
            self._client = chromadb.HttpClient(
                host=url.hostname, port=url.port or (443 if url.scheme == "https" else 80),
                ssl=url.scheme == "https", settings=chroma_settings)
        else:
            Path(store).mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(store), settings=chroma_settings)
        # embedding_function=None: Chroma's default embedder downloads an ONNX model at run time.
        self._collection = self._client.get_or_create_collection(
            collection_name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
        )
        self._meta_cache: tuple[int, list[dict[str, Any]]] | None = None
        self._topics: tuple[list[dict[str, Any]], list[str]] | None = None
        self._lock = threading.Lock()

    # --- writing ---------------------------------------------------------------------

    def sync(
        self, sources: Iterable[Path], progress: ProgressFn | None = None, *, mirror: bool = True
    ) -> IndexReport:
        """Make the index mirror the guidance files under `sources`, re-embedding only
        chunks whose content changed. Raises IngestError (nothing written) on a bad file.

        `mirror=False` only adds the documents the index does not hold at all, and changes
        or removes nothing: what a replica does at start with a shared Chroma server, where
        a replica with older or fewer files must not undo another's (`docs_kept` names the
        documents that differ; `kam knowledge index` mirrors).
        """
        started = time.perf_counter()
        report = IndexReport()
        wanted = self._read_chunks(find_guidance_files(sources), report)
        stored = self._stored_doc_ids()

        new = [c for c in wanted.values() if c.chunk_id not in stored]
        gone = [cid for cid in stored if cid not in wanted]
        if not mirror:
            held = set(stored.values())
            report.docs_kept = sorted({c.doc_id for c in new if c.doc_id in held}
                                      | {stored[cid] for cid in gone})
            new = [c for c in new if c.doc_id not in held]
            kept = set(report.docs_kept)
            wanted = {cid: c for cid, c in wanted.items() if c.doc_id not in kept}
            stored = {cid: doc for cid, doc in stored.items() if doc not in kept}
            gone = []
        self._tally(report, wanted, stored, new, gone)

        # Add before deleting: if embedding fails half-way, the old chunks still answer
        # and the next sync picks up where this one stopped (ids are content hashes).
        self._add(new, progress)
        for start in range(0, len(gone), _WRITE_BATCH):
            self._collection.delete(ids=gone[start : start + _WRITE_BATCH])
        with self._lock:
            self._meta_cache = None
        report.seconds = time.perf_counter() - started
        return report

    def _read_chunks(self, files: Sequence[Path], report: IndexReport) -> dict[str, Chunk]:
        chunks: dict[str, Chunk] = {}
        owners: dict[str, Path] = {}
        for path in files:
            doc = load_document(path)
            if doc.doc_id in owners:
                raise IngestError(
                    f"{path.name}: document id '{doc.doc_id}' is also used by "
                    f"{owners[doc.doc_id]}; rename one of the files"
                )
            owners[doc.doc_id] = path
            doc_chunks = chunk_document(doc)
            if not doc_chunks:
                message = f"{path.name}: no text found, nothing indexed"
                log.warning(message)
                report.warnings.append(message)
            chunks.update((c.chunk_id, c) for c in doc_chunks)
        return chunks

    def _stored_doc_ids(self) -> dict[str, str]:
        """chunk id -> doc id of everything in the collection."""
        got = self._collection.get(include=["metadatas"])
        metas = got["metadatas"] or [{}] * len(got["ids"])
        return {
            cid: str((m or {}).get("doc_id", "")) for cid, m in zip(got["ids"], metas, strict=True)
        }

    @staticmethod
    def _tally(
        report: IndexReport,
        wanted: dict[str, Chunk],
        stored: dict[str, str],
        new: list[Chunk],
        gone: list[str],
    ) -> None:
        wanted_docs = {c.doc_id for c in wanted.values()}
        stored_docs = set(stored.values())
        changed_docs = {c.doc_id for c in new} | {stored[cid] for cid in gone}
        report.docs_added = len(wanted_docs - stored_docs)
        report.docs_removed = len(stored_docs - wanted_docs)
        report.docs_updated = len((changed_docs & wanted_docs) & stored_docs)
        report.docs_unchanged = len(wanted_docs & stored_docs) - report.docs_updated
        report.chunks_added = len(new)
        report.chunks_removed = len(gone)
        report.chunks_unchanged = len(wanted) - len(new)

    def _add(self, chunks: Sequence[Chunk], progress: ProgressFn | None) -> None:
        total = len(chunks)
        if progress:
            progress(0, total)
        for start in range(0, total, _EMBED_BATCH):
            batch = chunks[start : start + _EMBED_BATCH]
            # Chroma annotates these as invariant `List`s of its widest element types, so mypy
            # rejects our list[list[float]] and str-list metadata, which Chroma accepts at run time.
            self._collection.add(
                ids=[c.chunk_id for c in batch],
                embeddings=self.embedder.embed([c.embedding_text for c in batch]),  # type: ignore[arg-type]
                documents=[c.text for c in batch],
                metadatas=[c.metadata() for c in batch],  # type: ignore[misc]
            )
            if progress:
                progress(start + len(batch), total)

    # --- reading ---------------------------------------------------------------------

    def count(self) -> int:
        """Number of chunks in the index."""
        return self._collection.count()

    def documents(self) -> list[DocSummary]:
        """The indexed documents, by doc id."""
        counts: dict[str, int] = defaultdict(int)
        first: dict[str, dict[str, Any]] = {}
        for meta in self._metadatas():
            counts[meta["doc_id"]] += 1
            first.setdefault(meta["doc_id"], meta)
        return [
            DocSummary(
                doc_id=doc_id,
                title=str(meta.get("title", doc_id)),
                chunks=counts[doc_id],
                source=str(meta.get("source", "")),
                path=str(meta.get("path", "")),
                topics=tuple(meta.get("topics") or ()),
                sources=tuple(meta.get("sources") or ()),
            )
            for doc_id, meta in sorted(first.items())
        ]

    def topics(self) -> list[str]:
        """Every topic used in the index."""
        metadatas = self._metadatas()
        with self._lock:
            if self._topics is None or self._topics[0] is not metadatas:
                found = sorted({t for m in metadatas for t in m.get("topics") or ()})
                self._topics = (metadatas, found)
            return self._topics[1]

    def search(self, query: str, k: int = 4, topic: str | None = None) -> list[Hit]:
        """The `k` chunks closest in meaning to `query`, optionally only from documents with
        a topic containing `topic` (case-insensitive). `Hit.score` is the cosine similarity."""
        query = query.strip()
        k = max(1, min(int(k), MAX_K))
        total = self.count()
        if not query or total == 0:
            return []
        topics = self._resolve_topic(topic)
        if topics is not None and not topics:
            return []
        result = self._collection.query(
            query_embeddings=self.embedder.embed([query]),  # type: ignore[arg-type]  # see _add
            n_results=min(k, total),
            where=_topic_where(topics),
            include=["documents", "metadatas", "distances"],
        )
        documents, metadatas, distances = (
            result["documents"], result["metadatas"], result["distances"]
        )
        # Chroma returns every field named in `include`.
        assert documents is not None and metadatas is not None and distances is not None
        rows = zip(result["ids"][0], documents[0], metadatas[0], distances[0], strict=True)
        return [_hit(cid, text, meta or {}, distance) for cid, text, meta, distance in rows]

    def _resolve_topic(self, topic: str | None) -> list[str] | None:
        """None: no filter. Otherwise the stored topics that contain `topic` (maybe none)."""
        if topic is None or not topic.strip():
            return None
        needle = topic.strip().lower()
        return [t for t in self.topics() if needle in t.lower()]

    def _metadatas(self) -> list[dict[str, Any]]:
        # Cached for the document list and topic lookup; the count check notices changes
        # made by another process (`kam knowledge add` while the bot runs).
        count = self.count()
        with self._lock:
            if self._meta_cache is None or self._meta_cache[0] != count:
                got = self._collection.get(include=["metadatas"])
                self._meta_cache = (count, [dict(m or {}) for m in got["metadatas"] or []])
            return self._meta_cache[1]


def _hit(chunk_id: str, text: str, meta: Mapping[str, Any], distance: float) -> Hit:
    return Hit(
        chunk_id=chunk_id,
        doc_id=str(meta.get("doc_id", "")),
        title=str(meta.get("title", "")),
        section=str(meta.get("section", "")),
        text=text,
        # Chroma's cosine space returns the distance 1 - cos; answers show the similarity.
        score=round(1.0 - float(distance), 4),
        sources=tuple(meta.get("sources") or ()),
        topics=tuple(meta.get("topics") or ()),
    )


def _topic_where(topics: list[str] | None) -> dict[str, Any] | None:
    if topics is None:
        return None
    clauses = [{"topics": {"$contains": t}} for t in topics]
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}
