"""/pmccg convene end to end: signed requests in, what Slack received asserted on the fake Web API."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlmodel import select

from bot.clock import now
from storage.tables import Case, Invitee, ReferenceCounter
from tests.factories import PEOPLE, all_names, convene_state


def _wait(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _cases(bot: Any) -> list[Case]:
    with bot.services.sessions() as session:
        return list(session.exec(select(Case)))


def test_convene_opens_modal_with_seats_proposed_from_roster(bot: Any) -> None:
    response = bot.command("U0MANAGER", "convene")
    assert response.status_code == 200
    (call,) = bot.slack.wait_for("views.open")
    view = call.params["view"]
    assert view["callback_id"] == "convene"
    seats = {b["block_id"]: b["element"].get("initial_user") for b in view["blocks"] if b.get("block_id", "")
             .startswith("seat_")}
    assert seats["seat_chair"] == "U0CHAIR01"
    assert seats["seat_line_manager"] == "U0MANAGER"
    assert seats["seat_people_team"] == "U0PEOPLE1"


def test_someone_not_allowed_gets_a_private_refusal_naming_who_to_ask(bot: Any) -> None:
    bot.command("U0MEMBER1", "convene")
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral"
    assert "<@U0GOVERN1>" in reply.params["text"]
    assert bot.slack.calls_to("views.open") == []


def test_help_and_unknown_subcommand(bot: Any) -> None:
    response = bot.command("U0MANAGER", "")
    assert "convene" in response.json()["text"]
    response = bot.command("U0MANAGER", "frobnicate <!channel>")
    body = response.json()
    assert "I don't know `/pmccg frobnicate`" in body["text"]
    assert "`/pmccg convene`" in body["text"]


def test_valid_convene_creates_private_channel_named_by_reference_and_invites(bot: Any) -> None:
    response = bot.submit("U0MANAGER", "convene", convene_state(now()), view_id="VCONVENE1")
    assert response.status_code == 200
    assert response.json()["response_action"] == "update"

    (create,) = bot.slack.wait_for("conversations.create")
    year = now().year
    assert create.params["name"] == f"pmccg-{year}-001"
    assert create.params["is_private"] in (True, "true", "1")
    (invite,) = bot.slack.wait_for("conversations.invite")
    invited = set(invite.params["users"].split(","))
    assert invited == {"U0CHAIR01", "U0MANAGER", "U0SERVICE", "U0PEOPLE1", "U0GOVERN1", "U0CLINDIR", "U0NURSELD"}
    posts = bot.slack.wait_for("chat.postMessage", count=2 + 6)
    header, board = posts[0], posts[1]
    assert f"PMCCG-{year}-001" in header.params["text"]
    assert any(b.get("block_id") == "attendance" for b in board.params["blocks"])
    dms = {p.params["channel"] for p in posts[2:]}
    assert dms == invited - {"U0MANAGER"}
    update = bot.slack.wait_for("views.update")[0]
    assert f"PMCCG-{year}-001" in json.dumps(update.params["view"])

    (case,) = _cases(bot)
    assert case.reference == f"PMCCG-{year}-001" and case.room_name == f"pmccg-{year}-001"
    # Nothing Slack received names anyone: only ids and the case reference.
    everything = json.dumps([c.params for c in bot.slack.calls])
    for name in all_names():
        assert name not in everything


def test_call_in_the_past_shows_field_error_and_writes_nothing(bot: Any) -> None:
    yesterday = (now().date().fromordinal(now().date().toordinal() - 1)).isoformat()
    response = bot.submit("U0MANAGER", "convene", convene_state(now(), call_date=yesterday))
    body = response.json()
    assert body["response_action"] == "errors"
    assert "passed" in body["errors"]["call_date"]
    assert bot.slack.calls_to("conversations.create") == []
    assert _cases(bot) == []


def test_a_name_in_the_concern_is_refused_at_that_field(bot: Any) -> None:
    staff = "Cordelia Marchbanks"
    response = bot.submit("U0MANAGER", "convene", convene_state(now(), concern=f"{staff} made two errors."))
    body = response.json()
    assert body["response_action"] == "errors"
    assert "case number" in body["errors"]["concern"]
    assert bot.slack.calls_to("conversations.create") == []


def test_same_person_in_two_seats_and_a_missing_professional_lead_are_refused(bot: Any) -> None:
    response = bot.submit("U0MANAGER", "convene", convene_state(
        now(), seat_service_lead="U0MANAGER", seat_professional_lead="U0GPLEAD1"))
    errors = response.json()["errors"]
    assert "Already chosen as line manager" in errors["seat_service_lead"]
    assert "professional lead for nursing" in errors["seat_professional_lead"]


def test_slack_failure_part_way_leaves_no_case_no_open_channel_and_no_gap(bot: Any) -> None:
    year = now().year
    bot.slack.fail_next("conversations.invite", error="user_not_found")
    bot.submit("U0MANAGER", "convene", convene_state(now()), view_id="VFAIL1")
    (archive,) = bot.slack.wait_for("conversations.archive")
    (create,) = bot.slack.calls_to("conversations.create")
    (rename,) = bot.slack.calls_to("conversations.rename")
    # The room made for it is renamed first (so its name is free again), then archived.
    room = bot.slack.channels[archive.params["channel"]]
    assert rename.params["channel"] == archive.params["channel"] and room["is_archived"]
    assert room["name"].startswith("void-") and room["name"].endswith(f"pmccg-{year}-001")
    (shown,) = bot.slack.wait_for("views.update")
    assert "Nothing was created" in json.dumps(shown.params["view"])
    assert shown.params["view"]["callback_id"] == "convene"  # the form again, filled in
    assert _cases(bot) == []
    with bot.services.sessions() as session:
        assert session.get(ReferenceCounter, ("PMCCG", year)) is None

    # Retrying works, reuses the number, and the channel's name too (the failed one was renamed).
    bot.submit("U0MANAGER", "convene", convene_state(now()), view_id="VFAIL1")
    _wait(lambda: len(_cases(bot)) == 1)
    (case,) = _cases(bot)
    assert case.reference == f"PMCCG-{year}-001"
    assert case.room_name == f"pmccg-{year}-001"


def test_rate_limited_channel_creation_is_retried_after_retry_after(bot: Any) -> None:
    bot.slack.rate_limit_next("conversations.create", retry_after=1)
    bot.submit("U0MANAGER", "convene", convene_state(now()))
    _wait(lambda: len(_cases(bot)) == 1, timeout=10)
    answers = [c.answered_with for c in bot.slack.calls_to("conversations.create")]
    assert answers == ["429", "ok"]


def test_the_same_submission_twice_makes_one_case(bot: Any) -> None:
    bot.submit("U0MANAGER", "convene", convene_state(now()), view_id="VTWICE")
    bot.submit("U0MANAGER", "convene", convene_state(now()), view_id="VTWICE")
    _wait(lambda: len(bot.slack.calls_to("views.update")) == 2)
    assert len(_cases(bot)) == 1
    assert len(bot.slack.calls_to("conversations.create")) == 1


def test_typed_text_is_shown_literally_never_as_a_ping_or_link(bot: Any) -> None:
    sneaky = "Escalated by <!channel> and <@U0CHAIR01> see <https://evil.example|here> *now*"
    bot.submit("U0MANAGER", "convene", convene_state(now(), concern=sneaky))
    header = bot.slack.wait_for("chat.postMessage")[0]
    mrkdwn = [json.dumps(b) for b in header.params["blocks"] if b["type"] in ("section", "context")]
    assert not any("<!channel>" in m for m in mrkdwn)
    literal = [e["text"] for b in header.params["blocks"] if b["type"] == "rich_text"
               for s in b["elements"] for e in s["elements"]]
    assert sneaky in literal


def test_invitees_are_stored_by_seat(bot: Any) -> None:
    bot.submit("U0MANAGER", "convene", convene_state(now()))
    _wait(lambda: len(_cases(bot)) == 1)
    with bot.services.sessions() as session:
        seats = {i.seat: i.user_id for i in session.exec(select(Invitee))}
    assert seats["chair"] == "U0CHAIR01" and seats["professional_lead"] == "U0NURSELD"
    assert set(seats.values()) <= set(PEOPLE)


def test_the_date_the_concern_was_raised_is_kept_and_cannot_be_in_the_future(bot: Any) -> None:
    today = now().date()
    tomorrow = today.fromordinal(today.toordinal() + 1).isoformat()
    body = bot.submit("U0MANAGER", "convene", convene_state(now(), concern_raised=tomorrow)).json()
    assert body["response_action"] == "errors"
    assert body["errors"] == {"concern_raised": "The concern cannot have been raised after today. Leave it empty if it "
                                                "was today."}
    assert _cases(bot) == []

    raised = today.fromordinal(today.toordinal() - 12)
    bot.submit("U0MANAGER", "convene", convene_state(now(), concern_raised=raised.isoformat()))
    _wait(lambda: len(_cases(bot)) == 1)
    assert _cases(bot)[0].concern_raised_on == raised


def test_the_form_asks_when_the_concern_was_raised_but_does_not_insist(bot: Any) -> None:
    bot.command("U0MANAGER", "convene")
    (opened,) = bot.slack.wait_for("views.open")
    (block,) = [b for b in opened.params["view"]["blocks"] if b.get("block_id") == "concern_raised"]
    assert block["optional"] is True and block["element"]["type"] == "datepicker"
    assert block["label"]["text"] == "When was the concern first raised?"

    bot.submit("U0MANAGER", "convene", convene_state(now()))  # left empty
    _wait(lambda: len(_cases(bot)) == 1)
    assert _cases(bot)[0].concern_raised_on is None
