"""Writing for the offline model: answers from tool results with the templates in
prompts/answers/, every one marked as the offline model's."""

from __future__ import annotations

import re
from typing import Any

from prompts import Prompts

OFFLINE_MARK = "(offline model)"


def write_answer(
    prompts: Prompts, intent: str, question: str, mention: str | None,
    results: list[tuple[str, Any]],
) -> str:
    """The answer to `question` from the tool results of its intent's calls."""
    by_tool: dict[str, Any] = {}
    for name, payload in results:
        by_tool.setdefault(name, payload)
    errors = [p for _, p in results if isinstance(p, dict) and "error" in p]
    if errors:
        return prompts.render(
            "answers/error.md.j2", error=errors[0], mention=mention, mark=OFFLINE_MARK
        )
    return prompts.render(
        f"answers/{intent}.md.j2",
        r=by_tool,
        results=[payload for _, payload in results],
        question=question,
        mark=OFFLINE_MARK,
    )


def shorten(answer: str, lines: int = 4) -> str:
    """The headline and the first few points of an answer, keeping its citations."""
    kept: list[str] = []
    for line in answer.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("_", OFFLINE_MARK)):
            continue
        kept.append(line)
        if len(kept) >= lines:
            break
    citations = sorted(set(re.findall(r"\[[^\[\]]+ › [^\[\]]+\]", answer)) - set("".join(kept)))
    tail = [f"Sources: {', '.join(citations)}"] if citations else []
    return "\n".join([*kept, *tail, OFFLINE_MARK])
