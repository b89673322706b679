"""Helpers shared by the drafting tests: a guidance search that records its queries, and
sections of a markdown draft."""

from __future__ import annotations

from knowledge.index import GuidanceIndex, Hit


class RecordingGuidance:
    """The real index, remembering every passage it returned to a draft."""

    def __init__(self, index: GuidanceIndex) -> None:
        self.index = index
        self.hits: list[Hit] = []
        self.queries: list[tuple[str, int, str | None]] = []

    def search(self, query: str, k: int = 4, topic: str | None = None) -> list[Hit]:
        self.queries.append((query, k, topic))
        hits = self.index.search(query, k=k, topic=topic)
        self.hits.extend(hits)
        return hits

    @property
    def citations(self) -> set[str]:
        return {hit.citation for hit in self.hits}


def section(markdown: str, heading: str) -> str:
    """The text under `## heading`, up to the next `## ` heading."""
    start = markdown.index(f"\n## {heading}\n") + len(heading) + 5
    end = markdown.find("\n## ", start)
    return markdown[start:] if end == -1 else markdown[start:end]
