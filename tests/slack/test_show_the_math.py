"""Show the math in Slack: an answer with KPI figures offers "Explain" (a button for one
figure, a menu for several); picking a figure shows whoever picked it, privately, the formula
and the inputs it was computed from, under their own access; an answer without figures
offers nothing. Real signed HTTP to the app, the offline assistant on the demo data."""

from __future__ import annotations

import json
import math
import re

from tests.support.slack import ANNA, BEN, CHANNEL, MARIA

DM = "D0ANNA001"
EXPLAIN = "kam_explain"


def blocks_of(body: dict) -> list[dict]:
    blocks = body.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def explain_of(body: dict) -> dict | None:
    return next((b for b in blocks_of(body) if b.get("block_id") == "explain"), None)


def options_of(block: dict) -> list[tuple[str, str]]:
    """(label, value) of each figure an Explain block offers."""
    if block["type"] == "actions":
        return [(e["text"]["text"], e["value"]) for e in block["elements"]]
    return [(o["text"]["text"], o["value"]) for o in block["accessory"]["options"]]


def shown(body: dict) -> str:
    """The text of a message's sections, as a person reads it."""
    return "\n".join(b["text"]["text"] for b in blocks_of(body) if b["type"] == "section")


def amount(text: str, label: str) -> float:
    match = re.search(rf"{label}: €([\d,]+)", text)
    assert match, (label, text)
    return float(match[1].replace(",", ""))


def test_a_kpi_answer_explains_its_figure_privately_with_inputs_that_recompute_it(
        slack, mock_slack):
    slack.direct_message("What is the revenue growth of Acme Industrial?", channel=DM,
                         ts="1760000400.000100")
    stop = mock_slack.wait_for("chat.stopStream")[0].body
    block = explain_of(stop)
    assert block is not None and block["type"] == "actions"
    ((label, value),) = options_of(block)
    assert label == "Explain: Revenue growth"
    figure = re.search(r"Revenue growth of Acme Industrial: (-?[\d.]+)%",
                       mock_slack.streamed(stop["ts"]))
    assert figure, mock_slack.streamed(stop["ts"])

    slack.action(EXPLAIN, value, channel=DM, response_url=mock_slack.hook_url("explain"),
                 message={"ts": stop["ts"], "thread_ts": "1760000400.000100"})

    (post,) = mock_slack.wait_for("chat.postEphemeral")
    assert (post.body["user"], post.body["channel"]) == (ANNA, DM)
    assert post.body["thread_ts"] == "1760000400.000100"
    text = shown(post.body)
    assert f"Revenue growth of Acme Industrial (A0001): {figure[1]}%" in text
    assert "Formula: (revenue - prior revenue) / prior revenue" in text
    revenue, prior = amount(text, "revenue"), amount(text, "prior revenue")
    assert math.isclose(100 * (revenue - prior) / prior, float(figure[1]), abs_tol=0.06)
    assert "As of: " in text and "Rows read: order lines: " in text
    assert "None" not in text and "_" not in text.replace(":abacus:", "")


def test_a_colleague_who_cannot_see_the_account_is_told_so_privately_and_sees_nothing(
        slack, mock_slack):
    mock_slack.channel("C0EXPLAIN1", [ANNA, MARIA])  # both may see Acme Industrial
    slack.mention("What is the NPS of Acme Industrial?", channel="C0EXPLAIN1",
                  ts="1760000401.000100")
    answer = mock_slack.wait_for("chat.update")[0].body
    ((_, value),) = options_of(explain_of(answer))

    # Ben is a KAM of the same team, but Acme Industrial is Anna's.
    slack.action(EXPLAIN, value, user=BEN, channel="C0EXPLAIN1",
                 response_url=mock_slack.hook_url("explain"),
                 message={"ts": answer["ts"], "thread_ts": "1760000401.000100"})

    (post,) = mock_slack.wait_for("chat.postEphemeral")
    assert post.body["user"] == BEN
    text = json.dumps(post.body, ensure_ascii=False)
    assert "can't see the account behind this figure" in text
    for leak in ("Acme", "A0001", "Formula", "promoters", "responses"):
        assert leak not in text
    assert mock_slack.of("/hooks/explain") == []


def test_a_private_kam_summary_offers_a_menu_answered_through_the_response_url(
        slack, mock_slack):
    slack.command("summary Acme Industrial", channel=CHANNEL,
                  response_url=mock_slack.hook_url("cmd"))
    mock_slack.wait_for("/hooks/cmd")
    mock_slack.settle()
    block = next(explain_of(c.body) for c in mock_slack.of("/hooks/cmd") if explain_of(c.body))
    assert block["accessory"]["type"] == "static_select"  # more figures than an overflow holds
    labels = dict(options_of(block))
    assert {"Revenue", "NPS", "Churn risk", "Gross margin"} <= set(labels)

    slack.action(EXPLAIN, labels["Churn risk"], channel=CHANNEL, ephemeral=True,
                 kind="static_select", message={"ts": "1760000402.000100"},
                 response_url=mock_slack.hook_url("math"))

    (post,) = mock_slack.wait_for("/hooks/math")
    assert post.body["response_type"] == "ephemeral" and not post.body["replace_original"]
    text = shown(post.body)
    assert "Churn risk of Acme Industrial (A0001): " in text
    assert "Formula: sum of points over signs fired" in text
    assert mock_slack.of("chat.postMessage") == [] and mock_slack.of("chat.postEphemeral") == []


def test_margin_figures_are_not_offered_under_an_answer_the_channel_sees_without_them(
        slack, mock_slack):
    slack.mention("How is Acme Industrial doing?", ts="1760000403.000100")

    public = mock_slack.wait_for("chat.update")[0].body
    private = mock_slack.wait_for("chat.postEphemeral")[0].body
    offered = set(dict(options_of(explain_of(public))))
    assert "Revenue" in offered and not {"Gross margin", "Profitability"} & offered
    assert {"Gross margin", "Profitability"} <= set(dict(options_of(explain_of(private))))


def test_an_answer_without_figures_offers_no_explain(slack, mock_slack):
    slack.direct_message("How should I prepare a QBR?", channel=DM, ts="1760000404.000100")

    stop = mock_slack.wait_for("chat.stopStream")[0].body
    assert "kam_explain" not in json.dumps(stop)
