"""Reading a question into a `Request`: intent and slots, decided separately.

Slots come from the words: account names the caller may see (and, to say "I can't find
it", names they may not), colleagues' first names, teams, regions, industries, tiers,
KPI words (prompts/offline/lexicon.yaml), periods (`periods`), counts and thresholds.
The intent comes from a trained classifier (`classifier`) over the question with its
names masked, corrected by a few rules that are certain: a request to act (book, email,
update) is out of scope; a how-to question that names no account is guidance; a KPI word
decides the KPI whatever intent wins. A short follow-up in a thread ("and csat?", "what
about initech", "why?", "now by margin") is read against the previous request.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.agent.offline import changes
from bot.agent.offline.classifier import IntentModel
from bot.agent.offline.lexicon import Hit, Lexicon
from bot.agent.offline.names import Mention, NameIndex, fold, named, tokens
from bot.agent.offline.periods import PeriodReader
from bot.agent.offline.request import NEEDS_ACCOUNT, Period, Request, Threshold
from store.access import AccessScope
from store.models import Account, User
from tools.history import TRACKED
from tools.movers import last_qbr
from tools.periods import resolve_as_of

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20}
# KPI words in masked text: one readable token per KPI, so the classifier sees "ACCOUNT
# margin" whether people typed "gm", "margin" or "gross margin".
KPI_TOKENS = {
    "revenue": "revenue", "revenue_growth": "growth", "gross_margin": "margin",
    "profitability": "profitability", "share_of_wallet": "walletshare",
    "logo_retention": "logoretention", "grr": "grr", "nrr": "nrr", "upsell_cross_sell": "upsell",
    "nps": "nps", "kam_nps": "kamnps", "csat": "csat", "clv": "clv", "churn_risk": "churnrisk",
    "penetration": "penetration", "strategic_value": "strategicvalue",
    "selection_matrix": "quadrant",
}
FOLLOW_UP = re.compile(
    r"^(and|what about|how about|same for|same thing for|now for|and for|ok,? and|ok,? now|now|"
    r"also|then|ok so|and what about|what of|plus|(ok )?(do|same|repeat) (that|the same|this|"
    r"one|it) for)\b")
DO_THAT = re.compile(r"\b(do|same|repeat) (that|the same|this|one|it) (for|with|on)\b|"
                     r"\bsame (thing )?for\b")
DRAFTS = [(re.compile(r"\bprep|brief"), "draft_prep"), (re.compile(r"\bagenda"), "draft_agenda"),
          (re.compile(r"\bplan\b"), "draft_plan")]
PEOPLE_PRONOUNS = re.compile(r"\b(his|her|hers|him|she|he)\b")
PRONOUNS = re.compile(r"\b(them|they|their|theirs|it|its|there|that account|this account|"
                      r"that one|this one|same account|the account)\b")
WHY = re.compile(r"^(why|how come|whats driving (it|that)|what is driving (it|that)|reason)\b")
SHORTER = re.compile(r"\b(shorter|more brief|briefer|tl;?dr|summari[sz]e (that|it)|condense)\b")
HOW_TO = re.compile(
    r"^(how (do|should|can|would|to)|how to|what (is|are|does|s) (a |an |the )?(good|best|"
    r"difference|meaning|definition)|whats the difference|what does|what do .* mean|what is "
    r"(a|an)\b|whats (a|an)\b|tips|best practices?|any (tips|advice)|advice on|guidance|"
    r"explain|define|when should|should i|is it better|why (do|does|should) (we|i|you)|"
    r"what (is|are|s) (a |an |the )?[a-z ]+ (analysis|defined|calculated|measured|mean|means)\b)")
# How a measure is worked out, wherever it is asked ("what is sow exactly and how is it
# calculated"): a definition, answered from the guidance when no account is named.
DEFINED = re.compile(r"\bhow (is|are) (a |an |the )?[a-z ]+ (defined|calculated|computed|measured|"
                     r"scored|worked out|derived|figured out)\b")
ACTION_LEAD = re.compile(r"^(?:(?:hey|hi|ok|okay|please|pls|plz|can you|could you|would you|"
                         r"can u|could u|go ahead and|quickly|just|and)\s+)*")
PERSON_BOOK = re.compile(r"\b(accounts|accts|book|portfolio|doing|numbers)\b")
COUNT = re.compile(r"\b(?:top|bottom|best|worst|first|last|highest|lowest|biggest|largest|"
                   r"smallest|strongest|weakest|poorest|my)\s+(\d{1,3}|"
                   + "|".join(NUMBER_WORDS) + r")\b|\b(\d{1,3}|" + "|".join(NUMBER_WORDS)
                   + r")\s+(?:accounts|accts|customers|clients|biggest|largest|best|worst|"
                     r"highest|lowest|churn|at risk|risks|riskiest|by)\b")
NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)\s*(%|pct|percent|k|m)?")
COMPARE_ACCOUNTS = re.compile(r"\b(compare|vs|versus|against|or)\b")
GROUP_BY = {"owner": re.compile(r"\b(by|per|each|rank|compare|which) (kam|kams|rep|reps|owner|"
                                r"person|account manager)s?\b|\bkams\b.*\b(by|on)\b|\bmy kams\b"),
            "team": re.compile(r"\b(by|per|each) team\b|\bnorth vs\.? south\b|\bsouth vs\.? north"
                               r"\b|\bteams\b"),
            "region": re.compile(r"\b(by|per|each) region\b|\bregions\b"),
            "tier": re.compile(r"\b(by|per|each) tier\b|\btiers\b"),
            "industry": re.compile(r"\b(by|per|each) (industry|sector|vertical)\b")}
# In a thread about an account, "any open tickets?" is about that account; "my", "all",
# "team" or "across" make it about the whole book.
ABOUT_ONE_ACCOUNT = NEEDS_ACCOUNT | {"opportunities", "tickets", "compare_periods", "kpi"}
BOOK = re.compile(r"\b(my|all|our|team|book|portfolio|across|everyone|everywhere|accounts|accts|"
                  r"customers|any of|which|who|whos|top|bottom|rank)\b")
COMPARING = re.compile(r"\b(compare|compared|comparison|vs|versus|against|than)\b")
PERIOD_WORDS = re.compile(r"\b(q[1-4]|h[12]|quarter|qtr|year|yr|month|ytd|20\d\d|fy\d\d|"
                          r"last|this|prior|previous)\b")
GROWN = re.compile(r"\b(grow|grown|grew|growing|growth|shrunk|shrank|shrinking)\b")
BOOK_OWN = re.compile(r"\b(my|mine|our|whole|all) (book|portfolio|accounts|accts|team|kams)\b")
JOINED = re.compile(r"\b(and|or|plus|also|with|as well as)\b|[+&,/]")
LOSING = re.compile(r"\b(lose|losing|lost|lost us) money\b|\bunprofitable\b|\bloss making\b|"
                    r"\bin the red\b|\bunderwater\b")
DECLINING = re.compile(r"\b(declining|shrinking|shrank|shrunk|going down|losing revenue|"
                       r"revenue (is )?(down|falling|dropping)|down on last year)\b")
BOUNDS = re.compile(r"\b(below|under|above|over|less than|more than)\b")
RENEW_WITH = re.compile(r"\b(renew|renewal|renewals|contract end|when they renew)\b")
PERCENT_KPIS = {"revenue_growth", "profitability", "share_of_wallet", "logo_retention", "grr",
                "nrr", "csat", "penetration", "upsell_cross_sell"}


@dataclass
class Names:
    """The names one caller's question is read against (rebuilt at most once a minute)."""

    accounts: NameIndex
    elsewhere: NameIndex  # every account, to recognise one the caller may not see
    people: NameIndex
    teams: dict[str, str]
    regions: dict[str, str]  # folded phrase -> region value
    industries: dict[str, str]
    account_names: dict[str, str]
    user_roles: dict[str, str]
    user_names: dict[str, str]
    as_of: date
    built: float = field(default_factory=time.monotonic)


