"""Markdown as Slack shows it, with markdown-it-py as the parser.

`parse` reads an answer (CommonMark with tables and strike-through) into parts that
`bot.slack.blocks` lays out as Block Kit: a title, mrkdwn text, KPI fields, tables and
rules. `stream_markdown` prepares the same answer for Slack's streamed markdown.

Everything that reaches Slack from the model or the data is escaped here: `&`, `<`
and `>` become entities, so no `<!channel>`, `<@U…>` or `<url|label>` written by the
model or stored in a note can ping anyone or disguise a link; a link shows its
address next to its label; and the words `@channel`, `@here` and `@everyone` get an
invisible joiner so they stay plain text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

WORD_JOINER = "\u2060"
BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
# "Revenue:" or "Gross margin:" as a bullet's whole label (a short label of words, no digits).
FIELD_LABEL = re.compile(
    r"^(?:\*\*(?P<bold>[^*\n]{1,60}?):?\*\*:?|(?P<label>[A-Za-z][A-Za-z ()/&%-]{0,38}?):)"
    r"\s+(?P<value>\S.*)$"
)
# For streamed markdown only, where there is no token stream to rewrite: `[label](url)`.
LINK = re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]+)\)")
NUMBER = re.compile(r"^[-+\u2212]?[\d.,\u00a0\u202f ]+\s?(%|pts|/100)?$")
HEADER_LIMIT = 150

_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def escape(text: str) -> str:
    """Text as Slack should show it, never as markup: escape `& < >`, defuse @channel words."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return BROADCAST.sub(lambda m: "@" + WORD_JOINER + m.group(1), text)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters at a word boundary, with an ellipsis, never mid-entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + "…"


# ---------------------------------------------------------------- inline markdown


def render_inline(children: Sequence[Token] | None) -> str:
    """Inline tokens as escaped mrkdwn: bold, italics, strike-through, code, links as text."""
    out: list[str] = []
    links: list[str] = []
    for token in children or ():
        kind = token.type
        if kind == "text":
            out.append(escape(token.content))
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind in ("strong_open", "strong_close"):
            out.append("*")
        elif kind in ("em_open", "em_close"):
            out.append("_")
        elif kind in ("s_open", "s_close"):
            out.append("~")
        elif kind == "code_inline":
            out.append(f"`{escape(token.content)}`")
        elif kind == "link_open":
            href = str(token.attrs.get("href", ""))
            # An autolink shows its address once; a labelled link shows both, never `<url|label>`.
            links.append("" if token.markup == "autolink" else f" ({escape(href)})")
        elif kind == "link_close":
            out.append(links.pop() if links else "")
        elif kind == "image":
            out.append(escape(token.content or str(token.attrs.get("alt", ""))))
        else:
            out.append(escape(token.content))
    return "".join(out)


def _words(children: Sequence[Token] | None) -> str:
    return "".join(
        " " if t.type in ("softbreak", "hardbreak") else t.content
        for t in children or ()
        if t.type in ("text", "code_inline", "softbreak", "hardbreak", "image")
    )


def inline_mrkdwn(text: str) -> str:
    """One line of markdown as escaped mrkdwn (list markers and `#` are kept as text)."""
    return render_inline(_PARSER.parseInline(text)[0].children)


def plain(text: str) -> str:
    """Markdown reduced to plain words (for headers and notification text), escaped."""
    words = [_words(t.children) for t in _PARSER.parse(text) if t.type == "inline"]
    return escape(" ".join(" ".join(words).split()))


def stream_markdown(text: str) -> str:
    """An answer as markdown for Slack's streams: escaped, links shown as `label (address)`.

    Works line by line, so a caller may send an answer in whole lines as they come.
    """
    return LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", escape(text))


# ---------------------------------------------------------------- block-level parts


@dataclass(frozen=True)
class Title:
    """The answer's headline, plain words (a header block)."""

    text: str


@dataclass(frozen=True)
class Text:
    """mrkdwn text: paragraphs, lists, quotes, code. `gap` is a blank line before it."""

    mrkdwn: str
    gap: bool = False


