"""The offline model's reading pieces on their own: period language, names as people type
them, the lexicon, and asking when the classifier is unsure."""

from __future__ import annotations

from datetime import date

import pytest

from bot.agent.offline import classifier
from bot.agent.offline.lexicon import Lexicon
from bot.agent.offline.names import NameIndex, fold, named, tokens
from bot.agent.offline.periods import PeriodReader
from bot.agent.offline.reading import compare_kind, pick_numbered

AS_OF = date(2026, 9, 30)


@pytest.mark.parametrize(("words", "start", "end"), [
    ("rev ytd", date(2026, 1, 1), AS_OF),
    ("so far this year", date(2026, 1, 1), AS_OF),
    ("last year", date(2025, 1, 1), date(2025, 12, 31)),
    ("in 2025", date(2025, 1, 1), date(2025, 12, 31)),
    ("fy25", date(2025, 1, 1), date(2025, 12, 31)),
    ("last quarter", date(2026, 7, 1), AS_OF),
    ("q2", date(2026, 4, 1), date(2026, 6, 30)),
    ("q4", date(2025, 10, 1), date(2025, 12, 31)),  # the latest Q4, not one in the future
    ("h1", date(2026, 1, 1), date(2026, 6, 30)),
    ("last month", date(2026, 9, 1), AS_OF),
    ("since march", date(2026, 3, 1), AS_OF),
    ("between march and june", date(2026, 3, 1), date(2026, 6, 30)),
    ("between november and february", date(2025, 11, 1), date(2026, 2, 28)),
    ("last 6 months", date(2026, 4, 1), AS_OF),
])
def test_period_words_become_dates(words, start, end):
    span = PeriodReader(AS_OF).period(words)
    assert (span.start, span.end) == (start, end)


@pytest.mark.parametrize("words", ["ltm", "ttm", "past 12 months", "last twelve months", "nps"])
def test_the_default_twelve_months_is_no_period(words):
    assert PeriodReader(AS_OF).period(words) is None


def test_fiscal_years_starting_in_april_cross_the_calendar_year():
    reader = PeriodReader(date(2026, 2, 10), fiscal_start=4)
    fy26 = reader.period("fy26")
    assert (fy26.start, fy26.end, fy26.label) == (date(2025, 4, 1), date(2026, 2, 10),
                                                  "FY26 to date")
    q3 = reader.period("q3")
    assert (q3.start, q3.end) == (date(2025, 10, 1), date(2025, 12, 31))
    q4 = reader.period("q4 fy25")
    assert (q4.start, q4.end) == (date(2025, 1, 1), date(2025, 3, 31))


def test_a_leap_year_february_ends_on_the_29th():
    reader = PeriodReader(date(2024, 3, 31))
    span = reader.period("last 2 months")
    assert (span.start, span.end) == (date(2024, 2, 1), date(2024, 3, 31))
    assert reader.period("between february and february").end == date(2024, 2, 29)


def test_forward_windows_for_renewals_end_with_the_quarter_or_year():
    reader = PeriodReader(AS_OF)
    assert reader.days_ahead("renewals next quarter") == 92  # to 31 December
    assert reader.days_ahead("renewals next 60d") == 60
    assert reader.days_ahead("what renews in the next 6 months") == 182
    assert reader.days_back("calls in the last 2 weeks") == 14


@pytest.mark.parametrize(("words", "day"), [
    ("qbr on 2027-02-09", date(2027, 2, 9)),
    ("we meet feb 9th", date(2027, 2, 9)),  # no year: the next 9 February after as-of
    ("the meeting is the 5th of october", date(2026, 10, 5)),
    ("on 12 march 2026", date(2026, 3, 12)),
    ("meeting on sept 30", date(2026, 9, 30)),
])
def test_a_meeting_day_is_read_whole(words, day):
    assert PeriodReader(AS_OF).day(fold(words)) == day


@pytest.mark.parametrize("words", ["qbr agenda in march", "on feb 30", "last 2 months"])
def test_no_day_is_made_up_from_a_month_or_an_impossible_date(words):
    assert PeriodReader(AS_OF).day(fold(words)) is None


