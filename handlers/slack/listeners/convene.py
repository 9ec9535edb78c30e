"""/pmccg convene: open the modal at once, validate on submit, convene after the acknowledgement."""

from __future__ import annotations

import logging
from datetime import date, time
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import convening, roster
from bot.domain.convening import Convened, ConveneForm
from bot.domain.errors import InvalidInput, NotAllowed, PlatformFailure
from bot.domain.routes import ROUTE_LABELS
from bot.domain.terms import Terms
from bot.services import Services
from handlers.slack import ids
from handlers.slack.modals import field_value, input_block, message_modal, modal, option, plain
from handlers.slack.replies import not_allowed_text
from handlers.slack.workspace import SlackWorkspace

log = logging.getLogger(__name__)

DURATIONS = (30, 45, 60, 90, 120)
SHORT_NOTICE = "short_notice"
EXTRA = "extra_members"


def convene_view(terms: Terms, zone_name: str, proposal: dict[str, str], *, previous: dict[str, Any] | None = None,
                 banner: str | None = None) -> dict[str, Any]:
    """The convene form; `previous` (a submitted state) refills it after a failure so nothing is retyped."""
    prev = previous or {}

    def initial(field: str) -> Any:
        return field_value(prev, field) if prev else None

    blocks: list[dict[str, Any]] = []
    if banner:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f":warning: {banner}"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        "The staff member is referred to by case number only: do not type their name anywhere in this form. "
        "Initials are fine.")}]})

    def select(field: str, label: str, options: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "static_select", "placeholder": plain("Choose"), "options": options}
        chosen = initial(field)
        match = [o for o in options if o["value"] == chosen]
        if match:
            element["initial_option"] = match[0]
        return input_block(field, label, element, **kw)

    def text(field: str, label: str, limit: int, *, multiline: bool, hint: str | None = None) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline, "max_length": limit}
        if initial(field):
            element["initial_value"] = initial(field)
        return input_block(field, label, element, hint=hint)

    blocks.append(select("profession", "Staff member's professional group",
                         [option(p.key, p.label) for p in terms.professions]))
    blocks.append(select("route", "How was the concern identified?",
                         [option(k, v) for k, v in ROUTE_LABELS.items()]))
    limits = convening.TEXT_LIMITS
    raised_el: dict[str, Any] = {"type": "datepicker"}
    if initial("concern_raised"):
        raised_el["initial_date"] = initial("concern_raised")
    blocks.append(input_block("concern_raised", "When was the concern first raised?", raised_el, optional=True,
                              hint="Leave empty if it is today. The record measures the days from here to the call."))
    blocks.append(text("concern", "Describe the concern", limits["concern"], multiline=True,
                       hint="What happened, its impact on patients or staff. No names."))
    blocks.append(text("risks", "Immediate risks", limits["risks"], multiline=True,
                       hint="Service gaps, media interest, patient safety. Write 'none identified' if there are none."))
    date_el: dict[str, Any] = {"type": "datepicker"}
    if initial("call_date"):
        date_el["initial_date"] = initial("call_date")
    blocks.append(input_block("call_date", "Date of the call", date_el))
    time_el: dict[str, Any] = {"type": "timepicker", "timezone": zone_name}
    if initial("call_time"):
        time_el["initial_time"] = initial("call_time")
    blocks.append(input_block("call_time", f"Time of the call ({zone_name})", time_el))
    duration_options = [option(str(d), f"{d} minutes") for d in DURATIONS]
    duration_block = select("duration", "Duration", duration_options)
    duration_block["element"].setdefault("initial_option", duration_options[2])
    blocks.append(duration_block)
    blocks.append(text("call_details", "Conference call link or dial-in", limits["call_details"], multiline=False))
    blocks.append({"type": "header", "text": plain("Members")})
    for seat in terms.seats:
        field = convening.seat_field(seat)
        element: dict[str, Any] = {"type": "users_select", "placeholder": plain("Choose a person")}
        chosen = initial(field) or proposal.get(seat.key)
        if chosen:
            element["initial_user"] = chosen
        hint = "From the roster, for the profession chosen above." if seat.match_profession else None
        blocks.append(input_block(field, seat.label, element, hint=hint))
    extra: dict[str, Any] = {"type": "multi_users_select", "placeholder": plain("Anyone else to invite"),
                             "max_selected_items": terms.max_extra_members}
    if initial(EXTRA):
        extra["initial_users"] = initial(EXTRA)
    blocks.append(input_block(EXTRA, "Extra members (optional)", extra, optional=True))
    short = option("yes", "Short notice: a serious incident")
    short_el: dict[str, Any] = {"type": "checkboxes", "options": [short]}
    if initial(SHORT_NOTICE):
        short_el["initial_options"] = [short]
    blocks.append(input_block(SHORT_NOTICE, "Exceptional business", short_el, optional=True,
                              hint="Shorter notice and reminders; the chair is told at once."))
    return modal(ids.CONVENE_VIEW, f"Convene {terms.short_name}"[:24], blocks, submit="Convene")


def parse_form(view: dict[str, Any], user_id: str, terms: Terms) -> ConveneForm:
    values = view["state"]["values"]

    def parsed(field: str, parse: Any) -> Any:
        raw = field_value(values, field)
        try:
            return parse(raw) if raw else None
        except ValueError:
            return None

    return ConveneForm(
        convener_id=user_id,
        submission_key=view["id"],
        profession=field_value(values, "profession"),
        route=field_value(values, "route"),
        concern=field_value(values, "concern") or "",
        risks=field_value(values, "risks") or "",
        call_date=parsed("call_date", date.fromisoformat),
        call_time=parsed("call_time", time.fromisoformat),
        duration_minutes=parsed("duration", int),
        call_details=field_value(values, "call_details") or "",
        seats={s.key: field_value(values, convening.seat_field(s)) for s in terms.seats},
        extra_members=tuple(field_value(values, EXTRA) or ()),
        short_notice=bool(field_value(values, SHORT_NOTICE)),
        concern_raised=parsed("concern_raised", date.fromisoformat),
    )


def open_convene(client: WebClient, trigger_id: str, user_id: str, services: Services) -> str | None:
    """Open the modal (the trigger lasts 3 s, so this comes first); return a refusal to show, or None."""
    with services.sessions() as session:
        try:
            convening.may_convene(session, services.terms, user_id)
        except NotAllowed as exc:
            return not_allowed_text(exc)
        proposal = convening.proposed_seats(session, services.terms, user_id)
    client.views_open(trigger_id=trigger_id, view=convene_view(services.terms, services.settings.timezone, proposal))
    # Slow, after the modal is open: the names used to refuse a staff name in the form.
    services.directory.refresh_in_background()
    return None


def register(app: App) -> None:
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
            ack(response_action="errors", errors=exc.fields)
            return
        except NotAllowed as exc:
            ack(response_action="update", view=message_modal("Not allowed", not_allowed_text(exc)))
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
    with services.sessions() as session:
        proposal = convening.proposed_seats(session, services.terms, user_id)
    form = convene_view(services.terms, services.settings.timezone, proposal, previous=view["state"]["values"],
                        banner=banner)
    try:
        client.views_update(view_id=view["id"], view=form)
    except SlackApiError:
        client.chat_postMessage(channel=user_id, text=f":warning: Your {services.terms.short_name} could not be "
                                f"convened. {banner.replace('press Convene', 'run /pmccg convene')}")
