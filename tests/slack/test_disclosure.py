"""The disclosure policy on its own: what a channel may see of an answer, decided over the
members' access scopes (a fake list of visible accounts), and the intersection scope run
against the demo database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.assistant import Answer, ToolCallRecord
from bot.slack.disclosure import (
    Audience,
    AudienceScope,
    DisclosurePolicy,
    Footprint,
    footprint_of,
    without_sensitive,
)
from store.access import AccessScope, resolve_caller
from store.models import Account
from tools.find import find_accounts

ANNA = AccessScope("anna", "Anna Berg", "kam", "North")
BEN = AccessScope("ben", "Ben Carter", "kam", "North")
MARIA = AccessScope("maria", "Maria Novak", "manager", "North")
SAM = AccessScope("sam", "Sam Okafor", "manager", "South")
ADA = AccessScope("ada", "Ada Admin", "admin", None)
SEES = {
    "anna": frozenset({"acme", "globex"}),
    "ben": frozenset({"stark"}),
    "maria": frozenset({"acme", "globex", "stark"}),
    "sam": frozenset({"wayne"}),
    "ada": frozenset({"acme", "globex", "stark", "wayne"}),
}
ACME = Footprint(accounts=frozenset({"acme"}), names=("Acme Industrial",))
ACME_MARGIN = Footprint(accounts=frozenset({"acme"}), names=("Acme Industrial",), sensitive=True)
PORTFOLIO = Footprint(portfolio=True)
GUIDANCE = Footprint(guidance=True)


@pytest.fixture
def policy() -> DisclosurePolicy:
    return DisclosurePolicy(lambda scope: SEES[scope.user_id])


def channel(*members: AccessScope, **kwargs) -> Audience:
    return Audience(members, **kwargs)


def test_a_direct_message_shows_everything_the_asker_may_see(policy):
    decision = policy.decide(Audience.only(ANNA), ANNA, ACME_MARGIN)

    assert (decision.show, decision.private, decision.note) == ("all", False, None)


def test_a_channel_whose_members_all_see_the_account_gets_the_answer(policy):
    assert policy.decide(channel(ANNA, MARIA), ANNA, ACME).show == "all"


def test_an_account_a_member_cannot_see_goes_only_to_the_asker(policy):
    decision = policy.decide(channel(ANNA, BEN), ANNA, ACME)

    assert (decision.show, decision.private) == ("nothing", True)
    assert decision.note == (
        "I've sent you the answer privately: some members of this channel can't see "
        "Acme Industrial.")


def test_a_portfolio_answer_in_a_mixed_channel_is_cut_to_what_everyone_sees(policy):
    decision = policy.decide(channel(MARIA, ANNA), MARIA, PORTFOLIO)

    assert (decision.show, decision.private) == ("shared", True)
    assert policy.shared_accounts(channel(MARIA, ANNA)) == {"acme", "globex"}


def test_a_portfolio_answer_where_members_share_no_account_is_private(policy):
    decision = policy.decide(channel(ANNA, BEN), ANNA, PORTFOLIO)

    assert (decision.show, decision.private) == ("nothing", True)
    assert "all of these accounts" in decision.note


def test_drafts_are_never_answered_again_for_the_channel(policy):
    drafted = Footprint(portfolio=True, drafts=True)

    assert policy.decide(channel(MARIA, ANNA), MARIA, drafted).show == "nothing"


@pytest.mark.parametrize(
    ("members", "asker", "show"),
    [
        ((ANNA,), ANNA, "without_sensitive"),  # the owning KAM alone: still not in a channel
        ((ANNA, MARIA), ANNA, "without_sensitive"),
        ((MARIA, ADA), ADA, "all"),  # everyone manages Acme
        ((SAM, ADA), ADA, "nothing"),  # Sam cannot see Acme at all
    ],
)
def test_margin_goes_to_a_channel_only_when_everyone_manages_the_account(
    policy, members, asker, show
):
    assert policy.decide(channel(*members), asker, ACME_MARGIN).show == show


def test_a_question_about_margin_itself_gets_only_the_line_in_a_channel(policy):
    asked = Footprint(accounts=frozenset({"acme"}), sensitive=True, asked_sensitive=True)

    decision = policy.decide(channel(ANNA, MARIA), ANNA, asked)

    assert (decision.show, decision.private) == ("nothing", True)
    assert "margin" in decision.note


@pytest.mark.parametrize("footprint", [ACME, PORTFOLIO, GUIDANCE])
def test_a_slack_connect_channel_gets_nothing_of_accounts_or_guidance(policy, footprint):
    decision = policy.decide(channel(ANNA, MARIA, external=True), ANNA, footprint)

    assert (decision.show, decision.private) == ("nothing", True)
    assert "outside the company" in decision.note


def test_strangers_in_a_channel_get_guidance_but_no_account_data(policy):
    audience = channel(ANNA, strangers=1)

    assert policy.decide(audience, ANNA, ACME).show == "nothing"
    assert policy.decide(audience, ANNA, GUIDANCE).show == "all"
    assert policy.shared_accounts(audience) == frozenset()


def test_an_answer_without_tools_is_fine_anywhere(policy):
    audience = channel(ANNA, external=True, strangers=2)

    assert policy.decide(audience, ANNA, Footprint()).show == "all"


@pytest.mark.parametrize(
    ("audience", "asker", "live"),
    [
        (Audience.only(ANNA), ANNA, True),
        (channel(MARIA, ADA), MARIA, True),  # Ada manages all Maria sees
        (channel(ADA, MARIA), ADA, False),  # Maria does not see Wayne
        (channel(ANNA, MARIA), ANNA, False),  # Anna is no manager: margin stays private
        (channel(MARIA, external=True), MARIA, False),
    ],
)
def test_answers_go_out_live_only_where_everyone_may_see_all_the_asker_may(
    policy, audience, asker, live
):
    assert policy.sees_all_of(audience, asker) is live


def test_a_footprint_is_read_from_the_tool_calls():
    names = {"A0001": ("A0001", "Acme Industrial"), "Globex": ("A0003", "Globex Logistics")}
    answer = Answer("Revenue is up.", tool_calls=[
        ToolCallRecord("account_summary", {"account": "A0001"}),
        ToolCallRecord("get_kpi", {"kpi": "nps", "account": "Globex"}),
        ToolCallRecord("get_kpi", {"kpi": "revenue", "account": "Nowhere"}),
        ToolCallRecord("search_guidance", {"query": "QBR"}),
    ])

    footprint = footprint_of(answer, names.get)

    assert footprint.accounts == {"A0001", "A0003"}
    assert footprint.names == ("Acme Industrial", "Globex Logistics")
    assert footprint.guidance and not footprint.portfolio and not footprint.sensitive


@pytest.mark.parametrize(
    ("calls", "text", "portfolio", "sensitive", "asked"),
    [
        ([("at_risk_accounts", {})], "3 at-risk accounts", True, False, False),
        ([("get_kpi", {"kpi": "clv", "account": "A0001"})], "CLV 1.2M", False, True, True),
        ([("account_summary", {"account": "A0001"})], "- Gross margin: 1.3M", False, True,
         False),
        ([("rank_accounts", {"kpi": "profitability"})], "ranked", True, True, True),
    ],
)
def test_lists_and_sensitive_figures_are_recognised(calls, text, portfolio, sensitive, asked):
    answer = Answer(text, tool_calls=[ToolCallRecord(n, a) for n, a in calls])

    footprint = footprint_of(answer, lambda ref: ("A0001", "Acme Industrial"))

    assert (footprint.portfolio, footprint.sensitive, footprint.asked_sensitive) == (
        portfolio, sensitive, asked)


def test_sensitive_lines_rows_and_columns_are_left_out():
    text = "\n".join([
        "**Acme Industrial** (A0001)",
        "- Revenue: 2,950,880",
        "- Gross margin: 1,388,818; profitability after cost to serve: 35.8%",
        "  - of which cost 1,562,062",
        "- Share of wallet: 43.8%",
        "",
        "| KPI | Now | Margin % |",
        "|---|---|---|",
        "| Revenue | 2.9M | 47 % |",
        "| CLV | 5.1M | - |",
    ])

    assert without_sensitive(text).split("\n") == [
        "**Acme Industrial** (A0001)",
        "- Revenue: 2,950,880",
        "- Share of wallet: 43.8%",
        "",
        "| KPI | Now |",
        "|---|---|",
        "| Revenue | 2.9M |",
    ]


# ---------------------------------------------------------------- the intersection scope


def names_seen(sessions, scope) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(Account.name).where(scope.account_clause())))


def test_the_audience_scope_sees_only_what_every_member_sees(demo_sessions):
    anna = resolve_caller(demo_sessions, user_id="u_kam_anna")
    maria = resolve_caller(demo_sessions, user_id="u_mgr_north")
    ben = resolve_caller(demo_sessions, user_id="u_kam_ben")

    team = AudienceScope.of(maria, [maria, anna])
    strangers = AudienceScope.of(anna, [anna, ben])

    assert names_seen(demo_sessions, team) == names_seen(demo_sessions, anna)
    assert names_seen(demo_sessions, strangers) == set()
    with demo_sessions() as session:
        assert find_accounts(session, strangers, "Acme Industrial").match is None
        assert find_accounts(session, team, "Acme Industrial").match is not None


def test_the_audience_scope_has_its_own_identity(demo_sessions):
    anna = resolve_caller(demo_sessions, user_id="u_kam_anna")
    maria = resolve_caller(demo_sessions, user_id="u_mgr_north")

    scope = AudienceScope.of(maria, [maria, anna])

    assert scope.user_id.startswith("audience:") and scope.user_id != maria.user_id
    assert scope == AudienceScope.of(maria, [maria, anna])
    assert not scope.sees_everything
