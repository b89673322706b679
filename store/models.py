"""SQLAlchemy 2 typed models: one class per table of DESIGN §4.

Money is stored as integer cents; CSV files carry currency units with up to two
decimals and the importer converts them exactly. An amount is kept twice: in the
account's own currency (`*_local_cents`, as imported) and in the reporting currency
(`*_cents`, converted by the importer at the month's rate of `fx_rates`), so every KPI
query sums `*_cents` and reads the same with one currency or ten. A NULL `*_local_cents`
(rows written before migration 0005_currencies, or by anything but the importer) means
the amount was not converted: it is the same as `*_cents`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal, get_args

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The allowed values of the enumerated columns: a Literal type for the CSV row models
# (store/rows.py) and the same values as a tuple for checks at run time.
Role = Literal["kam", "manager", "admin"]
Tier = Literal["key", "strategic", "growth", "maintain"]
KamCategory = Literal["growth", "harmony", "value"]
BuyingRole = Literal[
    "decision_maker", "economic_buyer", "influencer", "user", "champion", "blocker"
]
ContactStatus = Literal["active", "left"]
OpportunityKind = Literal["new", "upsell", "cross_sell", "renewal"]
OpportunityStage = Literal["open", "won", "lost"]
SurveyKind = Literal["nps", "csat"]
SurveySubject = Literal["company", "kam"]
Severity = Literal["low", "medium", "high", "critical"]
ActivityKind = Literal["meeting", "call", "email", "qbr", "visit"]

ROLES: tuple[str, ...] = get_args(Role)
TIERS: tuple[str, ...] = get_args(Tier)
KAM_CATEGORIES: tuple[str, ...] = get_args(KamCategory)
BUYING_ROLES: tuple[str, ...] = get_args(BuyingRole)
CONTACT_STATUSES: tuple[str, ...] = get_args(ContactStatus)
OPPORTUNITY_KINDS: tuple[str, ...] = get_args(OpportunityKind)
OPPORTUNITY_STAGES: tuple[str, ...] = get_args(OpportunityStage)
SURVEY_KINDS: tuple[str, ...] = get_args(SurveyKind)
SURVEY_SUBJECTS: tuple[str, ...] = get_args(SurveySubject)
SEVERITIES: tuple[str, ...] = get_args(Severity)
ACTIVITY_KINDS: tuple[str, ...] = get_args(ActivityKind)
PLAN_STATUSES = ("draft", "final")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Cents = BigInteger


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(100), index=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("users.user_id"))


class Account(Base):
    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), index=True)
    industry: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    tier: Mapped[str | None] = mapped_column(String(16))
    wallet_estimate_cents: Mapped[int | None] = mapped_column(Cents)
    wallet_estimate_local_cents: Mapped[int | None] = mapped_column(Cents)
    # ISO 4217 code; NULL: the reporting currency (KAM_REPORTING_CURRENCY).
    currency: Mapped[str | None] = mapped_column(String(3))
    kam_category: Mapped[str | None] = mapped_column(String(16))
    parent_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.account_id"))
    created_on: Mapped[date | None] = mapped_column(Date)


class Contact(Base):
    __tablename__ = "contacts"

    contact_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(100))
    buying_role: Mapped[str | None] = mapped_column(String(32))
    relationship_strength: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")


class Product(Base):
    __tablename__ = "products"

    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    product_line: Mapped[str] = mapped_column(String(100))


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_account_date", "account_id", "order_date"),)

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.product_id"))
    order_date: Mapped[date] = mapped_column(Date, index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    revenue_cents: Mapped[int] = mapped_column(Cents)
    cost_cents: Mapped[int] = mapped_column(Cents)
    revenue_local_cents: Mapped[int | None] = mapped_column(Cents)
    cost_local_cents: Mapped[int | None] = mapped_column(Cents)


class OrderMonthly(Base):
    """Orders pre-aggregated per account, month and product line; kept current by the importer.

    KPI queries read whole months from here and only the partial months at a
    period's edges from `orders`.
    """

    __tablename__ = "order_monthly"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    product_line: Mapped[str] = mapped_column(String(100), primary_key=True)
    revenue_cents: Mapped[int] = mapped_column(Cents)
    cost_cents: Mapped[int] = mapped_column(Cents)
    quantity: Mapped[int] = mapped_column(BigInteger)
    order_lines: Mapped[int] = mapped_column(Integer)
    revenue_local_cents: Mapped[int] = mapped_column(Cents)
    cost_local_cents: Mapped[int] = mapped_column(Cents)


class AccountMonthly(Base):
    """Orders summed per account and month over all product lines; kept current by the importer.

    Revenue and cost KPIs read whole months from here (`order_monthly` only where the
    product line matters). On SQLite the table is WITHOUT ROWID, so rows are stored in
    primary-key order: one account's months are a single contiguous range read, with no
    lookup from an index into the table per row. PostgreSQL ignores the option.
    """

    __tablename__ = "account_monthly"
    __table_args__ = {"sqlite_with_rowid": False}

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    revenue_cents: Mapped[int] = mapped_column(Cents)
    cost_cents: Mapped[int] = mapped_column(Cents)
    order_lines: Mapped[int] = mapped_column(Integer)
    revenue_local_cents: Mapped[int] = mapped_column(Cents)
    cost_local_cents: Mapped[int] = mapped_column(Cents)


class FxRate(Base):
    """A month's average rate: units of the reporting currency for one unit of `currency`."""

    __tablename__ = "fx_rates"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # the month's first day
    rate: Mapped[Decimal] = mapped_column(Numeric(14, 8))