class Directory:
    """Names in the store: the caller's accounts, every account, colleagues, teams, regions.

    What every caller shares (every account, the people, regions, industries, as-of) is
    read once a minute; only the caller's own accounts are read per scope.
    """

    TTL_S = 60.0

    def __init__(self, sessions: sessionmaker[Session], lexicon: Lexicon,
                 as_of: date | None = None):
        self.sessions = sessions
        self.lexicon = lexicon
        self.as_of = as_of
        self._cache: dict[str, Names] = {}
        self._shared: Names | None = None
        self._lock = threading.Lock()

    def names(self, scope: AccessScope) -> Names:
        key = f"{scope.user_id}:{scope.role}:{scope.team}"
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and time.monotonic() - cached.built < self.TTL_S:
                return cached
        built = self._scoped(scope, self._everyone())
        with self._lock:
            self._cache[key] = built
        return built

    def _everyone(self) -> Names:
        """The names every caller's question is read against; `accounts` left empty."""
        with self._lock:
            shared = self._shared
        if shared is not None and time.monotonic() - shared.built < self.TTL_S:
            return shared
        common = self.lexicon.stopwords
        with self.sessions() as session:
            every = session.execute(select(Account.account_id, Account.name)).all()
            users = session.execute(select(User.user_id, User.name, User.role, User.team)).all()
            regions = session.scalars(select(Account.region).distinct()).all()
            industries = session.scalars(select(Account.industry).distinct()).all()
            as_of = resolve_as_of(session, self.as_of)
        region_words = {fold(r): r for r in regions if r}
        for value, aliases in self.lexicon.regions.items():
            if value in region_words.values():
                region_words.update({fold(a): value for a in aliases})
        shared = Names(
            accounts=NameIndex([], common),
            elsewhere=NameIndex([named(a, n) for a, n in every] + [named(a, a) for a, _ in every],
                                common),
            people=NameIndex([named(u.user_id, u.name) for u in users], common | {"team"}),
            teams={fold(u.team): u.team for u in users if u.team},
            regions=region_words,
            industries={fold(i): i for i in industries if i},
            account_names={a: n for a, n in every},
            user_roles={u.user_id: u.role for u in users},
            user_names={u.user_id: u.name for u in users},
            as_of=as_of,
        )
        with self._lock:
            self._shared = shared
        return shared

    def last_qbr(self, scope: AccessScope, account_id: str, as_of: date) -> date | None:
        with self.sessions() as session:
            return last_qbr(session, scope, account_id, as_of)

    def _scoped(self, scope: AccessScope, shared: Names) -> Names:
        with self.sessions() as session:
            mine = session.execute(
                select(Account.account_id, Account.name).where(scope.account_clause())).all()
        accounts = NameIndex([named(a, n) for a, n in mine] + [named(a, a) for a, _ in mine],
                             self.lexicon.stopwords)
        return dataclasses.replace(shared, accounts=accounts, built=time.monotonic())