@dataclass(frozen=True)
class Fields:
    """KPI label/value pairs from a run of `- Label: value` bullets (mrkdwn values)."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    """A markdown table: rows of plain, escaped cells; the first row is the header."""

    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """A thematic break (a divider block)."""


Part = Title | Text | Fields | Table | Rule


def parse(markdown: str, *, title: bool = True) -> list[Part]:
    """Markdown as parts; with `title`, a leading `# Heading` or all-bold line is the Title."""
    tokens = _PARSER.parse(markdown)
    parts: list[Part] = []
    last_line = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        end = _close(tokens, i)
        gap = bool(last_line is not None and token.map and token.map[0] > last_line)
        if token.map:
            last_line = token.map[1]
        parts.extend(_block(tokens, i, end, gap=gap, first=title and not parts))
        i = end + 1
    return parts


def _close(tokens: Sequence[Token], start: int) -> int:
    """The index of the token closing the block opened at `start` (itself if it is one)."""
    if tokens[start].nesting != 1:
        return start
    depth = 0
    for index in range(start, len(tokens)):
        depth += tokens[index].nesting
        if depth == 0:
            return index
    return len(tokens) - 1


def _block(tokens: Sequence[Token], start: int, end: int, *, gap: bool, first: bool) -> list[Part]:
    token = tokens[start]
    kind = token.type
    if kind == "heading_open":
        inline = tokens[start + 1]
        if first and token.tag == "h1":
            return [Title(_words(inline.children))]
        return [Text(f"*{render_inline(inline.children)}*", gap)]
    if kind == "paragraph_open":
        inline = tokens[start + 1]
        if first and _all_bold(inline.children):
            return [Title(_words(inline.children))]
        return [Text(render_inline(inline.children), gap)]
    if kind in ("bullet_list_open", "ordered_list_open"):
        return _list_parts(tokens, start, end, gap)
    if kind == "table_open":
        return [_table(tokens[start:end + 1])]
    if kind in ("fence", "code_block"):
        body = escape(token.content.rstrip("\n"))
        return [Text(f"```\n{body}\n```", gap)]
    if kind == "blockquote_open":
        inner = _lines(tokens, start + 1, end)
        return [Text("\n".join(f"&gt; {line}" for line in inner), gap)]
    if kind == "hr":
        return [Rule()]
    return [Text(escape(token.content), gap)] if token.content.strip() else []


def _all_bold(children: Sequence[Token] | None) -> bool:
    kinds = [t.type for t in children or () if not (t.type == "text" and not t.content.strip())]
    text = _words(children)
    return (
        len(kinds) == 3
        and kinds[0] == "strong_open"
        and kinds[-1] == "strong_close"
        and 0 < len(text) <= HEADER_LIMIT
    )


def _items(tokens: Sequence[Token], start: int, end: int) -> list[tuple[int, int]]:
    """(open, close) indices of the list items directly inside the list at `start`."""
    items, i = [], start + 1
    while i < end:
        close = _close(tokens, i)
        if tokens[i].type == "list_item_open":
            items.append((i, close))
        i = close + 1
    return items


def _field(tokens: Sequence[Token], item: tuple[int, int]) -> tuple[str, str] | None:
    """A list item that is one short `Label: value` paragraph, as (label, value markdown)."""
    start, end = item
    inner = tokens[start + 1 : end]
    if len(inner) != 3 or inner[0].type != "paragraph_open":
        return None
    match = FIELD_LABEL.match(inner[1].content)
    if match is None or "\n" in inner[1].content:
        return None
    return match["bold"] or match["label"], match["value"]


def _list_parts(tokens: Sequence[Token], start: int, end: int, gap: bool) -> list[Part]:
    """A top-level list: runs of two or more `Label: value` bullets become Fields."""
    items = _items(tokens, start, end)
    fields = [_field(tokens, item) if tokens[start].type == "bullet_list_open" else None
              for item in items]
    parts: list[Part] = []
    run: list[tuple[str, str]] = []
    lines: list[str] = []

    def flush_lines() -> None:
        if lines:
            parts.append(Text("\n".join(lines), gap and not parts))
            lines.clear()

    for index, (item, pair) in enumerate(zip(items, fields, strict=True)):
        neighbour = (index > 0 and fields[index - 1]) or (
            index + 1 < len(items) and fields[index + 1])
        if pair is not None and neighbour:
            flush_lines()
            run.append(pair)
            continue
        if run:
            parts.append(Fields(tuple(run)))
            run = []
        lines.extend(_item_lines(tokens, item, _marker(tokens[start], index), 0))
    if run:
        parts.append(Fields(tuple(run)))
    flush_lines()
    return parts


def _marker(list_open: Token, index: int) -> str:
    if list_open.type == "ordered_list_open":
        first = int(list_open.attrs.get("start", 1) or 1)
        return f"{first + index}. "
    return "• "


def _item_lines(tokens: Sequence[Token], item: tuple[int, int], marker: str,
                depth: int) -> list[str]:
    start, end = item
    body = _lines(tokens, start + 1, end, depth + 1)
    indent = "    " * depth
    if not body:
        return [indent + marker.rstrip()]
    return [indent + marker + body[0], *body[1:]]


def _lines(tokens: Sequence[Token], start: int, end: int, depth: int = 0) -> list[str]:
    """The mrkdwn lines of the blocks between `start` and `end` (inside a list or quote)."""
    lines: list[str] = []
    i = start
    while i < end:
        token = tokens[i]
        close = _close(tokens, i)
        if token.type == "paragraph_open":
            lines.extend(render_inline(tokens[i + 1].children).split("\n"))
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            for index, item in enumerate(_items(tokens, i, close)):
                lines.extend(_item_lines(tokens, item, _marker(token, index), depth))
        elif token.type in ("fence", "code_block"):
            lines.extend(["```", *escape(token.content.rstrip("\n")).split("\n"), "```"])
        elif token.type == "heading_open":
            lines.append(f"*{render_inline(tokens[i + 1].children)}*")
        elif token.type == "table_open":
            table = _table(tokens[i:close + 1])
            lines.extend(" | ".join(row) for row in table.rows)
        elif token.type == "blockquote_open":
            lines.extend(f"&gt; {line}" for line in _lines(tokens, i + 1, close, depth))
        i = close + 1
    return lines


def _table(tokens: Sequence[Token]) -> Table:
    rows: list[list[str]] = []
    align: list[str] = []
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
        elif token.type in ("th_open", "td_open"):
            style = str(token.attrs.get("style", ""))
            if token.type == "th_open":
                align.append(style.removeprefix("text-align:") or "")
        elif token.type == "inline" and rows:
            rows[-1].append(escape(" ".join(_words(token.children).split())))
    width = max((len(r) for r in rows), default=0)
    padded = tuple(tuple(r + [""] * (width - len(r))) for r in rows)
    align += [""] * (width - len(align))
    for column in range(width):
        body = [row[column] for row in padded[1:] if row[column]]
        if not align[column]:
            numeric = bool(body) and all(NUMBER.match(cell) for cell in body)
            align[column] = "right" if numeric else "left"
    return Table(padded, tuple(align))


def chunks(text: str, limit: int) -> Iterable[str]:
    """Split mrkdwn at line breaks (or spaces) into pieces of at most `limit` characters.

    A code fence open at a cut is closed there and reopened in the next piece.
    """
    current: list[str] = []
    size = 0
    in_code = False
    for line in _short_lines(text, limit - 8):
        if size + len(line) + 1 > limit - 4 and current:
            yield "\n".join(current) + ("\n```" if in_code else "")
            current, size = (["```"], 4) if in_code else ([], 0)
        current.append(line)
        size += len(line) + 1
        if line.startswith("```"):
            in_code = not in_code
    if current:
        yield "\n".join(current)


def _short_lines(text: str, limit: int) -> Iterable[str]:
    for line in text.split("\n"):
        while len(line) > limit:
            head = truncate(line, limit + 1)[:-1]
            yield head
            line = line[len(head) :].lstrip(" ")
        yield line
