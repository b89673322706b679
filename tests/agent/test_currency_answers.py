"""Answers about accounts billed in other currencies: figures in the reporting currency,
with the account's own currency and the growth at constant currency beside them."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest

from bot.factory import build_assistant, build_services
from store.demo import generate
from store.importer import import_paths
from tests.agent.conftest import agent_settings


@pytest.fixture(scope="module")
def currency_home(tmp_path_factory, guidance_home: Path) -> Path:
    home = tmp_path_factory.mktemp("currency-home")
    shutil.copytree(guidance_home / "chroma", home / "data" / "chroma")
    generate(home / "csv", currencies=True)
    services = build_services(agent_settings(home))
    import_paths(services.engine, [home / "csv"])
    services.close()
    return home


@pytest.fixture(scope="module")
def answers(currency_home: Path, embedder) -> dict[tuple[str, str], str]:
    """Anna's answers, by (KAM_LOCALE, question)."""
    asked = {"de": ["How is Globex Logistics doing?"],
             "en": ["How is Globex Logistics doing?", "How is Acme Industrial doing?"]}
    out = {}
    for locale, questions in asked.items():
        settings = agent_settings(currency_home, kam_locale=locale)
        services = build_services(settings)
        assistant = build_assistant(settings, services, embedder)
        for question in questions:
            out[locale, question] = assistant.answer(
                "u_kam_anna", question, uuid.uuid4().hex).text
        assistant.close()
        services.close()
    return out


def test_an_account_billed_in_usd_shows_euros_then_dollars_and_constant_currency_growth(answers):
    text = answers["en", "How is Globex Logistics doing?"]

    revenue = re.search(r"- Revenue: €[\d,]+ \(prior €[\d,]+; growth -?[\d.]+%\)", text)
    billed = re.search(
        r"billed in USD: \$[\d,]+ \(prior \$[\d,]+; growth at constant currency -?[\d.]+%", text
    )
    assert revenue, text
    assert billed, text
    assert text.index(revenue.group(0)) < text.index(billed.group(0))  # the figure asked first


def test_an_account_billed_in_euros_has_no_second_currency(answers):
    text = answers["en", "How is Acme Industrial doing?"]

    assert re.search(r"- Revenue: €[\d,]+", text), text
    assert "billed in" not in text and "constant currency" not in text


def test_the_locale_writes_the_amounts(answers):
    text = answers["de", "How is Globex Logistics doing?"]

    # German: dots group thousands, the sign follows after a no-break space.
    assert re.search(r"- Revenue: [\d.]+\u00a0€ \(prior [\d.]+\u00a0€", text), text
    assert re.search(r"billed in USD: [\d.]+\u00a0\$", text), text
