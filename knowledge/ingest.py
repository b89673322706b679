"""Reading guidance files (markdown with front matter, plain text, PDF) and chunking them.

Pure functions over dataclasses: nothing here touches the vector store or the model.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SUPPORTED_SUFFIXES = (".md", ".txt", ".pdf")
# Sections longer than this are split. all-MiniLM-L6-v2 reads at most 256 word pieces,
# about 1,000-1,200 characters of English, and silently ignores the rest.
MAX_CHUNK_CHARS = 1000
OVERLAP_CHARS = 200
# Bump when chunking or the embedded text changes, so every chunk is re-embedded once.
CHUNKER_VERSION = "1"
INTRO_SECTION = "Introduction"
# A lead-in shorter than this ("A renewal is decided months before...") is too thin to be
# a useful passage on its own; it is kept as the opening of the first headed section.
MIN_INTRO_CHARS = 200

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class IngestError(ValueError):
    """A guidance file cannot be read; the message names the file and says what to fix."""


class FrontMatterError(IngestError):
    """The YAML front matter of a markdown file is invalid."""


@dataclass(frozen=True)
class Section:
    """A heading and the text under it (heading path joined with ' › ' for sub-sections)."""

    heading: str
    text: str


@dataclass(frozen=True)
class Document:
    """One guidance file, parsed."""

    doc_id: str
    title: str
    path: Path
    sections: tuple[Section, ...]
    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough to embed, with everything needed to cite it."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    path: str
    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    content_hash: str = field(default="", compare=False)

    @property
    def embedding_text(self) -> str:
        """What is embedded: 'Title — Section' on a line, then the text. The heading gives a
        short passage its context ("Start 120 days before" is about renewals)."""
        header = f"{self.title} — {self.section}" if self.section else self.title
        return f"{header}\n{self.text}"

    def metadata(self) -> dict[str, str | list[str]]:
        """Chroma metadata (strings, or non-empty lists of strings)."""
        meta: dict[str, str | list[str]] = {
            "doc_id": self.doc_id,
            "title": self.title,
            "section": self.section,
            "source": "; ".join(self.sources),
            "path": self.path,
            "content_hash": self.content_hash,
        }
        # Chroma rejects empty lists, so list fields are only set when non-empty.
        if self.topics:
            meta["topics"] = list(self.topics)
        if self.sources:
            meta["sources"] = list(self.sources)
        return meta


# --- discovering and parsing files -------------------------------------------------------


def find_guidance_files(sources: Iterable[Path]) -> list[Path]:
    """Supported files under each source directory (or the source itself if it is a file)."""
    found: list[Path] = []
    for source in sources:
        source = Path(source)
        if source.is_file():
            candidates: Iterable[Path] = [source]
        elif source.is_dir():
            candidates = sorted(source.rglob("*"))
        else:
            continue  # a user corpus that does not exist yet holds no documents
        found.extend(
            p
            for p in candidates
            if p.is_file()
            and p.suffix.lower() in SUPPORTED_SUFFIXES
            and not p.name.startswith((".", "_"))
        )
    return found


def load_document(path: Path) -> Document:
    """Parse a .md, .txt or .pdf file into a Document (the doc id is the file stem)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return parse_pdf(path)
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            f"{path.name}: unsupported file type {suffix or '(none)'}; use .md, .txt or .pdf"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise IngestError(f"{path.name}: not UTF-8 text; save it as UTF-8 and retry") from None
    return parse_markdown(text, path) if suffix == ".md" else parse_plain_text(text, path)


def parse_front_matter(text: str, path: Path) -> tuple[dict[str, object] | None, str]:
    """Split '---' YAML front matter from the body; (None, text) when there is none."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, text
    end = next((i for i, line in enumerate(lines) if i and line.strip() in ("---", "...")), 0)
    if not end:
        raise FrontMatterError(f"{path.name}: front matter starts with '---' but is never closed")
    try:
        data = yaml.safe_load("".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise FrontMatterError(f"{path.name}: bad YAML in front matter{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontMatterError(f"{path.name}: front matter must be a mapping of keys to values")
    return data, "".join(lines[end + 1 :])


def _string_list(meta: dict[str, object], key: str, path: Path) -> tuple[str, ...]:
    value = meta.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise FrontMatterError(f"{path.name}: front matter '{key}' must be a list of strings")
    return tuple(str(v).strip() for v in value if str(v).strip())


def parse_markdown(text: str, path: Path) -> Document:
    """Markdown with optional front matter (title, topics, sources); sections by heading."""
    meta, body = parse_front_matter(text, path)
    if meta is None:
        title = _first_heading(body) or _title_from_stem(path)
        return Document(path.stem, title, path, split_markdown_sections(body, title))
    given = meta.get("title")
    if not isinstance(given, str) or not given.strip():
        raise FrontMatterError(f"{path.name}: front matter needs a 'title' (a non-empty string)")
    title = given.strip()
    return Document(
        doc_id=path.stem,
        title=title,
        path=path,
        sections=split_markdown_sections(body, title),
        topics=tuple(t.lower() for t in _string_list(meta, "topics", path)),
        sources=_string_list(meta, "sources", path),
    )


def parse_plain_text(text: str, path: Path) -> Document:
    """Plain text: one untitled section, split by size later."""
    body = text.strip()
    sections = (Section("", body),) if body else ()
    return Document(path.stem, _title_from_stem(path), path, sections)


def parse_pdf(path: Path) -> Document:
    """PDF via pypdf: one section per page that has extractable text."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except (PyPdfError, OSError, ValueError) as exc:
        raise IngestError(f"{path.name}: cannot read PDF: {exc}") from None
    sections = tuple(Section(f"Page {n}", text) for n, text in enumerate(pages, 1) if text)
    title = str(meta_title).strip() or _title_from_stem(path)
    return Document(path.stem, title, path, sections)


