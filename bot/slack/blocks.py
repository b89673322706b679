"""Block Kit messages, built with `slack_sdk.models.blocks`: answers, notices, feedback
buttons, and the builders App Home and the digest share.

Text comes escaped from `bot.slack.formatting` (markdown-it-py underneath). Text objects
are sent with `verbatim: true` so Slack does not auto-link names inside them either.
slack_sdk validates each block against Slack's limits when a message is serialised
(`SlackMessage.as_kwargs`); the builders here cut text to those limits first, so a
long answer becomes more messages rather than an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextActionsBlock,
    ContextBlock,
    DividerBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextObject,
    RawTextObject,
    SectionBlock,
    StaticSelectElement,
    TableBlock,
    TableBlockColumnSettings,
)

from bot.assistant import Answer
from bot.slack.formatting import (
    Fields,
    Rule,
    Table,
    Text,
    Title,
    chunks,
    escape,
    inline_mrkdwn,
    parse,
    plain,
    truncate,
)
from prompts import kpi_label
from tools.explain import Figure

# Slack's limits (docs.slack.dev/reference/block-kit): section text 3000, header 150,
# 50 blocks per message, 10 fields per section (2000 each), 10 context elements,
# tables of 100 rows and 20 columns, one table per message.
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
FIELD_LIMIT = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
CONTEXT_LIMIT = 10
TABLE_ROWS = 100
TABLE_COLUMNS = 20
CELL_LIMIT = 500
# Slack accepts more, but long messages are truncated in clients; start a new one instead.
MESSAGE_TEXT_BUDGET = 12000
FALLBACK_LIMIT = 300
BUTTON_VALUE_LIMIT = 2000

FEEDBACK_BLOCK = "feedback"
FEEDBACK = "feedback"  # the native feedback buttons (one element, the value says which)
# The buttons of answers posted before the native ones; their clicks are still stored.
FEEDBACK_HELPFUL = "feedback_helpful"
FEEDBACK_NOT_HELPFUL = "feedback_not_helpful"
OPEN_SUMMARY = "open_summary"

# The as-of line answers end with; Slack shows it in the footer instead.
AS_OF_LINE = re.compile(r"^\s*_?Numbers as of (?P<date>\d{4}-\d{2}-\d{2})\._?\s*(\([^)]*\))?\s*$")


# ---------------------------------------------------------------- block builders


def text_object(mrkdwn_text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=mrkdwn_text, verbatim=True)


def section(mrkdwn_text: str) -> SectionBlock:
    return SectionBlock(text=text_object(truncate(mrkdwn_text, SECTION_LIMIT)))


def header(text: str) -> HeaderBlock:
    return HeaderBlock(
        text=PlainTextObject(text=truncate(plain(text), HEADER_LIMIT) or "…", emoji=True)
    )


def context(*mrkdwn_texts: str) -> ContextBlock:
    elements = [text_object(truncate(t, SECTION_LIMIT)) for t in mrkdwn_texts if t]
    return ContextBlock(elements=elements[:CONTEXT_LIMIT])


def fields_blocks(pairs: Iterable[tuple[str, str]]) -> list[Block]:
    """KPI label/value pairs (markdown) as sections of at most ten fields."""
    fields = [
        text_object(truncate(f"*{plain(label)}*\n{inline_mrkdwn(value)}", FIELD_LIMIT))
        for label, value in pairs
    ]
    return [SectionBlock(fields=fields[i : i + MAX_FIELDS])
            for i in range(0, len(fields), MAX_FIELDS)]


def table_block(table: Table) -> TableBlock:
    """A markdown table as a native table (cut to 100 rows and 20 columns)."""
    rows = [
        [RawTextObject(text=truncate(cell, CELL_LIMIT) or " ") for cell in row[:TABLE_COLUMNS]]
        for row in table.rows[:TABLE_ROWS]
    ]
    settings = [TableBlockColumnSettings(align=a, is_wrapped=True)
                for a in table.align[:TABLE_COLUMNS]]
    return TableBlock(rows=rows, column_settings=settings)


def button(text: str, action_id: str, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=truncate(plain(text), 75) or "…", emoji=True),
        action_id=action_id,
        value=value[:BUTTON_VALUE_LIMIT],
        style=style,
    )


def actions(elements: Sequence[ButtonElement]) -> ActionsBlock:
    return ActionsBlock(elements=list(elements))


def markdown_blocks(markdown: str, *, title: str | None = None) -> list[Block]:
    """Render markdown as Block Kit: a header, mrkdwn sections, KPI fields, native tables.

    A leading `# Heading` or all-bold line (or `title`) becomes the header block; a run of
    two or more `- **Label:** value` (or `- Short label: value`) bullets becomes fields.
    """
    blocks: list[Block] = [header(title)] if title else []
    pending: list[str] = []

    def flush() -> None:
        text = "\n".join(pending).strip("\n")
        pending.clear()
        blocks.extend(section(chunk) for chunk in chunks(text, SECTION_LIMIT) if chunk.strip())

    for part in parse(markdown, title=not title):
        if isinstance(part, Text):
            pending.append(("\n" if part.gap and pending else "") + part.mrkdwn)
            continue
        flush()
        if isinstance(part, Title):
            blocks.append(header(part.text))
        elif isinstance(part, Fields):
            blocks.extend(fields_blocks(part.pairs))
        elif isinstance(part, Table):
            blocks.append(table_block(part))
        elif isinstance(part, Rule):
            blocks.append(DividerBlock())
    flush()
    return blocks


# ---------------------------------------------------------------- messages


@dataclass(frozen=True)
class FeedbackRef:
    """Which question and answer a feedback vote is about (Slack `channel:ts` style ids)."""

    question_id: str
    answer_id: str

    def encode(self, helpful: bool | None = None) -> str:
        data: dict[str, object] = {"q": self.question_id[:120], "a": self.answer_id[:120]}
        if helpful is not None:
            data["h"] = int(helpful)
        return json.dumps(data)

    @classmethod
    def decode(cls, value: str) -> FeedbackRef:
        data = json.loads(value)
        return cls(question_id=str(data["q"]), answer_id=str(data["a"]))


def vote_of(value: str) -> bool | None:
    """Whether a native feedback button's value is the helpful one (None if it says not)."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    return bool(data["h"]) if isinstance(data, dict) and "h" in data else None


