"""Recording the outcome in Slack: the outcome modal, revisiting fairness, adding an action point later.

The case's chair (or the deputy they named) or governance records the group's advisory outcome
(bot/domain/outcomes.py). The rules are the domain's (bot/domain/recording.py): permission is checked before
a modal opens (a refusal is answered privately), and a submission is one call there (the case's outcome lock,
the form counted once, one short transaction) before the acknowledgement, so a bad field is shown at the
field and nothing is half-written. The circulation is a scheduled
message due at once: the scheduler's next tick (within a minute) sends it, not this listener.

Each modal is a form record (bot/domain/forms.py): the modal carries only its nonce; the case it is about
and the number of action point rows are kept server-side. A submission counts once per view, and
"Add another action point" rebuilds the form from the bot's own builder for the person it was opened
for, carrying over only typed values.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import action_points, forms, outcomes, recording
from bot.domain.action_points import NewAction
from bot.domain.errors import InvalidInput, NotAllowed, NotFound, PlatformFailure
from bot.domain.fairness import ANSWER_LABELS, PRINCIPLE_BY_KEY, PRINCIPLES, Answer
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from bot.domain.notify import Message, MessageKind
from bot.domain.outcomes import PROCESS_LABELS, RISK_LABELS, OutcomeForm, Recorded
from bot.domain.recording import CaseToRecord, OutcomeAlreadyRecorded, OutcomeNotRecorded
from bot.services import Services
from handlers.slack import ids
from handlers.slack.forms import answer_not_taken, form_of, open_modal
from handlers.slack.header import refresh_case_header
from handlers.slack.modals import (
    Block,
    field_value,
    input_block,
    message_modal,
    modal,
    option,
    plain,
    with_initial_values,
)
from handlers.slack.render import slack_escape
from handlers.slack.replies import refusal_text
from handlers.slack.workspace import SlackWorkspace

log = logging.getLogger(__name__)

# Block ids are the domain's field names, so InvalidInput.fields maps straight onto them.
PROCESS = "process"
RATIONALE = "rationale"
RISK_LEVEL = "risk_level"
RISK_NOTES = "risk_notes"
ML_POLICY = "ml_policy"
LEGAL_ADVICE = "legal_advice"
WELFARE = "welfare"
LINE_MANAGER_SUPPORT = "line_manager_support"
QUORATE_STATED = "quorate_stated"
QUORUM_STATEMENT = "quorum_statement"
ACTION = "action"  # the one-row modal's fields: action_description, action_owner, action_due (check_new's names)
MAX_ROWS = outcomes.MAX_ACTION_ROWS
_ROW_FIELD = re.compile(r"^action_(\d+)_(description|owner|due)$")
YES_NO = {"yes": True, "no": False}


def fairness_field(key: str) -> str:
    return f"fairness_{key}"


def fairness_note_field(key: str) -> str:
    return f"fairness_{key}_note"


def action_field(row: int | None, part: str) -> str:
    """action_<row>_<part> on the outcome modal; action_<part> on the one-row modal."""
    return f"{ACTION}_{row}_{part}" if row else f"{ACTION}_{part}"


# --- views ------------------------------------------------------------------------------------------


def _context(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
    if block_id:
        block["block_id"] = block_id
    return block


def _header(text: str) -> Block:
    return {"type": "header", "text": plain(text)}


def _choice(field: str, label: str, options: list[dict[str, Any]], *, radio: bool, hint: str | None = None,
            initial: str | None = None) -> Block:
    element: dict[str, Any] = {"type": "radio_buttons" if radio else "static_select", "options": options}
    if not radio:
        element["placeholder"] = plain("Choose")
    chosen = [o for o in options if o["value"] == initial]
    if chosen:
        element["initial_option"] = chosen[0]
    return input_block(field, label, element, hint=hint)


def _text(field: str, label: str, limit: int, *, multiline: bool, optional: bool = False, hint: str | None = None,
          initial: str = "") -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline, "max_length": limit}
    if initial:
        element["initial_value"] = initial
    return input_block(field, label, element, optional=optional, hint=hint)


def _answer_options() -> list[dict[str, Any]]:
    return [option(a.value, ANSWER_LABELS[a]) for a in Answer]


def fairness_blocks(current: dict[str, tuple[str, str]]) -> list[Block]:
    """The five principles: title as label, question as hint; yes/no/unknown and an optional note."""
    blocks: list[Block] = []
    for p in PRINCIPLES:
        answer, note = current.get(p.key, ("", ""))
        blocks.append(_choice(fairness_field(p.key), p.title, _answer_options(), radio=True, hint=p.question,
                              initial=answer))
        blocks.append(_text(fairness_note_field(p.key), f"{p.title}: note", outcomes.TEXT_LIMIT,
                            multiline=True, optional=True, initial=note))
    return blocks


def action_row(row: int | None) -> list[Block]:
    """Description, owner, due date. Optional on the outcome modal (an empty row is ignored)."""
    optional = row is not None
    label = f"Action point {row}" if row else "Action point"
    hint = "What is to be done. Refer to the staff member by case number only." if row in (None, 1) else None
    return [
        _text(action_field(row, "description"), label, action_points.DESCRIPTION_LIMIT, multiline=False,
              optional=optional, hint=hint),
        input_block(action_field(row, "owner"), "Owner",
                    {"type": "users_select", "placeholder": plain("Choose a person")}, optional=optional),
        input_block(action_field(row, "due"), "Due date", {"type": "datepicker"}, optional=optional),
    ]


def _more_rows(reference: str, rows: int) -> Block:
    """The "Add another action point" button, or, at the limit, where to add more later."""
    if rows < MAX_ROWS:
        return {"type": "actions", "block_id": ids.OUTCOME_MORE_ACTIONS, "elements": [
            {"type": "button", "action_id": ids.OUTCOME_ADD_ACTION_ROW, "text": plain("Add another action point"),
             "value": reference}]}
    return _context(f"This form takes up to {MAX_ROWS} action points. Add more later from the case channel with "
                    f"`{ids.COMMAND} action {reference}`.", ids.OUTCOME_MORE_ACTIONS)


def _quorum_blocks(case: CaseToRecord) -> list[Block]:
    if case.quorate is not None:
        recorded = case.quorum_reason or ("quorate" if case.quorate else "not quorate")
        return [_context(f"From the roll-call: {slack_escape(recorded)}")]
    yes_no = [option("yes", "Yes"), option("no", "No")]
    return [
        _header("Quorum"),
        _choice(QUORATE_STATED, "Was the call quorate?", yes_no, radio=True,
                hint="No roll-call was recorded for this call."),
        _text(QUORUM_STATEMENT, "How is that known?", outcomes.TEXT_LIMIT, multiline=True,
              hint="For example, the chair's count of the members on the call and their roles."),
    ]


def outcome_view(case: CaseToRecord, rows: int = 1, nonce: str = "") -> dict[str, Any]:
    """The outcome form for `case`, with `rows` empty action point rows; `nonce` names its form record."""
    answers = _answer_options()
    blocks: list[Block] = [
        _context(f"The group's advisory recommendation on *{case.reference}* to the Medical Director, who decides. "
                 "Refer to the staff member by case number only: no names in any field."),
        _choice(PROCESS, "Recommended process", [option(k.value, v) for k, v in PROCESS_LABELS.items()], radio=False),
        _text(RATIONALE, "Rationale", outcomes.TEXT_LIMIT, multiline=True,
              hint="Why this process is recommended."),
        _choice(RISK_LEVEL, "Risk level", [option(k.value, v) for k, v in RISK_LABELS.items()], radio=False,
                hint="A high-risk outcome is reported, anonymised, to the Quality Board."),
        _text(RISK_NOTES, "Risk assessment notes", outcomes.TEXT_LIMIT, multiline=True, optional=True),
        _header("Legal liaison"),
        _choice(ML_POLICY, "Does the medical-liability policy need notifying?", answers, radio=True),
        _choice(LEGAL_ADVICE, "Is legal advice needed?", answers, radio=True),
        _header("Support"),
        _choice(WELFARE, "Was welfare / pastoral support offered to the staff member?", answers, radio=True),
        _text(LINE_MANAGER_SUPPORT, "Support for the line manager", outcomes.TEXT_LIMIT, multiline=True,
              optional=True),
        *_quorum_blocks(case),
        _header("Fairness and proportionality"),
        _context('A "no" or "unknown" becomes an action point for further inquiry, owned by the chair. The answers '
                 "stay in the case record and can be revisited as the case progresses."),
        *fairness_blocks({}),
        _header("Action points"),
        _context("Each needs a description, an owner and a due date. A row left empty is ignored."),
    ]
    for row in range(1, min(rows, MAX_ROWS) + 1):
        blocks += action_row(row)
    blocks.append(_more_rows(case.reference, rows))
    return modal(ids.OUTCOME_VIEW, "Outcome", blocks, submit="Record", private_metadata=nonce)


def fairness_view(reference: str, current: dict[str, tuple[str, str]]) -> dict[str, Any]:
    blocks = [
        _context(f"Revisit the fairness and proportionality answers for *{reference}*. Your answers are added to the "
                 'case record; earlier ones are kept. A new "no" or "unknown" becomes an action point for further '
                 "inquiry, owned by the chair, unless one is already open for that principle."),
        *fairness_blocks(current),
    ]
    return modal(ids.FAIRNESS_VIEW, "Revisit fairness", blocks, submit="Save")


def action_view(reference: str) -> dict[str, Any]:
    blocks = [_context(f"A new action point on *{reference}*. Its owner is told by direct message and reminded "
                       "until it is done."), *action_row(None)]
    return modal(ids.ACTION_ADD_VIEW, "Add an action point", blocks, submit="Add")


# --- parsing ----------------------------------------------------------------------------------------


def _date(raw: Any) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _new_action(values: dict[str, Any], row: int | None) -> NewAction:
    return NewAction(description=field_value(values, action_field(row, "description")) or "",
                     owner_id=field_value(values, action_field(row, "owner")) or "",
                     due_on=_date(field_value(values, action_field(row, "due"))))


def parse_actions(values: dict[str, Any], max_row: int = MAX_ROWS) -> tuple[tuple[int, ...], tuple[NewAction, ...]]:
    """The rows with anything in them, and their row numbers (a completely empty row is ignored). Only the
    rows the bot built into the form (`max_row`) count: more in an edited payload are not read."""
    rows = sorted({int(m.group(1)) for key in values if (m := _ROW_FIELD.match(key)) and int(m.group(1)) <= max_row})
    kept: list[tuple[int, NewAction]] = []
    for row in rows:
        action = _new_action(values, row)
        if action.description.strip() or action.owner_id or action.due_on is not None:
            kept.append((row, action))
    return tuple(r for r, _ in kept), tuple(a for _, a in kept)


def at_rows(errors: dict[str, str], rows: tuple[int, ...]) -> dict[str, str]:
    """The domain numbers the rows it was given 1, 2, ...; put each error back on the row it came from."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        m = _ROW_FIELD.match(key)
        if m and 0 < int(m.group(1)) <= len(rows):
            key = action_field(rows[int(m.group(1)) - 1], m.group(2))
        out[key] = message
    return out


