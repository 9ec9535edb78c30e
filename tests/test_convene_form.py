"""The convene form while it is open: choosing the profession proposes its lead, nothing typed is lost.

Everything goes through the real HTTP path: the command opens the form on the stand-in Slack, the
profession is chosen as Slack sends it (a block action from the input's dispatch), and the test reads
what the bot sent to views.update, as Slack would show it. Slack keeps a person's entry in an input
whose block id is unchanged, whatever the new view proposes: so a proposal that must show has to be
in a block renamed for it, and everything else must come back as the view's own starting values.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select

from bot.clock import now
from bot.domain import roster
from bot.domain.roles import Role
from bot.domain.roster import RosterEntry
from handlers.slack.modals import INITIAL_KEYS
from storage.tables import Case, Invitee
from tests.factories import LONDON, STAFF_MEMBER, convene_state
from tests.slack_client import TEAM, opened_view, submit_view

LEAD = "seat_professional_lead"
MANAGER = "U0MANAGER"


# --- helpers -----------------------------------------------------------------------------------------------


def _open(bot: Any) -> dict[str, Any]:
    """Open the convene form as the manager; the view as the stand-in holds it (id, hash, nonce)."""
    count = len(bot.slack.calls_to("views.open")) + 1
    assert bot.command(MANAGER, "convene").status_code == 200
    return opened_view(bot.slack, count)


def _lead_block(view: dict[str, Any]) -> dict[str, Any]:
    (block,) = [b for b in view["blocks"] if str(b.get("block_id", "")).split(".")[0] == LEAD]
    return block


def _typed(now_: datetime, lead_block: str = LEAD, **overrides: Any) -> dict[str, Any]:
    """view.state.values with every field given (other than the proposals a person might keep), the lead
    seat under `lead_block`, as Slack holds it."""
    state = convene_state(now_, **{
        "route": "complaint", "concern_raised": (now_.astimezone(LONDON) - timedelta(days=5)).date().isoformat(),
        "duration": "90", "seat_service_lead": "U0MEDDIR1", "extra_members": ["U0MEMBER1", "U0DEPUTY1"],
        "short_notice": True, **overrides})
    state[lead_block] = state.pop(LEAD)
    return state


def _option(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def _choose(bot: Any, user: str, view: dict[str, Any], values: dict[str, Any], profession: str) -> Any:
    """Choose `profession` in the open form, as Slack sends it: the new choice in the action and in the state."""
    values = {**values, "profession": {"profession": _option(profession)}}
    payload = {
        "type": "block_actions", "team": TEAM, "user": {"id": user, "team_id": TEAM["id"]}, "api_app_id": "A0001",
        "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
        "container": {"type": "view", "view_id": view["id"]},
        "view": {**view, "state": {"values": values}},
        "actions": [{"type": "static_select", "action_id": "profession", "block_id": "profession",
                     "selected_option": {"text": {"type": "plain_text", "text": profession}, "value": profession},
                     "action_ts": str(time.time())}],
    }
    assert bot.post_payload(payload).status_code == 200
    return values


def _updates(bot: Any, view_id: str) -> list[Any]:
    return [c for c in bot.slack.calls_to("views.update") if c.params.get("view_id") == view_id]


def _next_update(bot: Any, view_id: str, seen: int) -> dict[str, Any]:
    calls = bot.slack.wait_for("views.update", lambda c: c.params.get("view_id") == view_id, count=seen + 1)
    return dict(calls[seen].params)


def _shown(view: dict[str, Any]) -> dict[str, Any]:
    """What each input of `view` starts with (its initial_* value), as the values Slack would send back."""
    shown: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        start = element.get(INITIAL_KEYS[element["type"]])
        if isinstance(start, dict):
            start = start["value"]
        elif isinstance(start, list) and start and isinstance(start[0], dict):
            start = [o["value"] for o in start]
        shown[block["block_id"]] = start
    return shown


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The values a person gave (view.state.values), in _shown's shapes."""
    given: dict[str, Any] = {}
    for block_id, by_action in values.items():
        (entry,) = by_action.values()
        kind = entry["type"]
        if kind == "plain_text_input":
            given[block_id] = entry["value"]
        elif kind == "static_select":
            given[block_id] = (entry["selected_option"] or {}).get("value")
        elif kind == "checkboxes":
            given[block_id] = [o["value"] for o in entry["selected_options"]] or None
        elif kind == "users_select":
            given[block_id] = entry["selected_user"]
        elif kind == "multi_users_select":
            given[block_id] = entry["selected_users"] or None
        elif kind == "datepicker":
            given[block_id] = entry["selected_date"]
        else:
            given[block_id] = entry["selected_time"]
    return given