@pytest.mark.parametrize(("words", "kind"), [
    ("q3 against the same qtr last year", "quarter_yoy"),
    ("this quarter vs the qtr last yr", "quarter_yoy"),
    ("yoy qtr for my book", "quarter_yoy"),
    ("this qtr vs last qtr", "quarter"),
    ("this year vs last", "year"),
])
def test_qtr_is_read_as_quarter_when_comparing_periods(words, kind):
    assert compare_kind(words) == kind


def test_names_are_folded_as_people_type_them():
    assert tokens("O'Hara & Daughters") == ["ohara", "and", "daughters"]
    assert fold("Müller Ålesund Łódź Søren") == "muller aalesund lodz soren"
    assert tokens("growth below -10%") == ["growth", "below", "-10%"]


def index(*names: tuple[str, str]) -> NameIndex:
    return NameIndex([named(key, label) for key, label in names], Lexicon().stopwords)


@pytest.mark.parametrize(("typed", "key"), [
    ("muller maschinenbau", "A1"), ("o hara", "A2"), ("ohara", "A2"), ("halcyon hosp", "A3"),
    ("globx", "A4"), ("intiech", "A5"), ("beacon mfg", "A6"),
])
def test_one_typo_an_abbreviation_or_a_first_word_finds_the_account(typed, key):
    found = index(("A1", "Müller Maschinenbau"), ("A2", "O'Hara & Daughters"),
                  ("A3", "Halcyon Hospital Group"), ("A4", "Globex Logistics"),
                  ("A5", "Initech Software"), ("A6", "Beacon Manufacturing")).find(tokens(typed))
    assert [m.keys for m in found] == [[key]]


def test_a_shared_first_word_is_ambiguous_and_ordinary_words_name_nothing():
    names = index(("A1", "Acme Industrial"), ("A2", "Acme Foods"), ("A3", "North Packaging"))
    assert [m.keys for m in names.find(tokens("how is acme"))] == [["A1", "A2"]]
    assert [m.keys for m in names.find(tokens("acme foods rev"))] == [["A2"]]
    assert names.find(tokens("north vs south revenue")) == []


def test_kpi_words_and_typos_map_to_one_kpi():
    lexicon = Lexicon()
    text = " ".join(tokens("what did they bring in, and the gm, cts and sow"))
    assert [h.value for h in lexicon.kpis.find(text)] == [
        "revenue", "gross_margin", "profitability", "share_of_wallet"]
    assert lexicon.kpi_typo("margn") == "gross_margin"
    assert lexicon.kpi_typo("profitablity") == "profitability"
    assert lexicon.kpi_typo("people") is None


def test_an_unsure_classifier_offers_its_likeliest_readings():
    model = classifier.fit(
        ["show revenue", "show me revenue", "show renewals", "show me renewals"],
        ["kpi", "kpi", "renewals", "renewals"])
    scores = model.scores("show me")
    assert max(scores.values()) < 0.6  # a coin toss: the reader asks instead of guessing
    assert pick_numbered("2", ["kpi", "renewals"]) == "renewals"
    assert pick_numbered("the first one", ["kpi", "renewals"]) == "kpi"
    assert pick_numbered("the last one", ["kpi", "renewals"]) == "renewals"
    assert pick_numbered("3", ["kpi", "renewals"]) is None
    assert pick_numbered("both", ["kpi", "renewals"]) is None



def test_the_classifier_answers_as_scikit_learn_would_without_importing_it(tmp_path):
    texts = ["how is ACCOUNT doing", "ACCOUNT revenue ytd", "top 5 by growth", "renewals next q",
             "how do i prep a qbr", "ACCOUNT churnrisk", "book a meeting with ACCOUNT"] * 2
    labels = ["account_summary", "kpi", "rank", "renewals", "guidance", "kpi",
              "out_of_scope"] * 2
    chars, words, reference = classifier.fit_sklearn(texts, labels)
    model = classifier.fit(texts, labels)
    model.save(tmp_path / "model")
    loaded = classifier.IntentModel.load(tmp_path / "model")
    from scipy.sparse import hstack

    for text in ("how is ACCOUNT", "ACCOUNT revenue", "prep a qbr", "nothing alike"):
        expected = reference.predict_proba(
            hstack([chars.transform([text]), words.transform([text])]).tocsr())[0]
        got = loaded.scores(text)
        assert [got[label] for label in reference.classes_] == pytest.approx(list(expected))