def _fairness_values(values: dict[str, Any]) -> dict[str, tuple[str | None, str]]:
    return {p.key: (field_value(values, fairness_field(p.key)), field_value(values, fairness_note_field(p.key)) or "")
            for p in PRINCIPLES}


def parse_outcome(values: dict[str, Any], reference: str, actor: str,
                  max_row: int = MAX_ROWS) -> tuple[tuple[int, ...], OutcomeForm]:
    rows, actions = parse_actions(values, max_row)
    form = OutcomeForm(
        reference=reference, actor=actor, process=field_value(values, PROCESS),
        rationale=field_value(values, RATIONALE) or "", risk_level=field_value(values, RISK_LEVEL),
        risk_notes=field_value(values, RISK_NOTES) or "", ml_policy_notify=field_value(values, ML_POLICY),
        legal_advice=field_value(values, LEGAL_ADVICE), welfare_offered=field_value(values, WELFARE),
        line_manager_support=field_value(values, LINE_MANAGER_SUPPORT) or "", fairness=_fairness_values(values),
        actions=actions, quorate_stated=YES_NO.get(field_value(values, QUORATE_STATED) or ""),
        quorum_statement=field_value(values, QUORUM_STATEMENT) or "")
    return rows, form


# --- refusals worded for Slack: the domain (bot/domain/recording.py) decides, the wording points to a command --