@dataclass
class SlackMessage:
    """The `text` and `blocks` of one message, ready for chat.postMessage or chat.update."""

    text: str
    blocks: list[Block]

    def payload(self) -> list[dict]:
        """The blocks as JSON objects, validated by slack_sdk against Slack's limits."""
        return [block.to_dict() for block in self.blocks]

    def as_kwargs(self) -> dict:
        return {"text": self.text, "blocks": self.payload()}


def notice(text: str) -> SlackMessage:
    """A short one-section message (placeholder, apology, refusal), escaped."""
    escaped = escape(text)
    return SlackMessage(
        truncate(escaped, FALLBACK_LIMIT), [section(truncate(escaped, SECTION_LIMIT))]
    )


def feedback_block(ref: FeedbackRef) -> ContextActionsBlock:
    """Slack's native thumbs up / down, each carrying the question and answer ids."""
    return ContextActionsBlock(
        block_id=FEEDBACK_BLOCK,
        elements=[FeedbackButtonsElement(
            action_id=FEEDBACK,
            positive_button=FeedbackButtonObject(
                text="Helpful", accessibility_label="This answer was helpful",
                value=ref.encode(helpful=True)),
            negative_button=FeedbackButtonObject(
                text="Not helpful", accessibility_label="This answer was not helpful",
                value=ref.encode(helpful=False)),
        )],
    )


@dataclass(frozen=True)
class ChoiceRef:
    """Who may pick one of an answer's numbered choices: the asker (Slack user id), whose
    assistant thread the pick is answered in."""

    asker: str
    thread: str


CHOICE = "kam_choice_"  # the action id of choice N is CHOICE + N
CHOICE_BLOCK = "choices"
MAX_CHOICES = 5
BUTTON_LIMIT = 75


def choices_block(choices: Sequence[str], ref: ChoiceRef) -> ActionsBlock:
    """The numbered choices of a question back as buttons; one pressed answers as "N"."""
    return ActionsBlock(block_id=CHOICE_BLOCK, elements=[
        ButtonElement(
            text=truncate(f"{n}. {plain(label)}", BUTTON_LIMIT), action_id=f"{CHOICE}{n}",
            value=json.dumps({"n": n, "l": label[:200], "u": ref.asker, "t": ref.thread[:500]}))
        for n, label in enumerate(choices[:MAX_CHOICES], start=1)
    ])


def decode_choice(value: str) -> tuple[int, str, ChoiceRef]:
    """The number, label and reference a choice button carries."""
    data = json.loads(value)
    return int(data["n"]), str(data["l"]), ChoiceRef(asker=str(data["u"]), thread=str(data["t"]))


EXPLAIN = "kam_explain"
EXPLAIN_BLOCK = "explain"
OPTION_VALUE_LIMIT = 150  # Slack's limit for an option's value (a button takes 2,000)
MAX_OVERFLOW = 5  # options of an overflow menu; more go in a menu that scrolls
MAX_SELECT = 100


def encode_figure(figure: Figure) -> str:
    """What an Explain action carries: the KPI, the account id and the as-of date. Nothing
    else: the explanation is computed again, under the scope of whoever presses."""
    return json.dumps({"k": figure.kpi, "a": figure.account_id, "d": figure.as_of.isoformat()},
                      separators=(",", ":"))