def _cases(bot: Any) -> list[Case]:
    with bot.services.sessions() as session:
        return list(session.exec(select(Case)))


def _wait(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _settle(seconds: float = 0.5) -> None:
    time.sleep(seconds)  # the listener runs after the acknowledgement: give it time to do what it would


# --- choosing the profession -------------------------------------------------------------------------------


def test_the_form_asks_for_the_profession_first_and_sends_the_choice_at_once(bot: Any) -> None:
    view = _open(bot)
    profession = next(b for b in view["blocks"] if b.get("block_id") == "profession")
    assert profession["dispatch_action"] is True and profession["element"]["type"] == "static_select"
    lead = _lead_block(view)
    assert lead["block_id"] == LEAD and "initial_user" not in lead["element"]
    assert lead["hint"]["text"] == "Proposed from the roster once the professional group above is chosen."
    assert view["private_metadata"], "the form carries the nonce of its form record"


def test_choosing_the_profession_proposes_its_lead_and_keeps_everything_typed(bot: Any) -> None:
    view = _open(bot)
    typed = _typed(now())
    del typed[LEAD]  # nobody chosen in the lead seat yet
    sent = _choose(bot, MANAGER, view, typed, "nursing")
    update = _next_update(bot, view["id"], 0)
    assert update["hash"] == view["hash"], "the update names the view it was computed from"
    rebuilt = update["view"]
    lead = _lead_block(rebuilt)
    assert lead["block_id"] == f"{LEAD}.nursing", "a new block, so Slack shows the new proposal"
    assert lead["element"]["initial_user"] == "U0NURSELD"
    assert lead["hint"]["text"] == "Proposed from the roster: a professional lead for nursing."
    # Every other value comes back as given: profession, route, dates, time, texts, seats, extras, short notice.
    expected = {**_given(sent), f"{LEAD}.nursing": "U0NURSELD"}
    assert _shown(rebuilt) == expected
    assert (rebuilt["callback_id"], rebuilt["private_metadata"]) == ("convene", view["private_metadata"])


def test_changing_the_profession_again_replaces_the_proposal_and_other_seats_keep_theirs(bot: Any) -> None:
    view = _open(bot)
    typed = _typed(now())
    del typed[LEAD]
    _choose(bot, MANAGER, view, typed, "nursing")
    _next_update(bot, view["id"], 0)
    first = bot.slack.views[view["id"]]  # as Slack shows it now, with its new hash
    assert _lead_block(first)["element"]["initial_user"] == "U0NURSELD"
    # The person keeps the nursing lead as proposed, then changes the profession.
    now_typed = {**typed, f"{LEAD}.nursing": {LEAD: {"type": "users_select", "selected_user": "U0NURSELD"}}}
    sent = _choose(bot, MANAGER, first, now_typed, "paramedic")
    update = _next_update(bot, view["id"], 1)
    assert update["hash"] == first["hash"]
    second = update["view"]
    lead = _lead_block(second)
    assert lead["block_id"] == f"{LEAD}.paramedic" and lead["element"]["initial_user"] == "U0GPLEAD1"
    expected = {k: v for k, v in _given(sent).items() if not k.startswith(f"{LEAD}.")}
    assert _shown(second) == {**expected, f"{LEAD}.paramedic": "U0GPLEAD1"}
    assert _shown(second)["seat_service_lead"] == "U0MEDDIR1", "a seat the person changed stays changed"
    assert _shown(second)["seat_chair"] == "U0CHAIR01", "a seat left as proposed keeps its proposal"

    # A profession whose lead the roster does not have: the seat is emptied and says why.
    latest = bot.slack.views[view["id"]]
    third_typed = {**typed, f"{LEAD}.paramedic": {LEAD: {"type": "users_select", "selected_user": "U0GPLEAD1"}}}
    _choose(bot, MANAGER, latest, third_typed, "pharmacy")
    lead = _lead_block(_next_update(bot, view["id"], 2)["view"])
    assert lead["block_id"] == f"{LEAD}.pharmacy" and "initial_user" not in lead["element"]
    assert lead["hint"]["text"] == ("The roster has no professional lead for pharmacy: choose one, or ask governance "
                                    "to add one with /pmccg roster.")


def test_the_form_submitted_after_the_proposal_convenes_with_the_proposed_lead(bot: Any) -> None:
    view = _open(bot)
    typed = _typed(now())
    del typed[LEAD]
    _choose(bot, MANAGER, view, typed, "paramedic")
    _next_update(bot, view["id"], 0)
    shown = bot.slack.views[view["id"]]
    values = {**typed, "profession": {"profession": _option("paramedic")},
              f"{LEAD}.paramedic": {LEAD: {"type": "users_select", "selected_user": "U0GPLEAD1"}}}
    assert submit_view(bot, MANAGER, shown, values).json()["response_action"] == "update"
    assert "is convened" in str(_next_update(bot, view["id"], 1)["view"])  # the convening has finished
    _wait(lambda: len(_cases(bot)) == 1)
    with bot.services.sessions() as session:
        seats = {i.seat: i.user_id for i in session.exec(select(Invitee))}
    assert seats["professional_lead"] == "U0GPLEAD1" and _cases(bot)[0].profession == "paramedic"


def test_a_wrong_lead_is_refused_at_the_lead_seat_the_view_has(bot: Any) -> None:
    view = _open(bot)
    typed = _typed(now())
    del typed[LEAD]
    _choose(bot, MANAGER, view, typed, "nursing")
    _next_update(bot, view["id"], 0)
    shown = bot.slack.views[view["id"]]
    values = {**typed, f"{LEAD}.nursing": {LEAD: {"type": "users_select", "selected_user": "U0GPLEAD1"}}}
    body = submit_view(bot, MANAGER, shown, values).json()
    assert body["response_action"] == "errors"
    blocks = {b["block_id"] for b in shown["blocks"] if b["type"] == "input"}
    assert set(body["errors"]) == {f"{LEAD}.nursing"} <= blocks, "Slack refuses errors keyed to no block"
    assert "professional lead for nursing" in body["errors"][f"{LEAD}.nursing"]
    assert _cases(bot) == []


# --- only for the convener, in the form the bot opened ----------------------------------------------------


def test_someone_else_choosing_in_the_managers_form_changes_nothing(bot: Any, caplog: Any) -> None:
    view = _open(bot)
    caplog.set_level("WARNING", logger="bot.domain.forms")
    _choose(bot, "U0MEMBER1", view, {}, "nursing")  # not a convener, and not the person it was opened for
    _choose(bot, "U0GOVERN1", view, {}, "nursing")  # a convener, but not the person it was opened for
    _choose(bot, MANAGER, {**view, "private_metadata": ""}, {}, "nursing")  # no form the bot opened
    _choose(bot, MANAGER, {**view, "id": "VOTHER0001"}, {}, "nursing")  # another view
    _settle()
    assert _updates(bot, view["id"]) == [] and len(bot.slack.calls_to("views.update")) == 0
    reasons = [r.reason for r in caplog.records if getattr(r, "event", "") == "form_refused"]
    assert reasons == ["other_user", "other_user", "unknown", "other_view"]


def test_a_convener_no_longer_allowed_to_convene_changes_nothing(bot: Any) -> None:
    view = _open(bot)
    with bot.services.sessions() as session:
        roster.set_member(session, RosterEntry(MANAGER, frozenset({Role.MEMBER}), frozenset()), "test", now())
        session.commit()
    _choose(bot, MANAGER, view, {}, "nursing")
    _settle()
    assert bot.slack.calls_to("views.update") == []


# --- a refused submission comes back whole ----------------------------------------------------------------


def test_a_form_refused_with_errors_is_answered_at_its_fields_only(bot: Any) -> None:
    view = _open(bot)
    values = _typed(now(), concern=f"{STAFF_MEMBER[1]} gave two doses twice.")
    body = submit_view(bot, MANAGER, view, values).json()
    # Slack keeps every value in a form refused with errors; the bot changes nothing in it.
    assert body == {"response_action": "errors", "errors": {"concern": body["errors"]["concern"]}}
    assert bot.slack.calls_to("views.update") == []


def test_a_convene_that_fails_part_way_comes_back_with_every_value_typed(bot: Any) -> None:
    view = _open(bot)
    typed = _typed(now())
    del typed[LEAD]
    _choose(bot, MANAGER, view, typed, "paramedic")
    _next_update(bot, view["id"], 0)
    shown = bot.slack.views[view["id"]]
    values = {**typed, "profession": {"profession": _option("paramedic")},
              f"{LEAD}.paramedic": {LEAD: {"type": "users_select", "selected_user": "U0GPLEAD1"}}}
    bot.slack.fail_next("conversations.invite", error="user_not_found")
    assert submit_view(bot, MANAGER, shown, values).json()["response_action"] == "update"  # the progress notice
    rebuilt = _next_update(bot, view["id"], 1)["view"]
    assert "Nothing was created" in str(rebuilt["blocks"][0])
    assert _shown(rebuilt) == _given(values), "every value typed, the lead seat in the same block"
    assert rebuilt["private_metadata"] == view["private_metadata"]
    assert _cases(bot) == []
    # The form is still the bot's form for this person: choosing another profession still proposes.
    _choose(bot, MANAGER, bot.slack.views[view["id"]], values, "nursing")
    assert _lead_block(_next_update(bot, view["id"], 2)["view"])["element"]["initial_user"] == "U0NURSELD"


def test_carried_values_fit_the_bots_own_fields_and_nothing_else(bot: Any) -> None:
    view = _open(bot)
    edited = _typed(now(), route="<!channel>", call_time="25:99", seat_chair="U0X> <!channel>",
                    extra_members=["U0MEMBER1", "<!here>"])
    edited["password"] = {"password": {"type": "plain_text_input", "value": "hunter2"}}
    _choose(bot, MANAGER, view, edited, "nursing")
    rebuilt = _next_update(bot, view["id"], 0)["view"]
    shown = _shown(rebuilt)
    assert shown["route"] is None and shown["call_time"] is None and shown["seat_chair"] is None
    assert shown["extra_members"] == ["U0MEMBER1"]
    assert "password" not in shown and "hunter2" not in str(rebuilt) and "<!channel>" not in str(rebuilt)



# --- the same in the sandbox (no browser: its page's own request handling) ---------------------------------


def test_in_the_sandbox_choosing_the_profession_proposes_its_lead_and_keeps_what_was_entered(tmp_path: Any) -> None:
    from bot.sandbox.page import _quiet, dispatched_action
    from bot.sandbox.runtime import GENERAL, Sandbox

    sandbox = Sandbox(tmp_path / "sandbox", tick_seconds=3600).start()
    try:
        slack = sandbox.slack
        manager = "UDMANAGER"
        general = next(cid for cid, c in slack.channels.items() if c.get("name") == GENERAL)
        sandbox.command(manager, general, "/pmccg convene")
        _quiet(sandbox, 0.3, 5.0)
        (view_id,) = slack.modal_stack(manager)
        entered: dict[str, Any] = {
            "route": {"route": _option("complaint")},
            "concern": {"concern": {"type": "plain_text_input", "value": "Two errors on nights."}},
            "call_time": {"call_time": {"type": "timepicker", "selected_time": "14:00"}},
            "seat_service_lead": {"seat_service_lead": {"type": "users_select", "selected_user": "UDMEDDIR1"}},
        }
        for profession, lead in (("paramedic", "UDPARALED"), ("nursing", "UDNURSELD")):
            values = {**slack.modal_state(view_id), **entered, "profession": {"profession": _option(profession)}}
            action = dispatched_action(slack.views[view_id], "v|profession|profession|static_select", values)
            assert action is not None, "the profession input dispatches its choice"
            sandbox.view_action(manager, action, view_id, values)
            _quiet(sandbox, 0.3, 5.0)
            view = slack.views[view_id]
            assert _lead_block(view)["element"]["initial_user"] == lead
            kept = slack.modal_state(view_id)  # what the page shows over the view's own starting values
            assert not any(k.startswith(LEAD) for k in kept), "the proposal shows, not the earlier lead"
            for block_id, entry in entered.items():
                assert kept.get(block_id) == entry or _shown(view)[block_id] == _given({block_id: entry})[block_id]
    finally:
        sandbox.stop()
