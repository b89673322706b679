"""App Home (the portfolio at a glance), feedback buttons, and the weekly digest."""

from __future__ import annotations

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bot.slack.blocks import FeedbackRef
from bot.slack.digest import compose_digests, post_digests
from bot.slack.egress import ChannelPacer, SlackOut, build_web_client
from prompts import Prompts
from store.db import make_engine
from store.models import SlackFeedback
from tests.support.slack import ANNA, BEN, MARIA, STRANGER
from tools.glance import KpiPortfolio
from tools.history import backfill
from tools.kpi_config import KpiConfig


@pytest.fixture
def portfolio(offline) -> KpiPortfolio:
    return KpiPortfolio(offline.sessions, config=KpiConfig(reporting_currency="EUR"))


def home_opened(slack, user: str = ANNA, tab: str = "home"):
    return slack.event({"type": "app_home_opened", "user": user, "channel": "D0ANNA001",
                        "tab": tab, "event_ts": slack.next_ts()})


def test_app_home_shows_the_users_portfolio_with_summary_buttons(serve, portfolio, mock_slack):
    slack = serve(portfolio=portfolio)

    assert home_opened(slack).status == 200

    publish = mock_slack.wait_for("views.publish")[0].body
    assert publish["user_id"] == ANNA
    view = json.dumps(publish["view"], ensure_ascii=False)
    assert publish["view"]["type"] == "home"
    assert "Anna Berg: your portfolio" in view
    for heading in ("Top risks", "Renewals in the next 90 days", "Growing accounts"):
        assert heading in view
    assert "Globex Logistics" in view  # Anna's high-risk account in the demo data
    assert "Stark Components" not in view  # Ben's
    buttons = [e for b in publish["view"]["blocks"] if b["type"] == "actions"
               for e in b["elements"]]
    assert buttons and all(e["action_id"].startswith("open_summary") for e in buttons)
    for block in publish["view"]["blocks"]:
        if block["type"] == "actions":
            ids = [e["action_id"] for e in block["elements"]]
            assert len(ids) == len(set(ids))


def test_managers_home_covers_the_team_with_a_line_per_kam(serve, portfolio, mock_slack):
    slack = serve(portfolio=portfolio)

    home_opened(slack, user=MARIA)

    view = json.dumps(mock_slack.wait_for("views.publish")[0].body["view"], ensure_ascii=False)
    assert "Maria Novak: your team's portfolio" in view
    assert "Per KAM" in view and "Anna Berg" in view


def test_app_home_for_an_unknown_user_is_a_refusal(serve, portfolio, mock_slack):
    slack = serve(portfolio=portfolio)

    home_opened(slack, user=STRANGER)

    view = json.dumps(mock_slack.wait_for("views.publish")[0].body["view"])
    assert "don't know you yet" in view
    assert "Globex" not in view and "risk" not in view


def test_messages_tab_does_not_publish_the_home(serve, portfolio, mock_slack):
    slack = serve(portfolio=portfolio)

    home_opened(slack, tab="messages")

    slack.drain()
    assert mock_slack.of("views.publish") == []


def test_summary_button_answers_in_the_dm(serve, portfolio, mock_slack):
    slack = serve(portfolio=portfolio)

    slack.action("open_summary:0", "Acme Industrial", response_url=mock_slack.hook_url("home"))

    placeholder = mock_slack.wait_for("chat.postMessage")[0]
    assert placeholder.body["channel"] == ANNA and "thread_ts" not in placeholder.body
    update = mock_slack.wait_for("chat.update")[0].body
    assert update["channel"] == placeholder.reply["channel"]
    assert "Acme Industrial: account summary" in json.dumps(update["blocks"])


def feedback_rows(sessions, answer_id: str) -> list[tuple]:
    with sessions() as session:
        votes = session.scalars(
            select(SlackFeedback).where(SlackFeedback.answer_id == answer_id)
            .order_by(SlackFeedback.feedback_id)
        )
        return [(f.question_id, f.answer_id, f.slack_user_id, f.user_id, f.helpful) for f in votes]