@dataclass
class Words:
    """What was found in one question's text."""

    text: str  # folded
    words: list[str]
    accounts: list[Mention] = field(default_factory=list)
    unknown: list[Mention] = field(default_factory=list)  # accounts the caller may not see
    people: list[Mention] = field(default_factory=list)
    kpis: list[str] = field(default_factory=list)
    masked: str = ""


class Reader:
    """Reads questions for one store and lexicon with a trained intent classifier."""

    def __init__(self, directory: Directory, lexicon: Lexicon, classifier: IntentModel,
                 known_words: set[str], fiscal_start: int = 1, min_confidence: float = 0.33):
        self.directory = directory
        self.lexicon = lexicon
        self.classifier = classifier
        self.known_words = known_words
        self.fiscal_start = fiscal_start
        self.min_confidence = min_confidence

    # -- words ---------------------------------------------------------------------------

    def words(self, question: str, names: Names) -> Words:
        return find_words(question, names, self.lexicon)

    # -- the request ---------------------------------------------------------------------

    def read(self, question: str, scope: AccessScope, previous: Request | None = None) -> Request:
        names = self.directory.names(scope)
        found = self.words(question, names)
        periods = PeriodReader(names.as_of, self.fiscal_start)
        if previous is not None and previous.readings and (picked := pick_numbered(
                found.text, [previous.intent, *previous.readings])):
            chosen = previous.model_copy(update={"intent": picked, "readings": [],
                                                 "confidence": 1.0})
            return chosen
        intent, confidence, readings = self.intent(found, previous)
        request = Request(intent=intent, confidence=confidence, question=question,
                          readings=readings)
        self.fill(request, found, names, periods, scope)
        if request.intent == "kpi" and request.n is not None and not request.accounts and \
                not request.unknown and not request.group_by and \
                self.lexicon.direction.find(found.text):
            request.intent = "rank"  # "my worst 5 on nps": a figure has no count, a ranking has
        if previous is not None and self.is_follow_up(found, request, previous):
            request = self.follow(request, found, previous, names, periods, scope)
        elif previous is not None and not request.accounts and not request.unknown and \
                previous.topic and (PRONOUNS.search(found.text) or (
                    request.intent in ABOUT_ONE_ACCOUNT and not BOOK.search(found.text)
                    and not (request.owner or request.team or request.tier or request.region))):
            request.accounts = list(previous.topic)
            request.account_names = {k: names.account_names[k] for k in previous.topic}
        request.topic = request.accounts or (previous.topic if previous else [])
        if previous is not None and previous.owner and not request.owner and \
                PEOPLE_PRONOUNS.search(found.text):
            request.owner, request.owner_name = previous.owner, previous.owner_name
        if not request.accounts and not request.unknown and not request.ambiguous and \
                request.intent not in ("guidance", "out_of_scope"):
            request.unknown = self.stranger(found, names)
        if request.intent in ("kpi", "customer_kpis") and not request.accounts and \
                not request.unknown and not request.ambiguous and self.cued(found.text,
                                                                          "customer_kpis") and \
                (BOOK.search(found.text) or request.owner or request.team or request.tier):
            # The customers' own KPIs across a book: their achievement rolled up.
            request.intent, request.kpis = "kpi", ["customer_kpis"]
        request.also = self.also(found, request)
        return request

    def stranger(self, found: Words, names: Names) -> str | None:
        """A word that looks like a name nobody knows ("rev for cyberdyne"): not a word of the
        vocabulary, nor one typo away from one, nor a colleague's or a place's."""
        taken = {i for m in found.accounts + found.unknown + found.people
                 for i in range(m.start, m.end)}
        place_words = {w for p in [*names.regions, *names.industries, *names.teams]
                       for w in p.split()}
        for i, word in enumerate(found.words):
            if i in taken or len(word) < 4 or not word.isalpha() or word in self.known_words \
                    or word in place_words or word in self.lexicon.stopwords:
                continue
            if process.extractOne(word, self.known_words, scorer=fuzz.ratio,
                                  score_cutoff=85) is not None:
                continue  # a typo of an ordinary word ("renewls")
            return word
        return None

    def also(self, found: Words, request: Request) -> list[str]:
        """Second requests in one message ("open opps and tickets", "who's at risk and
        what's renewing"), in the order typed, after the main one."""
        if not JOINED.search(request.question.lower()) or request.intent in (
                "guidance", "out_of_scope", "draft_plan", "draft_agenda", "draft_prep",
                "risk_advice", "portfolio"):
            return []
        hits = sorted((hit.start, intent) for intent, matcher in self.lexicon.intent_cues.items()
                      for hit in matcher.find(found.text))
        extra: list[str] = []
        moved = changes.asks_change(found.text, found.kpis, book=True)
        for _, intent in hits:
            if intent != request.intent and intent not in extra and \
                    (intent not in NEEDS_ACCOUNT or request.accounts) and \
                    (intent != "movers" or moved):
                extra.append(intent)
        if request.intent == "kpi" or (request.intent == "account_summary" and request.kpis):
            extra = [i for i in extra if i != "account_summary" or request.intent != "kpi"]
        if request.intent == "account_summary" and request.kpis:
            extra.append("kpi")
        if request.intent == "rank":
            extra = [i for i in extra if i != "renewals"]  # ranked with their renewals instead
        return extra

    def intent(self, found: Words, previous: Request | None) -> tuple[str, float, list[str]]:
        """The intent, its probability, and the next likeliest readings when it is unsure."""
        intent, confidence, scores = self._intent(found, previous)
        if confidence >= self.min_confidence or scores is None:
            return intent, confidence, []
        ranked = sorted(scores, key=scores.__getitem__, reverse=True)
        return intent, confidence, [i for i in ranked[:3] if scores[i] >= 0.1 and i != intent]

    def _intent(self, found: Words, previous: Request | None
                ) -> tuple[str, float, dict[str, float] | None]:
        """The intent and its probability; the classifier's scores when it decided."""
        text = found.text
        lead = ACTION_LEAD.sub("", text)
        moved = changes.asks_change(text, found.kpis, bool(BOOK.search(text)))
        actions = self.lexicon.actions.find(lead)
        if actions and actions[0].start == 0 and not (moved and actions[0].phrase == "change"):
            return "out_of_scope", 1.0, None
        if WHY.match(text) and previous is not None and len(found.words) <= 6:
            return "risk_advice", 1.0, None
        if moved:
            return "movers", 0.95, None
        # "how did X do vs last year" compares periods; "how much has X grown vs the previous
        # year" asks for its growth.
        if COMPARING.search(text) and len(PERIOD_WORDS.findall(text)) >= 2 and \
                len(found.accounts) < 2 and not GROWN.search(text):
            return "compare_periods", 0.95, None
        scores = self.classifier.scores(found.masked)
        best = max(scores, key=scores.__getitem__)
        if best != "movers" and "movers" in scores:
            # Movers is a reading the change words did not back: its share must not make
            # another reading look unsure (and ask "do you mean…?").
            rest = 1.0 - scores.pop("movers")
            scores = {intent: score / rest for intent, score in scores.items()}
        if (HOW_TO.match(lead) or DEFINED.search(text)) and not found.accounts and \
                not found.unknown and not found.people and best not in (
                    "draft_plan", "draft_agenda", "draft_prep", "out_of_scope"):
            return "guidance", max(scores["guidance"], 0.9), None
        return best, scores[best], scores

    def fill(self, request: Request, found: Words, names: Names, periods: PeriodReader,
             scope: AccessScope) -> None:
        text = found.text
        for mention in found.accounts:
            if len(mention.keys) == 1:
                key = mention.keys[0]
                if key not in request.accounts:
                    request.accounts.append(key)
                    request.account_names[key] = names.account_names[key]
            else:
                request.ambiguous[mention.text] = mention.keys
                for key in mention.keys:
                    request.account_names[key] = names.account_names[key]
        if found.unknown and not request.accounts:
            request.unknown = found.unknown[0].text
        for mention in found.people:
            key = mention.keys[0]
            if len(mention.keys) == 1 and key == scope.user_id:
                request.owner_name = names.user_names[key]  # "zoe's book", asked by Zoë
            elif len(mention.keys) == 1 and names.user_roles.get(key) == "kam":
                request.owner, request.owner_name = key, names.user_names[key]
        request.kpis = list(found.kpis)
        request.risk_band = self.lexicon.risk_bands.first(text)
        if request.risk_band and "churn_risk" in request.kpis and (
                len(request.kpis) > 1 or request.intent == "at_risk"):
            request.kpis.remove("churn_risk")
        if LOSING.search(text):
            request.threshold = Threshold(kpi="profitability", op="below", value=0)
            request.kpis = ["profitability"]
        elif DECLINING.search(text) and request.intent == "rank" and not BOUNDS.search(text):
            request.threshold = Threshold(kpi="revenue_growth", op="below", value=0)
            request.kpis = ["revenue_growth"]
        plain = without_kpi_words(text, self.lexicon)
        request.period = _period(periods.period(plain))
        if request.period is not None and not re.search(r"\b(between|from)\b", plain):
            spans = [_period(periods.period(part)) for part in re.split(r"\b(?:and|vs|or)\b",
                                                                           plain)]
            request.more_periods = [s for s in spans if s is not None and s != request.period]
        request.n = count_in(text)
        direction = self.lexicon.direction.find(text)
        if direction:
            request.order = direction[0].value  # type: ignore[assignment]
        tier = self.tier(text, request.kpis)
        if tier is not None:
            # "growth accounts" names the tier, not growth as the KPI
            request.tier = tier.value
            named = {hit.value for hit in self.lexicon.kpis.find(tier.phrase)}
            request.kpis = [k for k in request.kpis if k not in named]
        request.quadrant = self.lexicon.quadrants.first(text)
        request.region = _phrase_value(text, names.regions)
        account_words = {w for m in found.accounts for w in found.words[m.start:m.end]}
        industry = _phrase_value(text, names.industries)
        if industry and not set(fold(industry).split()) <= account_words:
            request.industry = industry
        request.team = _team(text, names.teams, scope)
        for key, pattern in GROUP_BY.items():
            if pattern.search(text):
                request.group_by = key  # type: ignore[assignment]
                break
        request.threshold = request.threshold or self.threshold(text, request.kpis)
        request.days = periods.days_ahead(text)
        request.meeting = periods.day(fold(request.question))
        request.lookback = periods.days_back(text)
        request.with_renewals = request.intent == "rank" and bool(RENEW_WITH.search(text))
        if request.intent == "compare_periods":
            request.compare = compare_kind(text)  # type: ignore[assignment]
        if request.intent == "movers":
            self.movers(request, found, periods, scope)

    def tier(self, text: str, kpis: Sequence[str]) -> Hit | None:
        """The tier named. A tier word that is also a KPI word, right after a ranking
        direction and with no other KPI named, is the KPI: "lowest growth accounts" ranks by
        growth, "top 5 growth accounts by margin" ranks the growth tier."""
        for hit in self.lexicon.tiers.find(text):
            measure = [h.value for h in self.lexicon.kpis.find(hit.phrase)]
            before = text[:hit.start].split()[-1:]
            if measure and list(kpis) == measure and before and \
                    self.lexicon.direction.find(before[0]):
                continue
            return hit
        return None

    def movers(self, request: Request, found: Words, periods: PeriodReader,
               scope: AccessScope, follow_up: bool = False) -> None:
        """Which KPI moved which way over which window; a follow-up ("and csat?", "and this
        month?") changes only what it says."""
        text = found.text
        request.untracked = [k for k in request.kpis if k not in TRACKED]
        kpis = [k for k in request.kpis if k in TRACKED]
        if "revenue_growth" in kpis and not re.search(r"\b(grow\w*|growth|yoy)\b", text):
            kpis.remove("revenue_growth")  # "declined", "going down": a change, not growth
        request.kpis = kpis
        request.threshold, request.more_periods = None, []
        asked = count_in(text, changes.COUNT, changes.MOST)
        if not follow_up or asked is not None:
            request.n = asked
        kpi = kpis[0] if kpis else None
        way = changes.movement(text, kpi, TRACKED[kpi].higher_is_better if kpi else True)
        if way != "any" or not follow_up:
            request.movement = way  # type: ignore[assignment]
        span = changes.window(text, periods)
        if follow_up and span == changes.Window() and not changes.ONE_WEEK.search(text):
            return  # no window said: keep the previous one
        request.weeks, request.period = span.weeks, _period(span.span)
        if span.qbr:
            request.period = _period(self.since_qbr(request, periods, scope))

    def since_qbr(self, request: Request, periods: PeriodReader, scope: AccessScope
                  ) -> changes.Span:
        """From the one account's last QBR on record; else this quarter, saying why."""
        if len(request.accounts) != 1:
            return changes.this_quarter(periods, "QBR dates differ by account")
        account = request.accounts[0]
        name = request.account_names[account]
        held = self.directory.last_qbr(scope, account, periods.as_of)
        if held is None:
            return changes.this_quarter(periods, f"no QBR with {name} on record")
        return changes.qbr_span(held, name, periods.as_of)

    def threshold(self, text: str, kpis: Sequence[str]) -> Threshold | None:
        bounds = self.lexicon.bounds.find(text)
        if not bounds or not kpis:
            return None
        bound = bounds[0]
        rest = text[bound.end:].lstrip()
        word = rest.split(" ", 1)[0] if rest else ""
        match = NUMBER.match(rest)
        if match is None and word not in ("zero", "nothing"):
            return None
        value = 0.0 if match is None else float(match.group(1))
        kpi = kpis[0]
        unit = match.group(2) if match else None
        if unit in ("%", "pct", "percent") or (kpi in PERCENT_KPIS and abs(value) > 1):
            value /= 100
        elif unit == "k":
            value *= 1_000
        elif unit == "m":
            value *= 1_000_000
        return Threshold(kpi=kpi, op=bound.value, value=value)  # type: ignore[arg-type]

    # -- follow-ups ----------------------------------------------------------------------

    def is_follow_up(self, found: Words, request: Request, previous: Request) -> bool:
        if request.intent in ("out_of_scope", "guidance") and request.confidence >= 0.9:
            return False
        if request.intent == "risk_advice" and WHY.match(found.text):
            return True
        short = len(found.words) <= 5
        cue = FOLLOW_UP.match(found.text) is not None
        return cue or (short and request.confidence < 0.85) or (
            short and not request.accounts and not found.unknown and request.intent in (
                previous.intent, "kpi", "rank"))

    def follow(self, request: Request, found: Words, previous: Request, names: Names,
               periods: PeriodReader, scope: AccessScope) -> Request:
        """The previous request, changed by what this question says."""
        text = found.text
        if request.intent == "risk_advice" and WHY.match(text):
            merged = previous.model_copy(deep=True)
            merged.intent = "risk_advice"
            merged.question = request.question
            if request.accounts:
                merged.accounts, merged.account_names = request.accounts, request.account_names
            if not merged.accounts:
                merged.intent = "at_risk"
            return merged
        merged = previous.model_copy(deep=True)
        merged.question = request.question
        merged.unknown = request.unknown
        merged.confidence = 1.0
        if request.accounts or request.unknown:
            merged.accounts = request.accounts
            merged.account_names = request.account_names
        if request.ambiguous:
            merged.ambiguous = request.ambiguous
            merged.accounts = []
        else:
            merged.ambiguous = {}
        if previous.ambiguous and not request.accounts:
            # The reply offered the candidates of the first unclear name, numbered.
            offered = next(iter(previous.ambiguous.values()))
            picked = pick_numbered(text, offered) or pick_candidate(
                found.words, previous.ambiguous, names)
            if picked:
                merged.accounts, merged.ambiguous = [picked], {}
                merged.account_names[picked] = names.account_names[picked]
        if request.kpis:
            merged.kpis = request.kpis
            if merged.intent in ("account_summary", "at_risk", "renewals") and \
                    request.intent != "account_summary":
                merged.intent = "kpi" if merged.accounts else "rank"
        if request.threshold is not None:
            merged.threshold = request.threshold
        elif merged.threshold is not None and request.kpis:
            merged.threshold = merged.threshold.model_copy(update={"kpi": request.kpis[0]})
        if request.period is not None:
            merged.period = request.period
        elif re.search(r"\b(last|previous|prior) (year|yr)\b", text) and previous.period is None:
            merged.period = _period(periods.period("last year"))
        if request.n is not None:
            merged.n = request.n
        merged.meeting = request.meeting or merged.meeting
        if self.lexicon.direction.find(text):
            merged.order = request.order
        if request.intent == "renewals" or previous.intent == "renewals":
            merged.days = periods.days_ahead(text) or merged.days
        if request.owner or request.team or request.group_by or BOOK_OWN.search(text):
            # A new filter or grouping replaces the previous one ("and for team south?").
            merged.owner, merged.owner_name = request.owner, request.owner_name
            merged.team, merged.group_by = request.team, request.group_by
        for key in ("tier", "region", "industry", "quadrant", "risk_band"):
            if getattr(request, key):
                setattr(merged, key, getattr(request, key))
        switch = request.intent != previous.intent and request.confidence >= 0.5 and (
            (request.intent in NEEDS_ACCOUNT | {"opportunities", "tickets", "compare_periods"}
             and not FOLLOW_UP.match(text)) or self.cued(found.text, request.intent)
            or request.intent == "movers")
        if switch:
            merged.intent = request.intent
            merged.kpis = request.kpis
            merged.also = []
        if DO_THAT.search(text):
            merged.intent = previous.intent
            if previous.intent == "guidance":  # "what goes in a prep note?" "ok do one for X"
                merged.intent = next((intent for pattern, intent in DRAFTS
                                      if pattern.search(fold(previous.question))), "guidance")
        if merged.intent == "movers":
            self.movers(merged, found, periods, scope, follow_up=not switch)
        return merged

    def cued(self, text: str, intent: str) -> bool:
        """Whether the text has a cue word of `intent` ("renewals", "tickets")."""
        matcher = self.lexicon.intent_cues.get(intent)
        return matcher is not None and bool(matcher.find(text))