def _refused(exc: NotAllowed | NotFound) -> str:
    if isinstance(exc, OutcomeAlreadyRecorded):
        return (f"The outcome of {exc.reference} is already recorded. Revisit the fairness answers with "
                f"`{ids.COMMAND} fairness {exc.reference}`, or add an action point with "
                f"`{ids.COMMAND} action {exc.reference}`.")
    if isinstance(exc, OutcomeNotRecorded):
        return (f"Record the outcome of {exc.reference} first (`{ids.COMMAND} outcome {exc.reference}`): "
                "its action points are circulated with it.")
    return refusal_text(exc)


def _reference(command: dict[str, Any]) -> str:
    """The word after the subcommand: `/pmccg outcome PMCCG-2026-001`."""
    words = (command.get("text") or "").split()
    return words[1] if len(words) > 1 else ""


def _open(client: WebClient, trigger_id: str, user_id: str, reference: str, services: Services, usage: str,
          build: Callable[[CaseToRecord], dict[str, Any]], kind: FormKind) -> str | None:
    """Check, then open the modal (the trigger lasts 3 s); return a refusal to show privately, or None."""
    if not reference.strip():
        return f"Say which case: `{ids.COMMAND} {usage}` followed by the case reference."
    try:
        case = recording.case_to_record(services.sessions, services.terms, reference, user_id, kind)
    except (NotAllowed, NotFound) as exc:
        return _refused(exc)
    open_modal(client, services, trigger_id, build(case), kind=kind, user_id=user_id, subject=case.reference)
    # The names used to refuse a staff member's name in typed text: loaded while they type.
    services.directory.refresh_in_background()
    return None