def unique_answer_id() -> str:
    return f"C0SALES001:{uuid.uuid4().int % 10**10}.000100"


def test_feedback_click_is_stored_with_the_question_and_answer_ids(slack, mock_slack, offline):
    answer_id = unique_answer_id()
    value = FeedbackRef("C0SALES001:1760000001.000100", answer_id).encode()

    reply = slack.action("feedback_helpful", value, response_url=mock_slack.hook_url("fb"))

    assert reply.status == 200
    thanks = mock_slack.wait_for("/hooks/fb")[0].body
    assert thanks["response_type"] == "ephemeral" and "helpful" in thanks["text"]
    assert feedback_rows(offline.sessions, answer_id) == [
        ("C0SALES001:1760000001.000100", answer_id, ANNA, "u_kam_anna", True)
    ]


def test_a_second_click_changes_the_vote_instead_of_adding_one(slack, mock_slack, offline):
    answer_id = unique_answer_id()
    value = FeedbackRef("C1:1.1", answer_id).encode()
    slack.action("feedback_helpful", value, response_url=mock_slack.hook_url("fb"))
    mock_slack.wait_for("/hooks/fb")

    slack.action("feedback_not_helpful", value, response_url=mock_slack.hook_url("fb"))
    mock_slack.wait_for("/hooks/fb", 2)
    slack.action("feedback_helpful", value, user=BEN, response_url=mock_slack.hook_url("fb"))
    mock_slack.wait_for("/hooks/fb", 3)

    rows = feedback_rows(offline.sessions, answer_id)
    assert [(r[2], r[4]) for r in rows] == [(ANNA, False), (BEN, True)]


def test_feedback_buttons_of_a_real_answer_round_trip(slack, mock_slack, offline):
    slack.mention("How is Acme Industrial doing?", ts="1760000500.000100")
    blocks = mock_slack.wait_for("chat.update")[0].body["blocks"]
    (buttons,) = next(b for b in blocks if b.get("block_id") == "feedback")["elements"]
    value = buttons["negative_button"]["value"]

    slack.action(buttons["action_id"], value, response_url=mock_slack.hook_url("fb"))

    mock_slack.wait_for("/hooks/fb")
    answer_id = json.loads(value)["a"]
    assert answer_id == f"C0SALES001:{mock_slack.of('chat.postMessage')[0].reply['ts']}"
    ((question, _, user, _, helpful),) = feedback_rows(offline.sessions, answer_id)
    assert (question, user, helpful) == ("C0SALES001:1760000500.000100", ANNA, False)


def test_digest_goes_to_every_kam_and_manager_with_their_own_accounts(portfolio, slack_sessions,
                                                                      mock_slack):
    digests = compose_digests(slack_sessions, portfolio)
    out = SlackOut(build_web_client("xoxb-test", mock_slack.url), ChannelPacer(0))

    run = post_digests(out, digests, slack_sessions.kw["bind"])

    posts = {c.body["channel"]: json.dumps(c.body["blocks"], ensure_ascii=False)
             for c in mock_slack.wait_for("chat.postMessage", run.sent)}
    assert (run.sent, run.failed) == (8, [])  # six KAMs and two managers; the admin gets none
    assert "Globex Logistics" in posts[ANNA] and "Stark Components" not in posts[ANNA]
    assert "Per KAM" in posts[MARIA] and "Per KAM" not in posts[ANNA]
    assert "Anna Berg" in posts[MARIA]
    # Period figures are the last complete quarter's (as of 2026-09-30), money in euros.
    quarter = "Q3 2026 (Jul 1\u2009–\u2009Sep 30, 2026)"
    assert all(f"{quarter}: revenue €" in text for text in posts.values())
    assert all(f"Growing accounts in {quarter}" in text for text in posts.values())
    assert "on the same quarter a year earlier" in posts[ANNA]
    assert re.search(r"Globex Logistics\*: ends Nov 14, 2026 \(in 45 days\), €[\d,]+ a year",
                     posts[ANNA])


