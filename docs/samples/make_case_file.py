"""Make the sample case file: one fictional case of 2025, run through the bot's real domain code.

    python docs/samples/make_case_file.py          # writes docs/samples/case-file-PMCCG-2025-003.{html,md,json,png}

The case lives in a temporary SQLite database; Slack is the local stand-in (bot/sandbox/slack_api.py),
and every step is given a fixed time, so the file is the same on every run. The PNG images of the first
pages are taken with headless Chromium when it is installed (CHROMIUM, default /usr/bin/chromium).
Everyone here is fictional; people appear by Slack user id only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.domain import action_points, attendance, closing, convening, outcomes, roll_call, roster  # noqa: E402
from bot.domain.action_points import NewAction  # noqa: E402
from bot.domain.convening import ConveneForm  # noqa: E402
from bot.domain.fairness import PRINCIPLES  # noqa: E402
from bot.domain.outcomes import OutcomeForm  # noqa: E402
from bot.domain.people import FixedPeople  # noqa: E402
from bot.domain.reminders import send_due  # noqa: E402
from bot.domain.terms import load_terms  # noqa: E402
from bot.records.case_file import build_case_file, render_case_file  # noqa: E402
from bot.sandbox.slack_api import FakeSlack  # noqa: E402
from handlers.slack.app import make_client  # noqa: E402
from handlers.slack.workspace import SlackWorkspace  # noqa: E402
from storage.db import make_engine, session_factory, transaction, upgrade  # noqa: E402
from storage.tables import Case, ReferenceCounter, Reply  # noqa: E402

LONDON = ZoneInfo("Europe/London")
OUT = Path(__file__).resolve().parent
ROSTER = """user_id,roles,professions
U07CHAIR1,chair,
U07DEPCH1,deputy_chair,
U07MNGR01,manager,
U07SVCLD1,service_lead,
U07SVCDP1,service_lead,
U07PEOPL1,people_team,
U07GOVRN1,governance,
U07CLDIR1,clinical_director,
U07NRSLD1,professional_lead,nursing
U07MEDDR1,medical_director,
"""
# The fictional workspace: everyone on the roster is an active person of it.
PEOPLE = FixedPeople(active=frozenset(line.split(",")[0] for line in ROSTER.splitlines()[1:]))
SEATS = {"chair": "U07CHAIR1", "line_manager": "U07MNGR01", "service_lead": "U07SVCLD1", "people_team": "U07PEOPL1",
         "governance": "U07GOVRN1", "clinical_director": "U07CLDIR1", "professional_lead": "U07NRSLD1"}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LONDON).astimezone(UTC)


def main() -> None:
    terms = load_terms()
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'sample.db'}")
        upgrade(engine)
        sessions = session_factory(engine)
        settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-sample", "SLACK_API_URL": slack.url}, dotenv=False)
        workspace = SlackWorkspace(make_client(settings))

        def tick(now: datetime) -> None:
            send_due(sessions, engine, workspace, terms, LONDON, now)

        with transaction(sessions) as session:
            roster.replace_roster(session, roster.parse_csv(ROSTER, terms), "sample", at(date(2025, 1, 6), 9))
            session.add(ReferenceCounter(prefix=terms.reference_prefix, year=2025, last=2))  # cases 001-002 before

        # Monday 3 March 2025: the manager convenes the group for Thursday at 14:00.
        convened_at, call_day = at(date(2025, 3, 3), 9, 20), date(2025, 3, 6)
        form = ConveneForm(
            convener_id="U07MNGR01", submission_key="sample-1", profession="nursing", route="incident",
            concern="Two controlled-drug recording errors on consecutive night shifts in February; no patient "
                    "harm found on review. A third near miss was reported by the shift lead.",
            risks="Night-shift medicines safety; the rota has one registrant on two nights a week.",
            call_date=call_day, call_time=time(14, 0), duration_minutes=45,
            call_details="Video call: https://meet.example.org/pmccg (dial-in 0300 000 0000, PIN 2468)",
            seats=SEATS, concern_raised=date(2025, 2, 26))
        with sessions() as session:
            entries = roster.entries_for(session, list(SEATS.values()))
        request = convening.validate(form, terms, entries, (), convened_at, LONDON, people=PEOPLE)
        case = convening.convene(sessions, engine, request, terms, workspace, convened_at, LONDON)
        ref = case.reference

        replies = [("U07CHAIR1", Reply.ATTENDING, None, (3, 9, 41)),
                   ("U07NRSLD1", Reply.ATTENDING, None, (3, 10, 5)),
                   ("U07SVCLD1", Reply.DEPUTY, "U07SVCDP1", (3, 11, 30)),
                   ("U07PEOPL1", Reply.APOLOGIES, None, (3, 12, 2)),
                   ("U07GOVRN1", Reply.ATTENDING, None, (4, 8, 55)),
                   ("U07MNGR01", Reply.ATTENDING, None, (4, 9, 10))]
        for user, reply, deputy, (day, hour, minute) in replies:
            with transaction(sessions) as session:
                attendance.record_reply(session, terms, ref, user, reply, at(date(2025, 3, day), hour, minute),
                                        LONDON, deputy_id=deputy, people=PEOPLE)
        for step in (at(date(2025, 3, 5), 14), at(call_day, 9), at(call_day, 13), at(call_day, 14)):
            tick(step)  # chases to the one member yet to reply, the pre-call check, the agenda, the roll-call

        for user, minute in (("U07CHAIR1", 1), ("U07NRSLD1", 1), ("U07GOVRN1", 2), ("U07SVCDP1", 3),
                             ("U07MNGR01", 4)):
            with transaction(sessions) as session:
                roll_call.mark_present(session, terms, ref, user, user, at(call_day, 14, minute), LONDON)
        with transaction(sessions) as session:
            roll_call.record_result(session, terms, ref, "U07CHAIR1", at(call_day, 14, 6), LONDON)

        recorded_at = at(call_day, 15, 5)
        fairness = {p.key: ("yes", "") for p in PRINCIPLES}
        fairness["heard"] = ("no", "The nurse has not yet given an account: on leave until 10 March.")
        fairness["welfare"] = ("yes", "Occupational health referral offered; staff support line shared.")
        with transaction(sessions) as session:
            outcomes.record_outcome(session, terms, OutcomeForm(
                reference=ref, actor="U07CHAIR1", process="informal",
                rationale="Recording errors without harm, first concerns in six years, and insight shown: an "
                          "informal, supported improvement plan is proportionate. Review if any further error.",
                risk_level="moderate", risk_notes="Second checker on controlled drugs at night until reviewed.",
                ml_policy_notify="no", legal_advice="no", welfare_offered="yes",
                line_manager_support="Fortnightly supervision with the service lead; people team on call.",
                fairness=fairness, actions=(
                    NewAction("Agree a supported improvement plan for controlled-drug recording", "U07MNGR01",
                              date(2025, 3, 20)),
                    NewAction("Audit controlled-drug registers for February and March", "U07NRSLD1",
                              date(2025, 3, 27)),
                )), recorded_at, LONDON, (), PEOPLE)
        tick(recorded_at + timedelta(minutes=1))  # circulation

        # Action points 1 and 2 came with the outcome; 3 is the further inquiry the "no" answer opened.
        with sessions() as session:
            items = {a.number: a.id or 0 for a in action_points.for_case(session, case.case_id)}
            chairs = outcomes.chair_ids(session, terms, session.get(Case, case.case_id))
        with transaction(sessions) as session:
            action_points.add_update(session, items[3], "U07CHAIR1", "Account taken on 11 March; it is on file.",
                                     at(date(2025, 3, 11), 16), chairs)
        with transaction(sessions) as session:
            action_points.mark_done(session, items[3], "U07CHAIR1", at(date(2025, 3, 11), 16, 5), chairs)
        with transaction(sessions) as session:
            action_points.add_update(session, items[1], "U07MNGR01", "Draft plan shared with the nurse for comment.",
                                     at(date(2025, 3, 14), 11), chairs)
        with transaction(sessions) as session:
            action_points.mark_done(session, items[1], "U07MNGR01", at(date(2025, 3, 19), 15, 30), chairs)
        with transaction(sessions) as session:
            action_points.change_due(session, items[2], "U07NRSLD1", date(2025, 4, 3),
                                     "March registers are not closed until the month end.",
                                     at(date(2025, 3, 24), 10), date(2025, 3, 24), chairs)
        with transaction(sessions) as session:
            action_points.mark_done(session, items[2], "U07NRSLD1", at(date(2025, 4, 8), 12), chairs)
        with transaction(sessions) as session:
            closing.close(session, terms, ref, "U07GOVRN1", "Plan in place and audit clean; reviewed at supervision.",
                          at(date(2025, 4, 14), 10), LONDON)

        with sessions() as session:
            data = build_case_file(session, terms, ref, LONDON, at(date(2025, 4, 15), 9))
    for f in render_case_file(data):
        (OUT / f.filename).write_bytes(f.content)
        print(OUT / f.filename)
    screenshot(OUT / f"case-file-{ref}.html", OUT / f"case-file-{ref}.png")


def screenshot(html: Path, png: Path) -> None:
    """The first pages as an image (A4 width at 150 dpi), for readers who look rather than read."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        print(f"{chromium} not found: no PNG made", file=sys.stderr)
        return
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={png}", "--window-size=1240,1754", html.as_uri()],
                   check=True, capture_output=True, timeout=120)
    print(png)


if __name__ == "__main__":
    main()