def _build_fairness(case: CaseToRecord) -> dict[str, Any]:
    return fairness_view(case.reference, dict(case.fairness))


def _build_action(case: CaseToRecord) -> dict[str, Any]:
    return action_view(case.reference)


def open_outcome(client: WebClient, trigger_id: str, user_id: str, reference: str, services: Services) -> str | None:
    return _open(client, trigger_id, user_id, reference, services, "outcome", outcome_view, FormKind.OUTCOME)


def open_fairness(client: WebClient, trigger_id: str, user_id: str, reference: str, services: Services) -> str | None:
    return _open(client, trigger_id, user_id, reference, services, "fairness", _build_fairness, FormKind.FAIRNESS)


def open_action(client: WebClient, trigger_id: str, user_id: str, reference: str, services: Services) -> str | None:
    return _open(client, trigger_id, user_id, reference, services, "action", _build_action, FormKind.ACTION_ADD)


# --- /pmccg subcommands (the SUBCOMMANDS table in handlers/slack/listeners/commands.py) -------------------------------


def _command(opener: Callable[[WebClient, str, str, str, Services], str | None]) -> Callable[..., None]:
    def run(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        refusal = opener(client, command["trigger_id"], command["user_id"], _reference(command), services)
        if refusal:
            respond(text=refusal, response_type="ephemeral")
    return run


command_outcome = _command(open_outcome)
command_fairness = _command(open_fairness)
command_action = _command(open_action)


# --- after a submission ----------------------------------------------------------------------------------


def _recorded_text(recorded: Recorded) -> str:
    text = (f":white_check_mark: Recorded: the outcome of *{recorded.reference}*. The action points are being "
            "circulated within a minute: in the case channel, to each owner, and the recommendation, anonymised, "
            "to the Medical Director.")
    if recorded.inquiry_ids:
        text += (f"\n{len(recorded.inquiry_ids)} fairness answer(s) call for further inquiry: an action point for "
                 "each is with the chair.")
    return text


def _tell(step: str, case_ref: str, send: Callable[[], object]) -> bool:
    try:
        send()
        return True
    except PlatformFailure as exc:
        # The change is recorded either way; the message is the announcement.
        log.warning(step, extra={"event": step, "case_ref": case_ref, "error": exc.error})
        return False


def register(app: App) -> None:
    @app.action(ids.CASE_RECORD_OUTCOME)
    def record_outcome_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                               services: Services) -> None:
        ack()
        refusal = open_outcome(client, body["trigger_id"], body["user"]["id"],
                               str(body["actions"][0].get("value", "")), services)
        if refusal:
            respond(text=refusal, response_type="ephemeral", replace_original=False)

    @app.action(ids.CASE_REVISIT_FAIRNESS)
    def revisit_fairness_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                                 services: Services) -> None:
        ack()
        refusal = open_fairness(client, body["trigger_id"], body["user"]["id"],
                                str(body["actions"][0].get("value", "")), services)
        if refusal:
            respond(text=refusal, response_type="ephemeral", replace_original=False)

    @app.action(ids.OUTCOME_ADD_ACTION_ROW)
    def add_action_row(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        ack()
        payload_view = body.get("view") if isinstance(body.get("view"), dict) else {}
        try:
            # Only a view the bot opened for this person, as its form record says.
            form = form_of(services, body, FormKind.OUTCOME)
        except (FormRefused, AlreadySubmitted):
            return  # logged by bot/domain/forms.py; the view is left as the bot built it
        grown = forms.add_row(services.sessions, form, MAX_ROWS)
        if grown is None:
            return  # at the limit, or a double click already added this row
        try:
            view = outcome_view(recording.case_of_form(services.sessions, form), rows=grown.rows, nonce=form.nonce)
        except NotFound:
            forms.undo_row(services.sessions, grown)
            return
        # The bot's own blocks, with only the typed values carried over.
        state = payload_view.get("state") if isinstance(payload_view.get("state"), dict) else {}
        view["blocks"] = with_initial_values(view["blocks"], state.get("values"))
        hash_ = payload_view.get("hash")
        try:
            client.views_update(view_id=grown.view_id, hash=hash_ if isinstance(hash_, str) else None, view=view)
        except SlackApiError as exc:
            # hash_conflict: the view changed meanwhile; the row is counted back so the form matches the view.
            forms.undo_row(services.sessions, grown)
            log.warning("outcome_add_row_failed", extra={"event": "outcome_add_row_failed",
                                                         "error": str(exc.response.get("error"))})

    @app.view(ids.OUTCOME_VIEW)
    def submit_outcome(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id = body["user"]["id"]
        try:
            form = form_of(services, body, FormKind.OUTCOME)
        except (FormRefused, AlreadySubmitted) as exc:
            answer_not_taken(ack, exc)
            return
        rows, outcome_form = parse_outcome(body["view"]["state"]["values"], form.subject, user_id, form.rows)
        # Normally loaded when the modal opened; after a restart, load it now (bounded wait).
        services.directory.refresh_in_background()
        names = services.directory.names(wait_seconds=1.5)
        now = services.clock()
        try:
            recorded = recording.record_outcome(services.sessions, services.engine, form, outcome_form, services.terms,
                                                services.zone, names, services.directory, now)
        except AlreadySubmitted as exc:
            answer_not_taken(ack, exc)
            return
        except InvalidInput as exc:
            ack(response_action="errors", errors=at_rows(exc.fields, rows))
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="update", view=message_modal("Outcome not recorded", _refused(exc)))
            return
        ack(response_action="update", view=message_modal("Outcome", _recorded_text(recorded)))
        refresh_case_header(services, client, recorded.case_id)  # counts shown; "Record outcome" goes
        log.info("outcome_recorded", extra={"event": "outcome_recorded", "case_ref": recorded.reference,
                                            "actions": len(recorded.action_ids),
                                            "inquiries": len(recorded.inquiry_ids)})

    @app.view(ids.FAIRNESS_VIEW)
    def submit_fairness(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id = body["user"]["id"]
        try:
            form = form_of(services, body, FormKind.FAIRNESS)
        except (FormRefused, AlreadySubmitted) as exc:
            answer_not_taken(ack, exc)
            return
        answers = _fairness_values(body["view"]["state"]["values"])
        services.directory.refresh_in_background()
        names = services.directory.names(wait_seconds=1.5)
        try:
            saved = recording.revisit_fairness(services.sessions, services.engine, form, services.terms,
                                               services.zone, user_id, answers, names, services.clock())
        except AlreadySubmitted as exc:
            answer_not_taken(ack, exc)
            return
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="update", view=message_modal("Not saved", _refused(exc)))
            return
        text = (f":white_check_mark: Saved: the fairness answers for *{saved.reference}*. "
                "Earlier answers stay in the record.")
        if saved.inquiry_ids:
            text += f"\n{len(saved.inquiry_ids)} new action point(s) for further inquiry, with the chair."
        ack(response_action="update", view=message_modal("Revisit fairness", text))
        model = {"reference": saved.reference, "actor_id": user_id, "inquiries": len(saved.inquiry_ids),
                 "owners": list(saved.owners), "revisit_action": ids.CASE_REVISIT_FAIRNESS,
                 "answers": [{"title": PRINCIPLE_BY_KEY[k].title, "answer": ANSWER_LABELS[Answer(a)]}
                             for k, (a, _) in saved.answers.items()]}
        _tell("fairness_note_failed", saved.reference,
              lambda: SlackWorkspace(client).post(saved.room_id, Message(MessageKind.FAIRNESS_REVISITED, model)))

    @app.view(ids.ACTION_ADD_VIEW)
    def submit_action(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id = body["user"]["id"]
        try:
            form = form_of(services, body, FormKind.ACTION_ADD)
        except (FormRefused, AlreadySubmitted) as exc:
            answer_not_taken(ack, exc)
            return
        action = _new_action(body["view"]["state"]["values"], None)
        services.directory.refresh_in_background()
        names = services.directory.names(wait_seconds=1.5)
        try:
            added = recording.add_action(services.sessions, services.engine, form, services.terms, services.zone,
                                         user_id, action, names, services.directory, ACTION, services.clock())
        except AlreadySubmitted as exc:
            answer_not_taken(ack, exc)
            return
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="update", view=message_modal("Not added", _refused(exc)))
            return
        owner = added.owner_id
        model = {"reference": added.reference, "room_id": added.room_id, "actor_id": user_id,
                 "number": added.number, "description": added.description,
                 "due_text": f"{added.due_on:%A} {added.due_on.day} {added.due_on:%B %Y}", "reminded": True}
        ack(response_action="update", view=message_modal("Add an action point", (
            f":white_check_mark: Added action point {model['number']} on *{model['reference']}* for <@{owner}>, "
            f"due {model['due_text']}. I am telling them by direct message.")))
        refresh_case_header(services, client, added.case_id)
        told = _tell("action_owner_dm_failed", model["reference"],
                     lambda: SlackWorkspace(client).send_direct(owner, Message(MessageKind.ACTION_ASSIGNED, model)))
        if not told and form.view_id:
            with contextlib.suppress(SlackApiError):  # the modal was closed: the case history has the item
                client.views_update(view_id=form.view_id, view=message_modal("Add an action point", (
                    f":warning: Added action point {model['number']} on *{model['reference']}*, but I could not "
                    f"tell <@{owner}> by direct message: please let them know.")))
