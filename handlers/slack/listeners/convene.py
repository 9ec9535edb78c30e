"""/pmccg convene: open the modal at once, validate on submit, convene after the acknowledgement."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, time
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import convening, roster
from bot.domain.convening import Convened, ConveneForm
from bot.domain.errors import InvalidInput, NotAllowed, PlatformFailure
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from bot.domain.routes import ROUTE_LABELS
from bot.domain.terms import Seat, Terms
from bot.services import Services
from handlers.slack import ids
from handlers.slack.forms import form_of, open_modal
from handlers.slack.modals import field_value, input_block, message_modal, modal, option, plain, with_initial_values
from handlers.slack.replies import refusal_text
from handlers.slack.workspace import SlackWorkspace

log = logging.getLogger(__name__)

DURATIONS = convening.DURATION_CHOICES
SHORT_NOTICE = "short_notice"
EXTRA = "extra_members"
PROFESSION = ids.CONVENE_PROFESSION


def lead_block(seat: Seat, profession: str | None) -> str:
    """The block id of a seat. A seat that follows the staff member's profession is named after the
    profession it was proposed for: Slack keeps what a person chose in an input whose block id is
    unchanged (even over a new initial_user), so a new profession renames the block, and its new
    proposal shows; the same profession keeps the block and whatever the person chose there."""
    field = convening.seat_field(seat)
    return f"{field}.{profession}" if seat.match_profession and profession else field


def seat_blocks(values: Any, terms: Terms, profession: str | None) -> dict[str, str]:
    """Seat field -> the block id that seat has in a submitted view. A seat that follows the profession is
    found by its field name followed by "." (see lead_block): preferably the block for the profession
    submitted, else the plain field, else the first such block."""
    keys = [k for k in values if isinstance(k, str)] if isinstance(values, dict) else []
    found: dict[str, str] = {}
    for seat in terms.seats:
        field = convening.seat_field(seat)
        if not seat.match_profession:
            found[field] = field
            continue
        named = sorted(k for k in keys if k.startswith(f"{field}."))
        wanted = lead_block(seat, profession)
        found[field] = wanted if wanted in keys else field if field in keys or not named else named[0]
    return found


def _known_profession(terms: Terms, values: Any) -> str | None:
    chosen = field_value(values, PROFESSION) if isinstance(values, dict) else None
    found = terms.profession(chosen) if isinstance(chosen, str) else None
    return found.key if found else None


def convene_view(terms: Terms, zone_name: str, proposal: Mapping[str, str | None], *, profession: str | None = None,
                 banner: str | None = None, nonce: str = "") -> dict[str, Any]:
    """The convene form, empty but for the roster's `proposal` (seat key -> user) and the usual duration.
    `profession` is the one chosen so far: it names the seats that follow it (lead_block). A form
    rebuilt while open takes what was typed with handlers.modals.with_initial_values."""
    blocks: list[dict[str, Any]] = []
    if banner:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f":warning: {banner}"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        "The staff member is referred to by case number only: do not type their name anywhere in this form. "
        "Initials are fine.")}]})

    def select(field: str, label: str, options: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "static_select", "placeholder": plain("Choose"), "options": options}
        return input_block(field, label, element, **kw)

    def text(field: str, label: str, limit: int, *, multiline: bool, hint: str) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline, "max_length": limit}
        return input_block(field, label, element, hint=hint)

    follows = any(seat.match_profession for seat in terms.seats)
    profession_block = select(PROFESSION, "Staff member's professional group",
                              [option(p.key, p.label) for p in terms.professions],
                              hint="Their professional lead is then proposed from the roster." if follows else None)
    if follows:  # choosing one sends the choice at once (a select dispatches on selection): the lead is proposed
        profession_block["dispatch_action"] = True
    blocks.append(profession_block)
    blocks.append(select("route", "How was the concern identified?",
                         [option(k, v) for k, v in ROUTE_LABELS.items()]))
    limits = convening.TEXT_LIMITS
    blocks.append(input_block("concern_raised", "When was the concern first raised?", {"type": "datepicker"},
                              optional=True,
                              hint="Leave empty if it is today. The record measures the days from here to the call."))
    blocks.append(text("concern", "Describe the concern", limits["concern"], multiline=True,
                       hint="What happened, its impact on patients or staff. No names."))
    blocks.append(text("risks", "Immediate risks", limits["risks"], multiline=True,
                       hint="Service gaps, media interest, patient safety. Write 'none identified' if there are none."))
    blocks.append(input_block("call_date", "Date of the call", {"type": "datepicker"}))
    blocks.append(input_block("call_time", f"Time of the call ({zone_name} time)",
                              {"type": "timepicker", "timezone": zone_name}))
    duration_options = [option(str(d), f"{d} minutes") for d in DURATIONS]
    duration_block = select("duration", "Duration", duration_options)
    duration_block["element"]["initial_option"] = duration_options[2]
    blocks.append(duration_block)
    blocks.append(text("call_details", "Conference call link or dial-in", limits["call_details"], multiline=False,
                       hint="Shown to the members in the case channel."))
    blocks.append({"type": "header", "text": plain("Members")})
    chosen_profession = terms.profession(profession or "")
    for seat in terms.seats:
        element: dict[str, Any] = {"type": "users_select", "placeholder": plain("Choose a person")}
        chosen = proposal.get(seat.key)
        if chosen:
            element["initial_user"] = chosen
        hint = None
        if seat.match_profession:
            if chosen_profession is None:
                hint = "Proposed from the roster once the professional group above is chosen."
            elif chosen:
                hint = f"Proposed from the roster: a professional lead for {chosen_profession.label.lower()}."
            else:
                hint = (f"The roster has no professional lead for {chosen_profession.label.lower()}: choose one, "
                        f"or ask governance to add one with {ids.COMMAND} roster.")
        block = input_block(convening.seat_field(seat), seat.label, element, hint=hint)
        block["block_id"] = lead_block(seat, chosen_profession.key if chosen_profession else None)
        blocks.append(block)
    extra: dict[str, Any] = {"type": "multi_users_select", "placeholder": plain("Anyone else to invite"),
                             "max_selected_items": terms.max_extra_members}
    blocks.append(input_block(EXTRA, "Extra members", extra, optional=True,
                              hint=f"Invited as members too, up to {terms.max_extra_members}."))
    short = option("yes", "Short notice: a serious incident")
    blocks.append(input_block(SHORT_NOTICE, "Exceptional business", {"type": "checkboxes", "options": [short]},
                              optional=True, hint="Shorter notice and reminders; the chair is told at once."))
    return modal(ids.CONVENE_VIEW, f"Convene {terms.short_name}"[:24], blocks, submit="Convene",
                 private_metadata=nonce)


def refilled_view(terms: Terms, zone_name: str, proposal: Mapping[str, str | None], values: Any, *,
                  banner: str | None = None, nonce: str = "") -> dict[str, Any]:
    """The convene form rebuilt while it is open, holding every value typed (`values`, view.state.values)."""
    view = convene_view(terms, zone_name, proposal, profession=_known_profession(terms, values), banner=banner,
                        nonce=nonce)
    view["blocks"] = with_initial_values(view["blocks"], values)
    return view


def parse_form(view: dict[str, Any], user_id: str, terms: Terms) -> ConveneForm:
    values = view["state"]["values"]

    def parsed(field: str, parse: Any) -> Any:
        raw = field_value(values, field)
        try:
            return parse(raw) if raw else None
        except ValueError:
            return None

    profession = field_value(values, PROFESSION)
    blocks = seat_blocks(values, terms, profession if isinstance(profession, str) else None)

    def seat_value(seat: Seat) -> Any:
        field = convening.seat_field(seat)
        return field_value({field: (values.get(blocks[field]) or {})}, field)

    return ConveneForm(
        convener_id=user_id,
        submission_key=view["id"],
        profession=profession,
        route=field_value(values, "route"),
        concern=field_value(values, "concern") or "",
        risks=field_value(values, "risks") or "",
        call_date=parsed("call_date", date.fromisoformat),
        call_time=parsed("call_time", time.fromisoformat),
        duration_minutes=parsed("duration", int),
        call_details=field_value(values, "call_details") or "",
        seats={s.key: seat_value(s) for s in terms.seats},
        extra_members=tuple(field_value(values, EXTRA) or ()),
        short_notice=bool(field_value(values, SHORT_NOTICE)),
        concern_raised=parsed("concern_raised", date.fromisoformat),
    )


def at_blocks(errors: Mapping[str, str], values: Any, terms: Terms, profession: str | None) -> dict[str, str]:
    """The domain's errors, keyed by field, put on the blocks the submitted view has (a seat that follows
    the profession has its own block id): Slack refuses errors keyed to a block not in the view."""
    blocks = seat_blocks(values, terms, profession)
    return {blocks.get(field, field): message for field, message in errors.items()}


def open_convene(client: WebClient, trigger_id: str, user_id: str, services: Services) -> str | None:
    """Open the modal (the trigger lasts 3 s, so this comes first); return a refusal to show, or None.
    The modal is a form record (bot/domain/forms.py) so that only its convener's changes in it are answered."""
    with services.sessions() as session:
        try:
            convening.may_convene(session, services.terms, user_id)
        except NotAllowed as exc:
            return refusal_text(exc)
        proposal = convening.proposed_seats(session, services.terms, user_id)
    open_modal(client, services, trigger_id, convene_view(services.terms, services.settings.timezone, proposal),
               kind=FormKind.CONVENE, user_id=user_id, subject="")
    # Slow, after the modal is open: the names used to refuse a staff name in the form.
    services.directory.refresh_in_background()
    return None


