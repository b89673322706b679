"""Render QBR decks as a person sees them: build the decks of several demo accounts (and of
one account given a very long name and 40 more contacts), convert each to PDF with
LibreOffice and to PNG pages with pdftoppm, and print per deck its slides, the PDF's page
count, and any overflow `tools.deck_fit.overflows` finds. Then look at the PNGs.

Needs Debian's `libreoffice-impress` and `poppler-utils` (`make check-deck` says so when
they are missing). Not part of `make test`. `python benchmarks/render_deck.py [OUT_DIR]`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from prompts import Prompts
from store.access import resolve_scope
from store.db import make_engine, make_session_factory
from store.models import Account, Contact
from tools.context import CallerContext
from tools.deck import QbrDecks
from tools.deck_fit import overflows

ACCOUNTS = ("A0001", "A0003", "A0004", "A0010", "A0020", "A0033")
STRESS = "A0003"
LONG_NAME = ("The Extraordinarily Long-Named International Holding Company of Logistics and "
             "Chemical Distribution Services (Northern Hemisphere Division)")


def _demo_database(folder: Path) -> str:
    subprocess.run([str(Path(sys.executable).with_name("kam")), "demo-data"], cwd=folder,
                   check=True, capture_output=True, env={**os.environ, "KAM_DATA_DIR": "data"})
    return f"sqlite:///{folder / 'data' / 'kam.db'}"


def _stress(sessions) -> None:
    """A long account name and 40 more key contacts with long names and titles."""
    with sessions.begin() as session:
        session.get(Account, STRESS).name = LONG_NAME
        session.add_all(Contact(contact_id=f"{STRESS}-X{i:02d}", account_id=STRESS,
                                name=f"Maximiliana Alexandrovna Featherstonehaugh-{i}",
                                title="Senior Vice President of Global Procurement Excellence",
                                department="Procurement", buying_role="influencer",
                                relationship_strength=3, status="active") for i in range(40))


def _render(path: Path) -> int:
    """PDF and PNG pages beside the deck; the PDF's page count."""
    subprocess.run(["libreoffice", "--headless", "--convert-to", "pdf", "--outdir",
                    str(path.parent), str(path)], check=True, capture_output=True)
    pdf = path.with_suffix(".pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(path.with_suffix(""))],
                   check=True)
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    return int(next(line.split()[-1] for line in info.stdout.splitlines()
                    if line.startswith("Pages:")))


def main() -> int:
    missing = [tool for tool in ("libreoffice", "pdftoppm", "pdfinfo") if not shutil.which(tool)]
    if missing:
        print(f"missing {', '.join(missing)}: apt-get install -y libreoffice-impress "
              "poppler-utils")
        return 2
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/decks").resolve()
    out.mkdir(parents=True, exist_ok=True)
    problems = 0
    with tempfile.TemporaryDirectory(prefix="kam-decks-") as folder:
        engine = make_engine(_demo_database(Path(folder)))
        sessions = make_session_factory(engine)
        decks = QbrDecks(sessions, Prompts(currency="EUR"), out)
        with sessions() as session:
            admin = CallerContext(scope=resolve_scope(session, user_id="u_admin"))
        runs = [(a, a) for a in ACCOUNTS]
        for label, account in [*runs, (f"{STRESS}-long", STRESS)]:
            if label.endswith("-long"):
                _stress(sessions)
            result = decks.draft(admin, account, path=out / f"{label}-qbr-deck.pptx")
            path = Path(result["path"])
            found = overflows(path)
            pages = _render(path)
            problems += len(found) + (pages != len(result["slides"]))
            print(f"{label}: {len(result['slides'])} slides, {pages} PDF pages, "
                  f"{len(found)} overflow(s): {path.with_suffix('')}-N.png")
            for title in (s["title"] for s in result["slides"]):
                print(f"    {title[:90]}")
            for problem in found:
                print(f"    OVERFLOW {problem}")
        engine.dispose()
    print("no overflow found" if not problems else f"{problems} problem(s) found")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
