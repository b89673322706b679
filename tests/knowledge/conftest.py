"""Fixtures for the knowledge base: the real embedding model (loaded once), temp Chroma
directories, guidance files written on the fly, and a small PDF built by hand."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

from knowledge.embeddings import Embedder
from knowledge.index import GuidanceIndex


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return self.inner.embed(texts)

    def reset(self) -> None:
        self.texts.clear()


@pytest.fixture
def counting_embedder(embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


@pytest.fixture
def chroma_dir(tmp_path: Path) -> Path:
    return tmp_path / "chroma"


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    path = tmp_path / "corpus"
    path.mkdir()
    return path


@pytest.fixture(params=["embedded", "server"])
def index(request, chroma_dir: Path, counting_embedder: CountingEmbedder) -> GuidanceIndex:
    """An empty index, embedding with the counting wrapper: in a temp dir, or in a
    collection of its own on a Chroma server (KAM_CHROMA_URL)."""
    if request.param == "embedded":
        return GuidanceIndex(chroma_dir, counting_embedder)
    url = request.getfixturevalue("chroma_url")
    return GuidanceIndex(url, counting_embedder, collection_name=f"t{uuid.uuid4().hex}")


WriteDoc = Callable[..., Path]


@pytest.fixture
def write_doc(corpus_dir: Path) -> WriteDoc:
    """Write a markdown guidance file with front matter; returns its path."""

    def write(
        name: str,
        title: str,
        body: str,
        topics: Sequence[str] = ("testing",),
        sources: Sequence[str] = ("Test source, 2026",),
        directory: Path | None = None,
    ) -> Path:
        front = yaml.safe_dump(
            {"title": title, "topics": list(topics), "sources": list(sources)}, sort_keys=False
        )
        path = (directory or corpus_dir) / name
        path.write_text(f"---\n{front}---\n\n{body.strip()}\n", encoding="utf-8")
        return path

    return write


def minimal_pdf(pages: Sequence[Sequence[str]], title: str | None = None) -> bytes:
    """A valid PDF with one text line per string, in the standard Helvetica font."""
    font_obj = 3 + 2 * len(pages)
    info_obj = font_obj + 1
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>",
    ]
    for i, lines in enumerate(pages):
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font_obj} 0 R >> >> /Contents {4 + 2 * i} 0 R >>"
        )
        escaped = (s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for s in lines)
        stream = "\n".join(
            ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"] + [f"({s}) Tj T*" for s in escaped] + ["ET"]
        )
        objects.append(
            f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream"
        )
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({title}) >>" if title else "<< >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_obj} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


@pytest.fixture
def make_pdf() -> Callable[..., bytes]:
    return minimal_pdf
