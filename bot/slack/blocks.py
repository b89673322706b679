"""Block Kit rendering of answers, notices, App Home and digests, with mrkdwn escaping.

Everything that reaches Slack from the model or the data goes through `escape`
(or `mrkdwn`, which escapes first): `&`, `<` and `>` become entities, so no
`<!channel>`, `<@U…>` or `<url|label>` written by the model or stored in a note
can ping anyone or disguise a link, and the words `@channel`, `@here` and
`@everyone` get an invisible joiner so they stay plain text. Text objects are
sent with `verbatim: true` so Slack does not auto-link names inside them either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from bot.assistant import Answer

# Slack's limits (docs.slack.dev/reference/block-kit): section text 3000, header 150,
# 50 blocks per message, 10 fields per section (2000 each), 10 context elements.
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
FIELD_LIMIT = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
CONTEXT_LIMIT = 10
# Slack accepts more, but long messages are truncated in clients; start a new one instead.
MESSAGE_TEXT_BUDGET = 12000
FALLBACK_LIMIT = 300
BUTTON_VALUE_LIMIT = 2000

FEEDBACK_BLOCK = "feedback"
FEEDBACK_HELPFUL = "feedback_helpful"
FEEDBACK_NOT_HELPFUL = "feedback_not_helpful"
OPEN_SUMMARY = "open_summary"

WORD_JOINER = "\u2060"
BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
# "- **Revenue:** 1.2M" or "- Gross margin: 1.2M" (a short label of words, no digits).
FIELD_LINE = re.compile(
    r"^\s*[-*+•]\s+(?:\*\*(?P<bold>[^*\n]{1,60}?):?\*\*:?"
    r"|(?P<label>[A-Za-z][A-Za-z ()/&%-]{0,38}?):)\s+(?P<value>\S.*)$"
)
BOLD_LINE = re.compile(r"^\s*\*\*(?P<text>[^*\n]+)\*\*\s*$")
# The as-of line answers end with; Slack shows it in the footer instead.
AS_OF_LINE = re.compile(r"^\s*_?Numbers as of (?P<date>\d{4}-\d{2}-\d{2})\._?\s*(\([^)]*\))?\s*$")
BULLET = re.compile(r"^(\s*)[-*+]\s+")
BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
LINK = re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]+)\)")
BOLD_MARK = "\x00"


def escape(text: str) -> str:
    """Text as Slack should show it, never as markup: escape `& < >`, defuse @channel words."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return BROADCAST.sub(lambda m: "@" + WORD_JOINER + m.group(1), text)


def inline_mrkdwn(text: str) -> str:
    """One line of markdown as escaped mrkdwn: bold, italics, strike-through, links as text."""
    text = escape(text)
    # A link keeps its label and shows its address, but is never a disguised `<url|label>`.
    text = LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = BOLD.sub(lambda m: f"{BOLD_MARK}{m.group(2)}{BOLD_MARK}", text)
    text = ITALIC.sub(r"_\1_", text)
    text = STRIKE.sub(r"~\1~", text)
    return text.replace(BOLD_MARK, "*")


def plain(text: str) -> str:
    """Markdown reduced to plain words (for headers and notification text), escaped."""
    text = LINK.sub(r"\1", text)
    text = re.sub(r"(\*\*|__|~~|`)", "", text)
    text = HEADING.sub(r"\2", text)
    return escape(" ".join(text.split()))


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


# ---------------------------------------------------------------- markdown -> blocks


@dataclass
class _Flow:
    """Collects mrkdwn pieces into section blocks no longer than Slack allows."""

    blocks: list[dict] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)

    def add(self, piece: str) -> None:
        self.pieces.append(piece)

    def flush(self) -> None:
        text = "\n".join(self.pieces).strip("\n")
        self.pieces = []
        for chunk in _chunks(text, SECTION_LIMIT):
            if chunk.strip():
                self.blocks.append(section(chunk))

    def add_block(self, block: dict) -> None:
        self.flush()
        self.blocks.append(block)


def _chunks(text: str, limit: int) -> Iterable[str]:
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


