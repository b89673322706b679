"""A tiny data set whose every KPI is worked out by hand in the tests.

AS_OF = 2024-03-15 is mid-month in a leap year, so the current period
(2023-03-16..2024-03-15) has partial months at both edges and contains 29 February.

Accounts: X1 Alpha Tools (u_k1, key), X2 Beta Foods (u_k1, key, no wallet estimate,
no prior revenue, no surveys), X3 Gamma Labs (u_k2, growth, another team),
X4 Delta Retail (u_k1, growth, revenue only in the prior period).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from store.access import AccessScope, resolve_scope
from store.db import make_engine, make_session_factory, upgrade
from store.demo import COLUMNS
from store.importer import import_paths
from tests.support.databases import database_url
from tools.kpis import KpiEngine

AS_OF = date(2024, 3, 15)

USERS = [
    dict(user_id="u_admin", name="Ada Admin", role="admin", team=""),
    dict(user_id="u_mgr", name="Maria Manager", role="manager", team="T1"),
    dict(user_id="u_k1", name="Kim One", role="kam", team="T1", manager_id="u_mgr"),
    dict(user_id="u_k2", name="Kai Two", role="kam", team="T2"),
]
PRODUCTS = [
    dict(product_id="P1", name="Widget", product_line="L1"),
    dict(product_id="P2", name="Gadget", product_line="L2"),
    dict(product_id="P3", name="Gizmo", product_line="L3"),
]
ACCOUNTS = [
    dict(account_id="X1", name="Alpha Tools", owner_user_id="u_k1", tier="key",
         wallet_estimate="10000.00", region="EMEA", industry="Retail"),
    dict(account_id="X2", name="Beta Foods", owner_user_id="u_k1", tier="key", region="EMEA"),
    dict(account_id="X3", name="Gamma Labs", owner_user_id="u_k2", tier="growth",
         wallet_estimate="1000.00", region="APAC"),
    dict(account_id="X4", name="Delta Retail", owner_user_id="u_k1", tier="growth",
         wallet_estimate="500.00", region="APAC"),
]
ORDERS = [  # account, product, date, revenue, cost
    ("X1", "P1", "2022-03-10", "50.00", "10.00"),  # before the prior period
    ("X1", "P1", "2022-03-20", "100.00", "60.00"),  # prior, partial first month
    ("X1", "P1", "2022-07-01", "300.00", "100.00"),  # prior
    ("X1", "P1", "2023-03-15", "200.00", "50.00"),  # prior, its last day
    ("X1", "P1", "2023-03-16", "400.00", "100.00"),  # current, its first day
    ("X1", "P2", "2023-03-31", "10.00", "5.00"),  # current, partial month, line L2
    ("X1", "P1", "2023-06-30", "1000.00", "400.00"),  # current
    ("X1", "P1", "2024-02-29", "500.00", "250.00"),  # current, leap day
    ("X1", "P1", "2024-03-15", "90.00", "30.00"),  # current, as_of itself
    ("X1", "P3", "2024-03-16", "999.00", "1.00"),  # after as_of
    ("X2", "P1", "2023-12-01", "300.00", "100.00"),
    ("X3", "P1", "2022-12-01", "1000.00", "500.00"),
    ("X3", "P1", "2023-11-11", "400.00", "100.00"),
    ("X4", "P2", "2022-05-05", "200.00", "100.00"),
]
COST_TO_SERVE = [
    dict(account_id="X1", period_start="2023-01-01", period_end="2023-12-31", amount="365.00"),
    dict(account_id="X1", period_start="2024-03-01", period_end="2024-03-31", amount="31.00"),
]
CONTACTS = [
    dict(contact_id="C1", account_id="X1", name="Dana Decider", department="Executive",
         buying_role="decision_maker", relationship_strength=4, status="active"),
    dict(contact_id="C2", account_id="X1", name="Eli Budget", department="Finance",
         buying_role="economic_buyer", relationship_strength=2, status="active"),
    dict(contact_id="C3", account_id="X1", name="Cam Champion", department="Operations",
         buying_role="champion", relationship_strength=5, status="left"),
    dict(contact_id="C4", account_id="X1", name="Uma User", department="Operations",
         buying_role="user", relationship_strength=3, status="active"),
    dict(contact_id="C5", account_id="X2", name="Old Decider", buying_role="decision_maker",
         relationship_strength=3, status="left"),
    dict(contact_id="C6", account_id="X2", name="New Decider", buying_role="decision_maker",
         relationship_strength=3, status="active"),
    dict(contact_id="C7", account_id="X3", name="Gia Gamma", buying_role="champion",
         relationship_strength=5, status="active"),
]
ACTIVITIES = [  # X1: 4 in the 90 days before the last 90, 1 in the last 90, none in 45
    ("X1", "C1", "2023-09-20"), ("X1", "C4", "2023-10-15"), ("X1", "C4", "2023-11-20"),
    ("X1", "C4", "2023-12-16"), ("X1", "C4", "2024-01-10"),
    ("X3", "C7", "2024-03-01"),
]
SURVEYS = [  # account, date, kind, score, subject
    ("X1", "2023-03-01", "nps", 0, "company"),  # prior period
    ("X1", "2023-05-01", "nps", 10, "company"),
    ("X1", "2023-06-01", "nps", 9, "company"),
    ("X1", "2023-08-01", "nps", 8, "company"),
    ("X1", "2024-01-05", "nps", 3, "company"),  # a detractor in the last 180 days
    ("X1", "2023-09-01", "nps", 10, "kam"),
    ("X1", "2023-04-01", "csat", 5, "company"),
    ("X1", "2023-10-01", "csat", 4, "company"),
    ("X1", "2024-02-01", "csat", 2, "company"),
    ("X2", "2023-10-01", "csat", 5, "company"),
    ("X2", "2023-11-01", "csat", 2, "company"),
    ("X2", "2023-12-01", "csat", 1, "company"),
]
TICKETS = [
    dict(ticket_id="T1", account_id="X1", opened_on="2024-02-01", severity="high",
         subject="Line down"),
    dict(ticket_id="T2", account_id="X1", opened_on="2024-02-01", closed_on="2024-03-01",
         severity="critical", subject="Closed already"),
    dict(ticket_id="T3", account_id="X1", opened_on="2024-03-20", severity="high",
         subject="After as_of"),
    dict(ticket_id="T4", account_id="X2", opened_on="2024-03-01", severity="low",
         subject="Minor"),
]
CONTRACTS = [
    dict(contract_id="K1", account_id="X1", start_date="2023-05-02", end_date="2024-05-01",
         annual_value="1200.00", auto_renew="false"),
    dict(contract_id="K2", account_id="X2", start_date="2023-05-02", end_date="2024-05-01",
         annual_value="600.00", auto_renew="true"),
    dict(contract_id="K3a", account_id="X3", start_date="2023-04-11", end_date="2024-04-10",
         annual_value="900.00", auto_renew="false"),
    dict(contract_id="K3b", account_id="X3", start_date="2024-04-11", end_date="2025-04-10",
         annual_value="950.00", auto_renew="false"),
]
OPPORTUNITIES = [
    dict(opportunity_id="O1", account_id="X1", kind="upsell", amount="500.00", stage="won",
         created_on="2023-04-01", closed_on="2023-06-01"),
    dict(opportunity_id="O2", account_id="X1", kind="cross_sell", amount="800.00", stage="won",
         created_on="2024-01-01", closed_on="2024-03-20"),
    dict(opportunity_id="O3", account_id="X1", kind="upsell", amount="700.00", stage="lost",
         created_on="2023-04-01", closed_on="2023-07-01"),
    dict(opportunity_id="O4", account_id="X1", kind="new", amount="900.00", stage="won",
         created_on="2023-04-01", closed_on="2023-08-01"),
    dict(opportunity_id="O5", account_id="X2", kind="renewal", amount="600.00", stage="open",
         created_on="2024-02-01", expected_close="2024-05-01"),
]
VALUE_FACTORS = [
    dict(factor="f_a", weight="0.6", description="first"),
    dict(factor="f_b", weight="0.4", description="second"),
]
SCORES = [
    ("X1", "f_a", 5, "2024-01-01"), ("X1", "f_a", 1, "2024-04-01"), ("X1", "f_b", 3, "2024-01-01"),
    ("X2", "f_a", 4, "2024-01-01"),
    ("X3", "f_a", 1, "2024-01-01"), ("X3", "f_b", 2, "2024-01-01"),
]
CUSTOMER_KPIS = [
    dict(account_id="X1", kpi_name="OTD %", period_end="2023-09-30", target="98", actual="90",
         higher_is_better="true"),
    dict(account_id="X1", kpi_name="OTD %", period_end="2023-12-31", target="98",
         actual="97.02", higher_is_better="true"),
    dict(account_id="X1", kpi_name="OTD %", period_end="2024-03-31", target="98", actual="50",
         higher_is_better="true"),
    dict(account_id="X1", kpi_name="Defects", period_end="2023-12-31", target="100",
         actual="80", higher_is_better="false"),
]


def _rows() -> dict[str, list[dict]]:
    return {
        "users": [{"email": f"{u['user_id']}@example.com", **u} for u in USERS],
        "products": PRODUCTS,
        "accounts": ACCOUNTS,
        "orders": [
            dict(order_id=f"O{i}", account_id=a, product_id=p, order_date=d, quantity=1,
                 revenue=rev, cost=cost)
            for i, (a, p, d, rev, cost) in enumerate(ORDERS)
        ],
        "cost_to_serve": COST_TO_SERVE,
        "contacts": CONTACTS,
        "activities": [
            dict(activity_id=f"E{i}", account_id=a, contact_id=c, user_id="u_k1", kind="call",
                 occurred_on=d, notes="Discussed volumes.")
            for i, (a, c, d) in enumerate(ACTIVITIES)
        ],
        "surveys": [
            dict(response_id=f"S{i}", account_id=a, responded_on=d, kind=k, score=s, subject=subj)
            for i, (a, d, k, s, subj) in enumerate(SURVEYS)
        ],
        "tickets": TICKETS,
        "contracts": CONTRACTS,
        "opportunities": OPPORTUNITIES,
        "value_factors": VALUE_FACTORS,
        "account_scores": [
            dict(account_id=a, factor=f, score=s, scored_on=d, scored_by="u_k1")
            for a, f, s, d in SCORES
        ],
        "customer_kpis": CUSTOMER_KPIS,
    }


def write_csvs(folder: Path, tables: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        with open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, COLUMNS[table], restval="", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return folder


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def tiny_sessions(request, tmp_path_factory):
    """The tiny data set, imported once per backend through the real importer. Read only."""
    root = tmp_path_factory.mktemp("tiny")
    engine = make_engine(database_url(request.param, request, root))
    upgrade(engine)
    import_paths(engine, [write_csvs(root / "csv", _rows())])
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(tiny_sessions):
    with tiny_sessions() as session:
        yield session


@pytest.fixture
def engine_for(session):
    """engine_for(user_id, as_of=AS_OF, config=None) -> a KpiEngine for that caller."""

    def build(user_id: str, as_of: date | None = AS_OF, config=None) -> KpiEngine:
        scope: AccessScope = resolve_scope(session, user_id=user_id)
        return KpiEngine(session, scope, as_of=as_of, config=config)

    return build


@pytest.fixture
def admin(engine_for) -> KpiEngine:
    return engine_for("u_admin")


@pytest.fixture
def kam(engine_for) -> KpiEngine:
    return engine_for("u_k1")