def profession_chosen(body: dict[str, Any], client: WebClient, services: Services) -> None:
    """The profession was chosen or changed in an open convene form: propose that profession's lead in
    the seats that follow it, keeping everything else typed. Only in a view the bot opened for this
    person, who may still convene; anything else changes nothing (logged by event name)."""
    user_id = body["user"]["id"]
    try:
        form = form_of(services, body, FormKind.CONVENE)
    except (FormRefused, AlreadySubmitted):
        return  # logged by bot/domain/forms.py
    payload_view = body.get("view") if isinstance(body.get("view"), dict) else {}
    state = payload_view.get("state") if isinstance(payload_view.get("state"), dict) else {}
    values = dict(state.get("values")) if isinstance(state.get("values"), dict) else {}
    actions = body.get("actions") or [{}]
    chosen = actions[0].get("selected_option") if isinstance(actions[0], dict) else None
    if isinstance(chosen, dict) and actions[0].get("block_id") == PROFESSION:  # the choice itself, as sent
        values[PROFESSION] = {PROFESSION: {"type": "static_select", "selected_option": chosen}}
    terms = services.terms
    profession = _known_profession(terms, values)
    parsed = parse_form({"id": form.view_id or "", "state": {"values": values}}, user_id, terms)
    try:
        with services.sessions() as session:
            convening.may_convene(session, terms, user_id)
            proposal = convening.propose_for_profession(session, terms, user_id, profession, parsed.seats)
    except NotAllowed:
        log.warning("convene_dispatch_refused", extra={"event": "convene_dispatch_refused", "form_id": form.id})
        return
    view = refilled_view(terms, services.settings.timezone, proposal, values, nonce=form.nonce)
    hash_ = payload_view.get("hash")
    try:
        client.views_update(view_id=form.view_id, hash=hash_ if isinstance(hash_, str) else None, view=view)
    except SlackApiError as exc:
        # hash_conflict: the view changed meanwhile (a newer choice, or it was submitted); left as it is.
        log.warning("convene_dispatch_failed", extra={"event": "convene_dispatch_failed", "form_id": form.id,
                                                      "error": str(exc.response.get("error"))})
    else:
        log.info("convene_lead_proposed", extra={"event": "convene_lead_proposed", "form_id": form.id,
                                                 "proposed": sum(1 for u in proposal.values() if u)})


