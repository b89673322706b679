"""Block Kit rendering: escaping, markdown to mrkdwn (markdown-it-py), native tables and
feedback buttons, and Slack's size limits."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.assistant import Answer
from bot.slack.blocks import (
    FeedbackRef,
    decode_figure,
    escape,
    inline_mrkdwn,
    markdown_blocks,
    notice,
    render_answer,
    truncate,
    vote_of,
)
from bot.slack.commands import parse_command
from bot.slack.listeners import question_text
from tools.explain import Figure


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<!subteam^S1|@kams>", "&lt;!subteam^S1|@kams&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil.example|the deck>", "&lt;https://evil.example|the deck&gt;"),
        ("R&D", "R&amp;D"),
        ("a < b > c", "a &lt; b &gt; c"),
    ],
)
def test_escape_turns_markup_into_text(raw, shown):
    assert escape(raw) == shown


@pytest.mark.parametrize("word", ["@channel", "@here", "@everyone", "@Channel"])
def test_broadcast_words_are_defused(word):
    assert word not in escape(f"ping {word} now")
    assert escape(f"ping {word} now").replace("\u2060", "") == f"ping {word} now"


def test_markdown_becomes_mrkdwn_and_links_show_their_address():
    assert inline_mrkdwn("**Revenue** is *up*, see [the deck](https://x.example/d)") == (
        "*Revenue* is _up_, see the deck (https://x.example/d)"
    )


def dicts(blocks) -> list[dict]:
    return [block.to_dict() for block in blocks]


def test_a_leading_heading_becomes_the_header_and_tables_become_native_tables():
    blocks = dicts(markdown_blocks("# Acme\n| KPI | value |\n|---|---|\n| NRR | 104 % |"))

    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"] == "Acme"
    assert blocks[1]["type"] == "table"
    assert [[c["text"] for c in row] for row in blocks[1]["rows"]] == [
        ["KPI", "value"], ["NRR", "104 %"]]
    assert [c["align"] for c in blocks[1]["column_settings"]] == ["left", "right"]


def test_table_cells_are_escaped_and_a_second_table_starts_a_new_message():
    table = "| Note |\n|---|\n| <!channel> & co |"
    messages = render_answer(Answer(f"{table}\n\ntext\n\n{table}"))

    assert len(messages) == 2
    cell = messages[0].payload()[0]["rows"][1][0]["text"]
    assert cell == "&lt;!channel&gt; &amp; co"


def test_kpi_bullets_become_fields_ten_per_section():
    lines = "\n".join(f"- **KPI {i}:** {i} %" for i in range(12))

    blocks = dicts(markdown_blocks(lines))

    assert [len(b["fields"]) for b in blocks] == [10, 2]
    assert blocks[0]["fields"][0]["text"] == "*KPI 0*\n0 %"


def test_all_text_objects_are_verbatim():
    blocks = render_answer(Answer("hello <#C1> world", citations=["A › B"]),
                           feedback=FeedbackRef("q", "a"))[0].payload()

    texts = [t for b in blocks for t in [b.get("text"), *b.get("fields", []),
                                         *b.get("elements", [])]
             if isinstance(t, dict) and t.get("type") == "mrkdwn"]
    assert texts and all(t["verbatim"] is True for t in texts)


def test_long_answers_respect_every_limit():
    text = "# " + "Title " * 60 + "\n" + "\n\n".join("word " * 900 for _ in range(30))
    answer = Answer(text, citations=[f"Doc {i} › Part" for i in range(25)],
                    as_of=date(2026, 6, 30), model="offline")

    messages = render_answer(answer, feedback=FeedbackRef("q", "a"))

    assert len(messages) > 1
    for message in messages:
        assert len(message.blocks) <= 50
        assert len(message.text) <= 300
        for block in message.payload():
            if block["type"] == "section" and "text" in block:
                assert len(block["text"]["text"]) <= 3000
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= 150
            if block["type"] == "context":
                assert len(block["elements"]) <= 10
    assert messages[-1].payload()[-1]["block_id"] == "feedback"
    assert "Doc 24 › Part" in json.dumps(messages[-1].payload(), ensure_ascii=False)


def test_a_very_long_line_is_cut_at_spaces_and_never_inside_an_entity():
    pieces = dicts(markdown_blocks(("a&b " * 2000).strip()))

    for block in pieces:
        text = block["text"]["text"]
        assert len(text) <= 3000
        assert not text.endswith("&") and not text.endswith("&amp")


def test_code_fences_are_closed_and_reopened_when_a_section_is_split():
    code = "```\n" + "\n".join(f"line {i} " + "x" * 60 for i in range(120)) + "\n```"

    blocks = dicts(markdown_blocks(code))

    assert len(blocks) > 1
    for block in blocks:
        assert block["text"]["text"].count("```") % 2 == 0


def test_a_failed_answer_is_one_short_notice():
    messages = render_answer(Answer("Sorry, <!here> it broke", ok=False, citations=["A › B"]))

    assert len(messages) == 1 and len(messages[0].blocks) == 1
    assert "&lt;!here&gt;" in messages[0].payload()[0]["text"]["text"]


def test_truncate_adds_an_ellipsis_at_a_word():
    assert truncate("one two three four", 12) == "one two…"
    assert truncate("short", 12) == "short"


def test_notice_escapes_its_text():
    assert notice("<@U1> hi").payload()[0]["text"]["text"] == "&lt;@U1&gt; hi"


def test_feedback_reference_round_trips():
    ref = FeedbackRef("C1:1.2", "C1:1.3")

    assert FeedbackRef.decode(ref.encode()) == ref


def test_answers_close_with_slacks_native_feedback_buttons():
    ref = FeedbackRef("C1:1.2", "C1:1.3")

    block = render_answer(Answer("hi"), feedback=ref)[0].payload()[-1]

    assert block["type"] == "context_actions"
    (buttons,) = block["elements"]
    assert buttons["type"] == "feedback_buttons"
    assert vote_of(buttons["positive_button"]["value"]) is True
    assert vote_of(buttons["negative_button"]["value"]) is False
    assert FeedbackRef.decode(buttons["negative_button"]["value"]) == ref


def test_nested_and_ordered_lists_keep_their_numbers_and_indentation():
    markdown = "1. **Globex** (A0003): 100/100\n   - Spend drop (+20)\n2. Initech"

    (block,) = dicts(markdown_blocks(markdown))

    assert block["text"]["text"].split("\n") == [
        "1. *Globex* (A0003): 100/100", "    • Spend drop (+20)", "2. Initech"]


def test_question_text_drops_the_bot_mention_and_reads_markup_as_words():
    text = "<@UBOT> how is <@U2> on <#C1|sales>? see <https://x.example|deck> &amp; <!here>"

    assert question_text(text, "UBOT", {"U2": "Ben Carter"}.get) == (
        "how is Ben Carter on #sales? see deck & @here"
    )


@pytest.mark.parametrize(
    ("text", "name", "argument", "share"),
    [
        ("summary Acme Industrial", "summary", "Acme Industrial", False),
        ("QBR Acme --share", "qbr", "Acme", True),
        ('plan "Acme Foods"', "plan", "Acme Foods", False),
        ("renewals 30", "renewals", "30", False),
        ("ask what's up?", "ask", "what's up?", False),
    ],
)
def test_parse_command(text, name, argument, share):
    command = parse_command(text)

    assert (command.name, command.argument, command.share) == (name, argument, share)


def figures(*kpis: str, accounts: tuple[str, ...] = ("A0001",)) -> list[Figure]:
    return [Figure(kpi, account, f"Account {account}", date(2026, 9, 30))
            for account in accounts for kpi in kpis]


@pytest.mark.parametrize(("count", "kind"), [(1, "button"), (3, "overflow"),
                                              (5, "overflow"), (7, "static_select")])
def test_explain_is_a_button_for_one_figure_and_a_menu_for_several(count, kind):
    kpis = ("revenue", "nps", "csat", "churn_risk", "gross_margin", "share_of_wallet", "clv")
    answer = Answer("**Revenue of Acme Industrial: €1,234,567**", figures=figures(*kpis[:count]))

    (message,) = render_answer(answer)
    (block,) = [b for b in message.payload() if b.get("block_id") == "explain"]
    element = block["elements"][0] if block["type"] == "actions" else block["accessory"]
    assert element["type"] == kind and element["action_id"] == "kam_explain"
    values = [element["value"]] if kind == "button" else [o["value"] for o in element["options"]]
    assert [decode_figure(v).kpi for v in values] == list(kpis[:count])
    assert all(len(v) <= 150 for v in values)


def test_explain_names_the_account_when_the_figures_are_of_several():
    answer = Answer("Compared.", figures=figures("revenue", accounts=("A0001", "A0003")))

    (message,) = render_answer(answer)
    shown = json.dumps(message.payload(), ensure_ascii=False)
    assert "Revenue – Account A0001" in shown and "Revenue – Account A0003" in shown


def test_no_explain_without_figures_or_under_a_failed_answer():
    for answer in (Answer("Prepare the QBR with the customer's own KPIs."),
                   Answer("Sorry, something went wrong.", ok=False, figures=figures("nps"))):
        (message,) = render_answer(answer)
        assert "kam_explain" not in json.dumps(message.payload())
