"""`kam draft plan|agenda|prep` and `kam plan list|show|diff` through Typer's CliRunner, on a
copy of the demo database and a data dir whose index holds the shipped corpus."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.cli import app
from store.access import resolve_scope
from tools.plans import save_plan

runner = CliRunner()


@pytest.fixture
def kam(cli_home):
    def run(*args: str):
        return runner.invoke(app, list(args), env=cli_home)

    return run


def test_draft_plan_prints_the_plan_and_saves_version_one(kam):
    result = kam("draft", "plan", "Globex", "--as-user", "u_kam_anna")

    assert result.exit_code == 0, result.output
    for heading in ("Goals", "Timeline", "Risks", "Growth opportunities", "Stakeholder actions",
                    "KPIs to track", "Sources"):
        assert heading in result.output
    assert "Saved as version 1 of the account plan for Globex Logistics." in result.output


def test_plan_diff_shows_what_changed_between_two_versions(kam, tmp_path):
    first = kam("draft", "plan", "Globex", "--as-user", "u_kam_anna", "--as-of", "2026-06-30",
                "--out", str(tmp_path / "v1.md"))
    second = kam("draft", "plan", "Globex", "--as-user", "u_kam_anna",
                 "--out", str(tmp_path / "v2.md"))
    diff = kam("plan", "diff", "Globex", "--as-user", "u_kam_anna")

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "Saved as version 2" in second.output
    assert diff.exit_code == 0, diff.output
    assert "--- A0003 plan v1" in diff.output and "+++ A0003 plan v2" in diff.output
    assert "-_Key account A0003 · owner Anna Berg · Chemicals, North America · drafted from " \
           "data as of 2026-06-30._" in diff.output
    assert "+_Key account A0003 · owner Anna Berg · Chemicals, North America · drafted from " \
           "data as of 2026-09-30._" in diff.output
    same = kam("plan", "diff", "Globex", "2", "2", "--as-user", "u_kam_anna")
    assert "Versions 2 and 2 are identical." in same.output


@pytest.fixture
def two_globex_plans(sessions):
    with sessions() as session:
        anna = resolve_scope(session, user_id="u_kam_anna")
    for as_of in ("2026-06-30", "2026-09-30"):
        save_plan(sessions, anna, "A0003", f"# Account plan\n\ndrafted from data as of {as_of}\n")


def test_plan_list_and_show(kam, two_globex_plans):

    listing = kam("plan", "list", "Globex", "--as-user", "u_kam_anna")
    shown = kam("plan", "show", "Globex", "--version", "1", "--as-user", "u_kam_anna")

    assert listing.exit_code == 0, listing.output
    assert "Account plans: Globex Logistics" in listing.output
    assert listing.output.count("Anna Berg") == 2 and "draft" in listing.output
    assert shown.exit_code == 0, shown.output
    assert "Globex Logistics: plan version 1 (draft)" in shown.output
    assert "drafted from data as of 2026-06-30" in shown.output


def test_a_kam_cannot_see_another_kams_plans(kam, two_globex_plans):
    for args in (("plan", "list", "Globex"), ("plan", "show", "Globex"),
                 ("plan", "diff", "Globex"), ("draft", "plan", "Globex")):
        result = kam(*args, "--as-user", "u_kam_ben")
        assert result.exit_code == 1, args
        assert "Account not found or not yours." in result.output
        assert "drafted from data" not in result.output


def test_plan_commands_explain_missing_versions(kam):
    empty = kam("plan", "list", "Globex", "--as-user", "u_kam_anna")
    missing = kam("plan", "show", "Globex", "--as-user", "u_kam_anna")
    one_number = kam("plan", "diff", "Globex", "1", "--as-user", "u_kam_anna")

    assert "Globex Logistics has no saved plan yet" in empty.output
    assert missing.exit_code == 1 and "no saved plan yet" in missing.output
    assert one_number.exit_code == 2 and "give two versions" in one_number.output


def test_draft_prep_writes_the_note_and_the_chart(kam, cli_home, tmp_path):
    out = tmp_path / "notes" / "globex-qbr.md"
    result = kam("draft", "prep", "Globex", "--as-user", "u_kam_anna", "--date", "2026-10-15",
                 "--out", str(out))

    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# QBR prep note: Globex Logistics")
    assert "QBR on 2026-10-15" in text and "## Suggested agenda" in text
    chart = f"{cli_home['KAM_DATA_DIR']}/out/A0003-revenue.png"
    assert f"Chart: {chart}" in result.output


def test_draft_agenda_prints_a_timed_agenda(kam):
    result = kam("draft", "agenda", "Acme Industrial", "--as-user", "u_kam_anna")

    assert result.exit_code == 0, result.output
    assert "QBR agenda: Acme Industrial" in result.output
    assert "0-5 min" in result.output and "Total:" in result.output


def test_bad_input_is_a_one_line_error(kam):
    bad_date = kam("draft", "agenda", "Acme Industrial", "--as-user", "u_kam_anna",
                   "--date", "next week")
    ambiguous = kam("draft", "agenda", "Acme", "--as-user", "u_kam_anna")
    stranger = kam("draft", "plan", "Globex", "--as-user", "u_nobody")

    assert bad_date.exit_code == 2 and "--date 'next week' is not a date" in bad_date.output
    assert ambiguous.exit_code == 1
    assert "Acme Foods (A0002), Acme Industrial (A0001)" in ambiguous.output
    assert stranger.exit_code == 1 and "unknown user 'u_nobody'" in stranger.output