def find_words(question: str, names: Names, lexicon: Lexicon) -> Words:
    """Accounts (the caller's, and others'), people and KPI words in a question."""
    text = " ".join(tokens(question))
    found = Words(text, text.split())
    found.accounts = names.accounts.find(found.words)
    taken = {i for m in found.accounts for i in range(m.start, m.end)}
    found.unknown = [m for m in names.elsewhere.find(found.words)
                     if taken.isdisjoint(range(m.start, m.end)) and len(m.text) >= 4
                     and (m.end - m.start > 1 or any(
                         m.text in (tokens(names.account_names[k])[0], k.lower())
                         for k in m.keys))]
    taken |= {i for m in found.unknown for i in range(m.start, m.end)}
    found.people = [m for m in names.people.find(found.words)
                    if taken.isdisjoint(range(m.start, m.end))]
    found.masked = mask(found, lexicon)
    found.kpis = kpis_in(found, lexicon)
    return found


def without_kpi_words(text: str, lexicon: Lexicon) -> str:
    """The text with KPI phrases cut out ("up on last year" is growth, not a period)."""
    for hit in reversed(lexicon.kpis.find(text)):
        text = text[:hit.start] + " " + text[hit.end:]
    return text


def mask(found: Words, lexicon: Lexicon) -> str:
    """The question with names as ACCOUNT / PERSON and KPI words as one token per KPI."""
    words = list(found.words)
    for mention in found.accounts + found.unknown:
        words[mention.start] = "ACCOUNT"
        for i in range(mention.start + 1, mention.end):
            words[i] = ""
    for mention in found.people:
        words[mention.start] = "PERSON"
        for i in range(mention.start + 1, mention.end):
            words[i] = ""
    text = " ".join(w for w in words if w)
    out, last = [], 0
    for hit in lexicon.kpis.find(text):
        out.append(text[last:hit.start])
        out.append(KPI_TOKENS[hit.value])
        last = hit.end
    out.append(text[last:])
    return "".join(out)