def split_markdown_sections(body: str, title: str = "") -> tuple[Section, ...]:
    """Cut markdown at headings (not inside code fences); empty sections are dropped.
    A section is named by its heading and its parent's; a heading that repeats the
    document title is left out, so nothing cites as "[Title › Title]"."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    current: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(current).strip()
        if text:
            path = [h for _, h in stack if h.casefold() != title.casefold()][-2:]
            sections.append(Section(" › ".join(path) or INTRO_SECTION, text))
        current.clear()

    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            level, heading = len(match.group(1)), match.group(2).strip()
            stack = [(lvl, h) for lvl, h in stack if lvl < level] + [(level, heading)]
        else:
            current.append(line)
    flush()
    return tuple(sections)


def _first_heading(body: str) -> str | None:
    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            return match.group(2).strip()
    return None


def _title_from_stem(path: Path) -> str:
    words = re.sub(r"[-_]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


# --- chunking -----------------------------------------------------------------------------


def split_text(
    text: str, max_chars: int = MAX_CHUNK_CHARS, overlap: int = OVERLAP_CHARS
) -> list[str]:
    """Split text into pieces of at most `max_chars`, each starting with up to `overlap`
    characters from the end of the previous one. Cuts at paragraphs, then lines, then
    sentences, then words, keeping the separators."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    pieces: list[str] = []
    window: list[_Unit] = []
    for unit in _units(text, max_chars):
        if window and len(_join([*window, unit])) > max_chars:
            pieces.append(_join(window))
            window = _tail(window, min(overlap, max_chars - len(unit[0]) - len(unit[1])))
        window.append(unit)
    pieces.append(_join(window))
    return pieces


_Unit = tuple[str, str]  # (separator before it, text)
_SPLITTERS = (
    ("\n\n", re.compile(r"\n\s*\n")),
    ("\n", re.compile(r"\n")),
    (" ", _SENTENCE_END),
    (" ", re.compile(r"\s+")),
)


def _units(text: str, max_chars: int, level: int = 0) -> list[_Unit]:
    """Pieces of at most `max_chars`, cut at the coarsest boundary that makes them fit."""
    if len(text) <= max_chars:
        return [("", text)]
    if level == len(_SPLITTERS):  # one "word" longer than the cap: cut it hard
        return [("", text[i : i + max_chars]) for i in range(0, len(text), max_chars)]
    separator, pattern = _SPLITTERS[level]
    units: list[_Unit] = []
    for part in (p.strip() for p in pattern.split(text)):
        if part:
            sub = _units(part, max_chars, level + 1)
            units.append((separator if units else "", sub[0][1]))
            units.extend(sub[1:])
    return units


def _join(units: Sequence[_Unit]) -> str:
    return units[0][1] + "".join(sep + text for sep, text in units[1:])


def _tail(window: list[_Unit], budget: int) -> list[_Unit]:
    """The trailing units (or trailing words of the last unit) that fit in `budget`."""
    if budget <= 0:
        return []
    tail: list[_Unit] = []
    for unit in reversed(window):
        if len(_join([unit, *tail])) > budget:
            break
        tail.insert(0, unit)
    if tail:
        return tail
    cut = window[-1][1][-budget:]
    space = cut.find(" ")
    cut = cut[space + 1 :] if space != -1 else cut
    return [("", cut)] if cut else []


def chunk_document(
    doc: Document, max_chars: int = MAX_CHUNK_CHARS, overlap: int = OVERLAP_CHARS
) -> list[Chunk]:
    """Chunks of a document: one per section, long sections split with overlap.

    The chunk id is the doc id plus a hash of the content, so an unchanged chunk keeps its id
    across re-indexing and is not embedded again."""
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for section in _fold_short_intro(doc.sections):
        for piece in split_text(section.text, max_chars, overlap):
            digest = _content_hash(doc, section.heading, piece)
            n = seen.get(digest, 0)
            seen[digest] = n + 1
            chunk_id = f"{doc.doc_id}:{digest[:16]}" + (f":{n}" if n else "")
            chunks.append(
                Chunk(
                    chunk_id=chunk_id,
                    doc_id=doc.doc_id,
                    title=doc.title,
                    section=section.heading,
                    text=piece,
                    path=str(doc.path),
                    topics=doc.topics,
                    sources=doc.sources,
                    content_hash=digest,
                )
            )
    return chunks


def _fold_short_intro(sections: tuple[Section, ...]) -> tuple[Section, ...]:
    if len(sections) < 2 or sections[0].heading != INTRO_SECTION:
        return sections
    intro, first = sections[0], sections[1]
    if len(intro.text) >= MIN_INTRO_CHARS:
        return sections
    return (Section(first.heading, f"{intro.text}\n\n{first.text}"), *sections[2:])


def _content_hash(doc: Document, section: str, text: str) -> str:
    # Everything stored with the chunk goes into the hash: a changed title, topic, source or
    # path replaces the chunk just like changed text does, so stored metadata is never stale.
    payload = json.dumps(
        [
            CHUNKER_VERSION,
            doc.title,
            section,
            text,
            list(doc.topics),
            list(doc.sources),
            str(doc.path),
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