def register(app: App) -> None:
    @app.action(ids.CONVENE_PROFESSION)
    def on_profession(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        ack()
        profession_chosen(body, client, services)

    @app.view(ids.CONVENE_VIEW)
    def submit_convene(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id = body["user"]["id"]
        view = body["view"]
        terms = services.terms
        form = parse_form(view, user_id, terms)
        now = services.clock()
        # Normally loaded when the modal opened; after a restart, load it now (bounded wait).
        services.directory.refresh_in_background()
        try:
            with services.sessions() as session:
                convening.may_convene(session, terms, user_id)
                chosen = [u for u in form.seats.values() if u]
                entries = roster.entries_for(session, chosen)
            request = convening.validate(form, terms, entries, services.directory.names(wait_seconds=1.5), now,
                                         services.zone, people=services.directory)
        except InvalidInput as exc:
            # Slack keeps everything typed in a form refused with errors.
            ack(response_action="errors", errors=at_blocks(exc.fields, view["state"]["values"], terms,
                                                           form.profession))
            return
        except NotAllowed as exc:
            ack(response_action="update", view=message_modal("Not allowed", refusal_text(exc)))
            return
        ack(response_action="update", view=message_modal(
            f"Convene {terms.short_name}"[:24], ":hourglass_flowing_sand: Creating the case channel and inviting "
            "the members. This takes a few seconds."))
        workspace = SlackWorkspace(client)
        try:
            result = convening.convene(services.sessions, services.engine, request, terms, workspace, now,
                                       services.zone)
        except PlatformFailure as exc:
            _show_failure(client, view, user_id, services, exc)
            return
        _show_success(client, view["id"], user_id, result)


def _show_success(client: WebClient, view_id: str, user_id: str, result: Convened) -> None:
    text = (f":white_check_mark: *{result.reference}* is convened in <#{result.room_id}>. The members have been "
            "invited and asked to say whether they will attend.")
    if result.undelivered:
        text += f"\n:warning: {len(result.undelivered)} invitation(s) could not be sent by direct message."
    try:
        client.views_update(view_id=view_id, view=message_modal("Convened", text))
    except SlackApiError:
        # The convener closed the modal: tell them in the app's direct messages instead.
        client.chat_postMessage(channel=user_id, text=text)


def _show_failure(client: WebClient, view: dict[str, Any], user_id: str, services: Services,
                  exc: PlatformFailure) -> None:
    banner = (f"Nothing was created: {exc.step} failed ({exc.error}). "
              + ("Slack may be busy: press Convene to try again." if not exc.permanent else
                 "Check the members chosen, then press Convene to try again."))
    values = view["state"]["values"]
    with services.sessions() as session:
        proposal = convening.proposed_seats(session, services.terms, user_id, _known_profession(services.terms,
                                                                                                values))
    # The progress notice replaced the form: the form comes back with everything that was typed, and the
    # nonce of its form record (the one in the submitted view; a stranger's nonce is refused on use).
    metadata = view.get("private_metadata")
    form = refilled_view(services.terms, services.settings.timezone, proposal, values, banner=banner,
                         nonce=metadata if isinstance(metadata, str) else "")
    try:
        client.views_update(view_id=view["id"], view=form)
    except SlackApiError:
        client.chat_postMessage(channel=user_id, text=f":warning: Your {services.terms.short_name} could not be "
                                f"convened. {banner.replace('press Convene', 'run /pmccg convene')}")