def test_a_failed_digest_does_not_stop_the_others(portfolio, slack_sessions, mock_slack):
    digests = compose_digests(slack_sessions, portfolio)
    mock_slack.fail("chat.postMessage", error="user_not_found")
    out = SlackOut(build_web_client("xoxb-test", mock_slack.url), ChannelPacer(0))

    engine = slack_sessions.kw["bind"]
    run = post_digests(out, digests, engine, week="2026-W49")

    assert run.sent == len(digests) - 1 and len(run.failed) == 1
    again = post_digests(out, digests, engine, week="2026-W49")  # the next run retries it
    assert (again.sent, again.skipped, again.failed) == (1, len(digests) - 1, [])


def test_digests_run_from_three_replicas_at_once_are_sent_once(portfolio, slack_sessions,
                                                               mock_slack):
    digests = compose_digests(slack_sessions, portfolio)
    engines = [make_engine(str(slack_sessions.kw["bind"].url)) for _ in range(3)]
    out = SlackOut(build_web_client("xoxb-test", mock_slack.url), ChannelPacer(0))

    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda e: post_digests(out, digests, e, week="2026-W50"), engines))

    assert sum(r.sent for r in runs) == len(digests) == len(mock_slack.of("chat.postMessage"))
    assert sum(r.skipped for r in runs) == 2 * len(digests)
    next_week = post_digests(out, digests, engines[0], week="2026-W51")
    assert next_week.sent == len(digests)
    for engine in engines:
        engine.dispose()


class BrokenPortfolio:
    def glance(self, scope):
        raise RuntimeError("KPI engine down")


def test_app_home_says_so_when_the_portfolio_cannot_be_loaded(serve, mock_slack):
    slack = serve(portfolio=BrokenPortfolio())

    home_opened(slack)

    view = json.dumps(mock_slack.wait_for("views.publish")[0].body["view"])
    assert "could not load your portfolio" in view and "/kam summary" in view


def test_digest_opens_with_the_weeks_movers_then_books_then_renewals(slack_sessions, mock_slack):
    backfill(slack_sessions, 2)  # this week (as of 2026-09-30) and the week to 2026-09-27
    digests = {d.slack_user_id: d for d in compose_digests(slack_sessions,
                                                            KpiPortfolio(slack_sessions))}
    out = SlackOut(build_web_client("xoxb-test", mock_slack.url), ChannelPacer(0))

    post_digests(out, [digests[ANNA], digests[MARIA]], slack_sessions.kw["bind"])

    blocks = {c.body["channel"]: c.body["blocks"]
              for c in mock_slack.wait_for("chat.postMessage", 2)}
    maria = [json.dumps(b, ensure_ascii=False) for b in blocks[MARIA]]
    order = [next(i for i, b in enumerate(maria) if heading in b) for heading in (
        "Biggest movers since Sep 27, 2026", "KAMs whose book moved most",
        "Renewals in the next 90 days", "Top risks")]
    assert order == sorted(order)
    assert "Anna Berg: 12-month revenue" in maria[order[1]]
    movers = blocks[MARIA][order[0]]["text"]["text"]
    assert "churn risk" in movers and "points" in movers
    buttons = [e for b in blocks[MARIA] if b["type"] == "actions" for e in b["elements"]]
    assert buttons and all(e["action_id"].startswith("open_summary:") for e in buttons)
    anna = json.dumps(blocks[ANNA], ensure_ascii=False)
    assert "KAMs whose book moved most" not in anna and "Stark Components" not in anna


def test_digest_without_history_says_how_to_start_it(slack_sessions):
    [digest] = [d for d in compose_digests(slack_sessions, KpiPortfolio(slack_sessions))
                if d.slack_user_id == MARIA]

    text = digest.text(Prompts())
    assert "Biggest movers: fewer than two weeks of KPI history: run `kam snapshot`" in text
    assert text.index("Renewals in the next 90 days") < text.index("Top risks")