def _table(rows: list[str]) -> str:
    """A markdown table as an aligned monospace block (mrkdwn has no tables)."""
    cells = [
        [plain(cell.strip()) for cell in row.strip().strip("|").split("|")]
        for row in rows
        if not TABLE_RULE.match(row)
    ]
    width = max(len(r) for r in cells)
    cells = [r + [""] * (width - len(r)) for r in cells]
    sizes = [max(len(r[i]) for r in cells) for i in range(width)]
    lines = ["  ".join(c.ljust(sizes[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    return "```\n" + "\n".join(lines) + "\n```"


def markdown_blocks(markdown: str, *, title: str | None = None) -> list[dict]:
    """Render markdown as Block Kit: a header, mrkdwn sections, KPI fields, monospace tables.

    A leading `# Heading` or all-bold line (or `title`) becomes the header block; a run of
    two or more `- **Label:** value` (or `- Short label: value`) bullets becomes fields.
    """
    lines = markdown.strip("\n").split("\n")
    flow = _Flow()
    first = lines[0] if lines else ""
    if title:
        flow.add_block(header(title))
    elif (match := HEADING.match(first)) and len(match.group(1)) == 1:
        flow.add_block(header(match.group(2)))
        lines = lines[1:]
    elif (match := BOLD_LINE.match(first)) and len(match["text"]) <= HEADER_LIMIT:
        flow.add_block(header(match["text"]))
        lines = lines[1:]
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```")),
                       len(lines))
            body = "\n".join(escape(x) for x in lines[i + 1 : end])
            flow.add(f"```\n{body}\n```")
            i = end + 1
        elif TABLE_ROW.match(line):
            end = i
            while end < len(lines) and TABLE_ROW.match(lines[end]):
                end += 1
            flow.add(_table(lines[i:end]))
            i = end
        elif FIELD_LINE.match(line) and i + 1 < len(lines) and FIELD_LINE.match(lines[i + 1]):
            end = i
            while end < len(lines) and FIELD_LINE.match(lines[end]):
                end += 1
            for block in fields_blocks(
                (m["bold"] or m["label"], m["value"])
                for m in filter(None, map(FIELD_LINE.match, lines[i:end]))
            ):
                flow.add_block(block)
            i = end
        elif match := HEADING.match(line):
            flow.add(f"*{inline_mrkdwn(match.group(2))}*")
            i += 1
        else:
            flow.add(BULLET.sub(lambda m: m.group(1) + "• ", inline_mrkdwn(line), count=1))
            i += 1
    flow.flush()
    return flow.blocks


# ---------------------------------------------------------------- block builders


def text_object(mrkdwn_text: str) -> dict:
    return {"type": "mrkdwn", "text": mrkdwn_text, "verbatim": True}


def section(mrkdwn_text: str) -> dict:
    return {"type": "section", "text": text_object(mrkdwn_text)}


def header(text: str) -> dict:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(plain(text), HEADER_LIMIT), "emoji": True},
    }


def context(*mrkdwn_texts: str) -> dict:
    elements = [text_object(truncate(t, SECTION_LIMIT)) for t in mrkdwn_texts if t]
    return {"type": "context", "elements": elements[:CONTEXT_LIMIT]}


def fields_blocks(pairs: Iterable[tuple[str, str]]) -> list[dict]:
    """KPI label/value pairs (markdown) as sections of at most ten fields."""
    fields = [
        text_object(truncate(f"*{plain(label)}*\n{inline_mrkdwn(value)}", FIELD_LIMIT))
        for label, value in pairs
    ]
    return [
        {"type": "section", "fields": fields[i : i + MAX_FIELDS]}
        for i in range(0, len(fields), MAX_FIELDS)
    ]


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict:
    element = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(plain(text), 75), "emoji": True},
        "action_id": action_id,
        "value": value[:BUTTON_VALUE_LIMIT],
    }
    if style:
        element["style"] = style
    return element


# ---------------------------------------------------------------- messages


@dataclass(frozen=True)
class FeedbackRef:
    """Which question and answer a feedback vote is about (Slack `channel:ts` style ids)."""

    question_id: str
    answer_id: str

    def encode(self) -> str:
        return json.dumps({"q": self.question_id[:120], "a": self.answer_id[:120]})

    @classmethod
    def decode(cls, value: str) -> FeedbackRef:
        data = json.loads(value)
        return cls(question_id=str(data["q"]), answer_id=str(data["a"]))


@dataclass
class SlackMessage:
    """The `text` and `blocks` of one message, ready for chat.postMessage or chat.update."""

    text: str
    blocks: list[dict]

    def as_kwargs(self) -> dict:
        return {"text": self.text, "blocks": self.blocks}


def notice(text: str) -> SlackMessage:
    """A short one-section message (placeholder, apology, refusal), escaped."""
    escaped = escape(text)
    return SlackMessage(
        truncate(escaped, FALLBACK_LIMIT), [section(truncate(escaped, SECTION_LIMIT))]
    )


def feedback_block(ref: FeedbackRef) -> dict:
    value = ref.encode()
    return {
        "type": "actions",
        "block_id": FEEDBACK_BLOCK,
        "elements": [
            button(":thumbsup: Helpful", FEEDBACK_HELPFUL, value),
            button(":thumbsdown: Not helpful", FEEDBACK_NOT_HELPFUL, value),
        ],
    }


def answer_footer(answer: Answer, feedback: FeedbackRef | None) -> list[dict]:
    """Sources, the as-of line and the feedback buttons that close an answer."""
    blocks: list[dict] = []
    if answer.citations:
        cited = [f"[{escape(c)}]" for c in answer.citations]
        # Ten context elements at most: pack the citations into as few as fit.
        blocks.append(context(*_packed([":books: *Sources:*", *cited], CONTEXT_LIMIT)))
    facts = []
    if answer.as_of:
        facts.append(f":calendar: Numbers as of {answer.as_of.isoformat()}")
    if answer.model:
        facts.append(f"model: {escape(answer.model)}")
    if facts:
        blocks.append(context(" · ".join(facts)))
    if feedback is not None:
        blocks.append(feedback_block(feedback))
    return blocks


def _packed(items: Sequence[str], slots: int) -> list[str]:
    packed: list[str] = []
    for item in items:
        if len(packed) < slots:
            packed.append(item)
        else:
            packed[-1] = truncate(f"{packed[-1]} {item}", SECTION_LIMIT)
    return packed


def render_answer(
    answer: Answer, *, title: str | None = None, feedback: FeedbackRef | None = None
) -> list[SlackMessage]:
    """An answer as one or more messages within Slack's limits; the footer closes the last.

    A failed answer (`ok=False`) is one short notice: no sources, no buttons.
    """
    if not answer.ok:
        return [notice(answer.text)]
    text, as_of = _without_as_of_line(answer.text)
    if as_of and not answer.as_of:
        answer = replace(answer, as_of=as_of)
    blocks = markdown_blocks(text or "_(no answer)_", title=title)
    footer = answer_footer(answer, feedback)
    messages = split_messages(blocks, footer)
    headline = plain(title or next((ln for ln in answer.text.splitlines() if ln.strip()), ""))
    for index, message in enumerate(messages):
        message.text = truncate(headline, FALLBACK_LIMIT) if index == 0 else "(continued)"
    return messages


def _without_as_of_line(text: str) -> tuple[str, date | None]:
    kept, as_of = [], None
    for line in text.split("\n"):
        if match := AS_OF_LINE.match(line):
            as_of = date.fromisoformat(match["date"])
        else:
            kept.append(line)
    return "\n".join(kept).strip("\n"), as_of


def split_messages(blocks: list[dict], footer: list[dict]) -> list[SlackMessage]:
    """Pack blocks into messages of at most 50 blocks and a bounded amount of text."""
    messages: list[list[dict]] = [[]]
    size = 0
    for block in blocks:
        weight = len(json.dumps(block))
        if messages[-1] and (
            len(messages[-1]) >= MAX_BLOCKS - len(footer) or size + weight > MESSAGE_TEXT_BUDGET
        ):
            messages.append([])
            size = 0
        messages[-1].append(block)
        size += weight
    messages[-1].extend(footer)
    return [SlackMessage("", message) for message in messages]
