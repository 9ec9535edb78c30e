"""Write the sample annual report and attendance matrix of a fictional year (2025) into docs/samples/.

Run from the repository root: `python docs/samples/make_reports.py`. It builds the year of the tests
(tests/year_of_cases.py: fictional cases, people by user id only) in a temporary SQLite database with
the local Slack stand-in, renders both reports as of 12 January 2026, and, when Chromium is installed,
takes a PNG of each page (headless, A4 at 150 dpi) so the README can show them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.domain.terms import load_terms  # noqa: E402
from bot.records import annual_report, attendance_matrix, report_files  # noqa: E402
from bot.sandbox.slack_api import FakeSlack  # noqa: E402
from storage.db import make_engine, session_factory, upgrade  # noqa: E402
from tests.factories import LONDON  # noqa: E402
from tests.year_of_cases import REPORT_AT, YEAR, build_year  # noqa: E402

OUT = Path(__file__).resolve().parent
# A4 width at 150 dpi: the whole report (two pages) in portrait, the wide matrix in landscape.
PAGES = {f"annual-report-{YEAR}.html": (1240, 2480), f"attendance-{YEAR}.html": (1754, 1240)}


def build() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/sample.db")
        upgrade(engine)
        sessions, terms = session_factory(engine), load_terms()
        with FakeSlack() as fake:
            build_year(sessions, engine, terms, fake)
        with sessions() as session:
            report = annual_report.build(session, terms, YEAR, LONDON, REPORT_AT)
            matrix = attendance_matrix.build(session, terms, YEAR, LONDON, REPORT_AT)
        engine.dispose()
    files = report_files.annual_files(report) | report_files.attendance_files(matrix)
    # Shorter names for the samples: pmccg-annual-report-2025.html -> annual-report-2025.html.
    return {name.removeprefix("pmccg-"): content for name, content in files.items()}


def screenshot(page: Path, size: tuple[int, int]) -> Path | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium not found: no PNG made", file=sys.stderr)
        return None
    png = page.with_suffix(".png")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    return png


def main() -> None:
    for name, content in build().items():
        path = OUT / name
        path.write_bytes(content)
        print(path.relative_to(ROOT))
        if name in PAGES and (png := screenshot(path, PAGES[name])):
            print(png.relative_to(ROOT))


if __name__ == "__main__":
    main()