class CostToServe(Base):
    __tablename__ = "cost_to_serve"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    period_end: Mapped[date] = mapped_column(Date, primary_key=True)
    amount_cents: Mapped[int] = mapped_column(Cents)
    amount_local_cents: Mapped[int | None] = mapped_column(Cents)


class Opportunity(Base):
    __tablename__ = "opportunities"

    opportunity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[str | None] = mapped_column(ForeignKey("products.product_id"))
    amount_cents: Mapped[int] = mapped_column(Cents)
    amount_local_cents: Mapped[int | None] = mapped_column(Cents)
    stage: Mapped[str] = mapped_column(String(16))
    created_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    expected_close: Mapped[date | None] = mapped_column(Date)


class Contract(Base):
    __tablename__ = "contracts"

    contract_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date, index=True)
    annual_value_cents: Mapped[int] = mapped_column(Cents)
    annual_value_local_cents: Mapped[int | None] = mapped_column(Cents)
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)


class Survey(Base):
    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_account_date", "account_id", "responded_on"),)

    response_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"))
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.contact_id"))
    responded_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(16), default="company")
    comment: Mapped[str | None] = mapped_column(Text)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_account_date", "account_id", "opened_on"),)

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"))
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    severity: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(Text)


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_account_date", "account_id", "occurred_on"),)

    activity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"))
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.contact_id"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.user_id"))
    kind: Mapped[str] = mapped_column(String(16))
    occurred_on: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)


class CustomerKpi(Base):
    __tablename__ = "customer_kpis"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    kpi_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    period_end: Mapped[date] = mapped_column(Date, primary_key=True)
    target: Mapped[float] = mapped_column(Float)
    actual: Mapped[float] = mapped_column(Float)
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True)


class ValueFactor(Base):
    __tablename__ = "value_factors"

    factor: Mapped[str] = mapped_column(String(100), primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)