def kpis_in(found: Words, lexicon: Lexicon) -> list[str]:
    """KPIs named outside account names, in the order typed, each once."""
    taken: set[int] = set()
    offsets, position = [], 0
    for word in found.words:
        offsets.append(position)
        position += len(word) + 1
    for mention in found.accounts + found.unknown + found.people:
        start = offsets[mention.start]
        end = offsets[mention.end - 1] + len(found.words[mention.end - 1])
        taken.update(range(start, end))
    kpis: list[str] = []
    hits = lexicon.kpis.find(found.text)
    for hit in hits:
        if taken.isdisjoint(range(hit.start, hit.end)) and hit.value not in kpis:
            kpis.append(hit.value)
    covered = taken | {i for hit in hits for i in range(hit.start, hit.end)}
    for word, start in zip(found.words, offsets, strict=True):
        if start in covered or len(word) < 5 or word in lexicon.stopwords:
            continue
        kpi = lexicon.kpi_typo(word)  # "margn", "profitablity"
        if kpi and kpi not in kpis:
            kpis.append(kpi)
    if "revenue_growth" in kpis and "revenue" in kpis:
        kpis.remove("revenue")  # "revenue growth" read as two words
    if "churn_risk" in kpis and len(kpis) > 1 and "at risk" in found.text:
        kpis.remove("churn_risk")
    return kpis