def decode_figure(value: str) -> Figure:
    data = json.loads(value)
    return Figure(str(data["k"]), str(data["a"]), "", date.fromisoformat(data["d"]))


def explain_block(figures: Sequence[Figure]) -> Block | None:
    """"Explain" under an answer's figures: a button for one, a menu for several (an overflow
    menu for up to five); each shows its math privately to whoever picks it."""
    figures = [f for f in figures if len(encode_figure(f)) <= OPTION_VALUE_LIMIT][:MAX_SELECT]
    if not figures:
        return None
    one_account = len({f.account_id for f in figures}) == 1

    def label(figure: Figure) -> str:
        name = kpi_label(figure.kpi)
        return name if one_account else f"{name} – {figure.account_name or figure.account_id}"

    if len(figures) == 1:
        return ActionsBlock(block_id=EXPLAIN_BLOCK, elements=[ButtonElement(
            text=truncate(f"Explain: {label(figures[0])}", BUTTON_LIMIT), action_id=EXPLAIN,
            value=encode_figure(figures[0]))])
    options = [Option(text=truncate(label(f), BUTTON_LIMIT), value=encode_figure(f))
               for f in figures]
    menu = (OverflowMenuElement(action_id=EXPLAIN, options=options)
            if len(options) <= MAX_OVERFLOW else StaticSelectElement(
                action_id=EXPLAIN, placeholder="Explain a figure", options=options))
    text = ":abacus: How was a figure computed? Pick it to see the math (only you will see it)."
    return SectionBlock(block_id=EXPLAIN_BLOCK, text=text_object(text), accessory=menu)


def answer_footer(
    answer: Answer, feedback: FeedbackRef | None, *, as_of: bool = True,
    choice: ChoiceRef | None = None,
) -> list[Block]:
    """The choice buttons (with `choice`: who may press them), the Explain action of the
    answer's figures, sources, the as-of line and the feedback buttons that close it."""
    blocks: list[Block] = []
    if answer.choices and choice is not None:
        blocks.append(choices_block(answer.choices, choice))
    if answer.ok and (explain := explain_block(answer.figures)) is not None:
        blocks.append(explain)
    if answer.citations:
        cited = [f"[{escape(c)}]" for c in answer.citations]
        # Ten context elements at most: pack the citations into as few as fit.
        blocks.append(context(*_packed([":books: *Sources:*", *cited], CONTEXT_LIMIT)))
    facts = []
    if answer.as_of and as_of:
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
    answer: Answer, *, title: str | None = None, feedback: FeedbackRef | None = None,
    note: str | None = None, choice: ChoiceRef | None = None,
) -> list[SlackMessage]:
    """An answer as one or more messages within Slack's limits; the footer closes the last.

    `note` (what was left out for this audience, and why) opens the footer; `choice` puts
    the answer's numbered choices on buttons the asker may press. A failed answer
    (`ok=False`) is one short notice: no sources, no buttons.
    """
    if not answer.ok:
        return [notice(answer.text)]
    text, as_of = without_as_of_line(answer.text)
    if as_of and not answer.as_of:
        answer = replace(answer, as_of=as_of)
    blocks = markdown_blocks(text or "_(no answer)_", title=title)
    footer = answer_footer(answer, feedback, choice=choice)
    if note:
        footer.insert(0, context(f":lock: {escape(note)}"))
    messages = split_messages(blocks, footer)
    headline = plain(title or next((ln for ln in answer.text.splitlines() if ln.strip()), ""))
    for index, message in enumerate(messages):
        message.text = truncate(headline, FALLBACK_LIMIT) if index == 0 else "(continued)"
    return messages


def without_as_of_line(text: str) -> tuple[str, date | None]:
    """The answer without its closing `Numbers as of …` line, and the date it named."""
    kept, as_of = [], None
    for line in text.split("\n"):
        if match := AS_OF_LINE.match(line):
            as_of = date.fromisoformat(match["date"])
        else:
            kept.append(line)
    return "\n".join(kept).strip("\n"), as_of


def split_messages(blocks: list[Block], footer: list[Block]) -> list[SlackMessage]:
    """Pack blocks into messages of at most 50 blocks, one table and a bounded size."""
    messages: list[list[Block]] = [[]]
    size = 0
    for block in blocks:
        weight = len(json.dumps(block.to_dict()))
        current = messages[-1]
        table_taken = isinstance(block, TableBlock) and any(
            isinstance(b, TableBlock) for b in current)
        if current and (
            len(current) >= MAX_BLOCKS - len(footer)
            or size + weight > MESSAGE_TEXT_BUDGET
            or table_taken
        ):
            messages.append([])
            size = 0
        messages[-1].append(block)
        size += weight
    messages[-1].extend(footer)
    return [SlackMessage("", message) for message in messages]