class AccountScore(Base):
    __tablename__ = "account_scores"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    factor: Mapped[str] = mapped_column(ForeignKey("value_factors.factor"), primary_key=True)
    scored_on: Mapped[date] = mapped_column(Date, primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    scored_by: Mapped[str | None] = mapped_column(String(64))


class AccountPlan(Base):
    """Account plans written by the assistant; each save is a new version."""

    __tablename__ = "account_plans"
    __table_args__ = (UniqueConstraint("account_id", "version"),)

    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.user_id"))
    created_on: Mapped[datetime] = mapped_column(DateTime)
    body_markdown: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    canvas_id: Mapped[str | None] = mapped_column(String(32))  # published as a Slack canvas


class SlackEvent(Base):
    """A Slack event id already taken by a worker: retried deliveries of it are acked, not answered.

    Shared through the database so that two workers never both answer one event.
    """

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class DigestSend(Base):
    """A weekly digest claimed for a recipient (ISO week, e.g. "2026-W49"): whichever
    replica's cron claims it first sends it; the others skip it."""

    __tablename__ = "digest_sends"

    week: Mapped[str] = mapped_column(String(8), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime)


class SlackFeedback(Base):
    """A helpful / not helpful vote on an answer in Slack; one vote per person and answer."""

    __tablename__ = "slack_feedback"
    __table_args__ = (UniqueConstraint("answer_id", "slack_user_id"),)

    feedback_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[str] = mapped_column(String(120))
    question_id: Mapped[str] = mapped_column(String(120))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    # No foreign key: a vote outlives the user row it was cast under.
    user_id: Mapped[str | None] = mapped_column(String(64))
    helpful: Mapped[bool] = mapped_column(Boolean)
    voted_at: Mapped[datetime] = mapped_column(DateTime)


class SlackPending(Base):
    """A Slack reply under way: an event a worker took, or a placeholder it posted, that has
    not yet been replaced by its answer.

    Shared through the database, so that when a worker dies, or the bot stops before an
    answer is finished, another process can replace each one with an apology (no
    "Looking into…" left forever). `owner` is `host:pid` of the process doing the work.
    """

    __tablename__ = "slack_pending"
    __table_args__ = (
        Index("ix_slack_pending_thread", "channel", "thread_ts"),
        Index("ix_slack_pending_reply", "channel", "reply_ts"),
    )

    pending_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    reply_ts: Mapped[str | None] = mapped_column(String(32))
    # "placeholder" (a message to replace) or "stream" (a streamed message to close).
    reply_kind: Mapped[str | None] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(120), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ChannelSlot(Base):
    """When the next message may go to a Slack channel (seconds since the epoch): one
    message per second per channel, shared by every process that posts."""

    __tablename__ = "slack_channel_slots"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)


class RateBucket(Base):
    """A per-user token bucket (questions), shared by every process that answers."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    allowed: Mapped[bool] = mapped_column(Boolean)


class KpiSnapshot(Base):
    """One account's main KPIs as they stood at the end of one ISO week (`kam snapshot`).

    One row per account and week, keyed by the week's Monday; taking the week again
    replaces its rows. Money in cents, ratios as fractions, the others in their KPI's unit;
    NULL where the KPI is undefined. `owner_user_id` is the owner at the time, so a
    manager's "whose book moved" follows the book, not today's owner.
    """

    __tablename__ = "kpi_snapshots"
    __table_args__ = (Index("ix_kpi_snapshots_account_week", "account_id", "week_start"),)

    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    owner_user_id: Mapped[str] = mapped_column(String(64))
    revenue_cents: Mapped[int] = mapped_column(Cents)
    prior_revenue_cents: Mapped[int] = mapped_column(Cents)
    revenue_growth: Mapped[float | None] = mapped_column(Float)
    gross_margin_cents: Mapped[int] = mapped_column(Cents)
    profitability: Mapped[float | None] = mapped_column(Float)
    share_of_wallet: Mapped[float | None] = mapped_column(Float)
    nps: Mapped[float | None] = mapped_column(Float)
    nps_responses: Mapped[int] = mapped_column(Integer)
    csat: Mapped[float | None] = mapped_column(Float)
    csat_responses: Mapped[int] = mapped_column(Integer)
    churn_risk: Mapped[int] = mapped_column(Integer)
    # The churn warning signs that fired, comma-separated in the order of tools.kpi_config.SIGNS.
    churn_signs: Mapped[str] = mapped_column(String(300))
    strategic_value: Mapped[float | None] = mapped_column(Float)
    taken_at: Mapped[datetime] = mapped_column(DateTime)