def count_in(text: str, pattern: re.Pattern[str] = COUNT, most: int = 50) -> int | None:
    """How many a question asks for ("top 3", "5 accounts"), up to `most`."""
    match = pattern.search(text)
    if not match:
        return None
    word = match.group(1) or match.group(2)
    value = int(word) if word.isdigit() else NUMBER_WORDS[word]
    return value if 0 < value <= most else None


ORDINALS = {
    **{str(n): n - 1 for n in range(1, 10)},
    "first": 0, "one": 0, "second": 1, "two": 1, "third": 2, "three": 2, "fourth": 3,
    "four": 3, "fifth": 4, "five": 4, "last": -1,
}


def pick_numbered(text: str, options: Sequence[str]) -> str | None:
    """Which of the numbered options offered a reply picks ("2", "the second one", "#3")."""
    match = re.fullmatch(r"(?:the |option |number |no |#)?(\w+)(?: one| option)?\.?",
                         text.strip())
    index = ORDINALS.get(match.group(1)) if match else None
    if index is None or index >= len(options):
        return None
    return options[index]


def compare_kind(text: str) -> str:
    if re.search(r"\b(same (?:quarter|qtr)|(?:quarter|qtr) last (?:year|yr)|q([1-4]) vs (\.? )?q\2|"
                 r"yoy (?:quarter|qtr)|q([1-4]) (last|this) (year|yr))\b", text):
        return "quarter_yoy"
    if re.search(r"\b(quarter|qtr|qoq|q[1-4])\b", text):
        return "quarter"
    return "year"


