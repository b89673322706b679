"""Finding accounts by name or id: case, typos, partial names, ambiguity, scope."""

from __future__ import annotations

import pytest

from tools.find import AmbiguousAccount, find_accounts, resolve_account
from tools.selection import AccountNotFound


@pytest.fixture
def anna(engine_as):
    engine = engine_as("u_kam_anna")
    return lambda ref: find_accounts(engine.session, engine.scope, ref)


@pytest.mark.parametrize("ref,account_id", [
    ("Globex Logistics", "A0003"),
    ("globex logistics", "A0003"),
    ("GLOBEX", "A0003"),
    ("Globx", "A0003"),
    ("Northwnd Traders", "A0004"),
    ("initech", "A0005"),
    ("a0007", "A0007"),
    ("Acme Foods", "A0002"),
    ("acme industrial", "A0001"),
    ("Acme Indstrial", "A0001"),
])
def test_one_account_is_found_despite_case_and_typos(anna, ref, account_id):
    found = anna(ref)
    assert found.match is not None, found
    assert found.match.account_id == account_id


def test_a_shared_word_is_ambiguous(anna):
    found = anna("Acme")
    assert found.match is None
    assert {c.name for c in found.candidates} == {"Acme Industrial", "Acme Foods"}


@pytest.mark.parametrize("ref", ["Umbrella Pharma", "A0008", "Umbrela", "Wholly Unknown Corp"])
def test_accounts_outside_the_scope_are_never_candidates(anna, ref):
    found = anna(ref)
    assert (found.match, found.candidates) == (None, [])


def test_resolve_raises_the_two_lookup_errors(engine_as):
    engine = engine_as("u_kam_anna")
    with pytest.raises(AmbiguousAccount):
        resolve_account(engine.session, engine.scope, "acme")
    with pytest.raises(AccountNotFound, match="not found or not yours"):
        resolve_account(engine.session, engine.scope, "Umbrella Pharma")
    admin = engine_as("u_admin")
    assert resolve_account(admin.session, admin.scope, "Umbrella Pharma").account_id == "A0008"