def pick_candidate(words: Sequence[str], ambiguous: dict[str, list[str]], names: Names) -> \
        str | None:
    """Which of the candidates offered ("the industrial one", "foods") the reply picks."""
    typed = set(words)
    picks = set()
    for candidates in ambiguous.values():
        for key in candidates:
            rest = set(tokens(names.account_names[key])) - set(tokens(" ".join(ambiguous)))
            if rest & typed or key.lower() in typed:
                picks.add(key)
    return picks.pop() if len(picks) == 1 else None


def _period(span) -> Period | None:
    return None if span is None else Period(start=span.start, end=span.end, label=span.label)


def _phrase_value(text: str, phrases: dict[str, str]) -> str | None:
    for phrase in sorted(phrases, key=len, reverse=True):
        if re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", text):
            return phrases[phrase]
    return None


def _team(text: str, teams: dict[str, str], scope: AccessScope) -> str | None:
    """A team named as a filter ("team north", "north's renewals"), not as a comparison. A
    manager's own team is no filter (it is all they see); a KAM's is, and is refused: they
    see their own accounts, not the team's."""
    own = scope.team if scope.role == "manager" else None
    for word, team in teams.items():
        if re.search(rf"\b(team {word}|{word} team|{word}s? (accounts|renewals|book|portfolio|"
                     rf"pipeline|kams))\b", text) and team != own:
            return team
    return None
