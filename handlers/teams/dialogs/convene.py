"""The convene form as a Teams dialog: the same fields, words and ids as Slack's modal
(handlers/slack/listeners/convene.py), read into the same ConveneForm.

Slack proposes the professional lead the moment the profession is chosen (the select dispatches an action
and the view is updated). Adaptive Cards 1.5 have no input that sends on change, so the dialog has a button
under the profession, "Propose their professional lead", which sends the form (`convene_profession`)
without submitting it; the listener answers with the dialog built again from what was typed and the
roster's proposal put in the seats that follow the profession:

    reading = read_convene(data, terms, convener_id=user, submission_key=form.nonce)
    proposal = convening.propose_for_profession(session, terms, user, reading.value.profession, reading.value.seats)
    card = convene_dialog(propose_leads(data, terms, proposal), nonce=form.nonce, terms=terms, zone_name=...,
                          names=..., proposed_for=reading.value.profession)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain import convening
from bot.domain.convening import ConveneForm
from bot.domain.routes import ROUTE_LABELS
from bot.domain.terms import Terms
from handlers.teams.dialogs.fields import CardForm, Reader, Reading, adaptive_card

SUBMIT = "convene_submit"
PROPOSE = "convene_profession"  # the in-dialog button: propose the lead for the profession chosen
PROFESSION = "profession"
ROUTE = "route"
CONCERN_RAISED = "concern_raised"
CONCERN = "concern"
RISKS = "risks"
CALL_DATE = "call_date"
CALL_TIME = "call_time"
DURATION = "duration"
CALL_DETAILS = "call_details"
EXTRA = "extra_members"
SHORT_NOTICE = "short_notice"
DEFAULT_DURATION = 60


def title(terms: Terms) -> str:
    return f"Convene {terms.short_name}"


def field_ids(terms: Terms) -> list[str]:
    """Every input's id, in the card's order; a seat's is the domain's `seat_<key>` (convening.seat_field)."""
    return [PROFESSION, ROUTE, CONCERN_RAISED, CONCERN, RISKS, CALL_DATE, CALL_TIME, DURATION, CALL_DETAILS,
            *(convening.seat_field(s) for s in terms.seats), EXTRA, SHORT_NOTICE]


def _follows(terms: Terms) -> bool:
    return any(seat.match_profession for seat in terms.seats)


def propose_leads(values: Mapping[str, Any], terms: Terms, proposal: Mapping[str, str | None]) -> dict[str, Any]:
    """`values` with each seat that follows the profession set to the roster's proposal for it (seat key ->
    user, None: nobody free, the seat is emptied); every other field as typed. For the listener answering
    PROPOSE with convening.propose_for_profession's result."""
    out = dict(values) if isinstance(values, Mapping) else {}
    for seat in terms.seats:
        if seat.match_profession and seat.key in proposal:
            out[convening.seat_field(seat)] = proposal[seat.key] or ""
    return out


def convene_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str, terms: Terms,
                   zone_name: str, proposal: Mapping[str, str | None] = {}, names: Mapping[str, str] = {},
                   banner: str | None = None, proposed_for: str | None = None) -> dict[str, Any]:
    """The convene dialog's card. `proposal` (seat key -> user) fills the seats when the dialog first opens
    (convening.proposed_seats); after that the seats hold what was sent. `names` (user id -> display name,
    from the directory) lets the people pickers show who is already chosen. `banner` is a warning on top.
    `proposed_for` is the profession the lead seats were just proposed for (the answer to PROPOSE, with
    `propose_leads`): their hints then say what the roster gave, as Slack's do after the dispatch."""
    form = CardForm(values, errors)
    if banner:
        form.warning(banner)
    form.note("The staff member is referred to by case number only: do not type their name anywhere in this form. "
              "Initials are fine.", subtle=True)
    follows = _follows(terms)
    form.choice(PROFESSION, "Staff member's professional group", [(p.key, p.label) for p in terms.professions],
                hint="Their professional lead is then proposed from the roster." if follows else None)
    if follows:
        form.button("Propose their professional lead", PROPOSE, nonce)
    form.choice(ROUTE, "How was the concern identified?", list(ROUTE_LABELS.items()))
    limits = convening.TEXT_LIMITS
    form.date(CONCERN_RAISED, "When was the concern first raised?", optional=True,
              hint="Leave empty if it is today. The record measures the days from here to the call.")
    form.text(CONCERN, "Describe the concern", limit=limits[CONCERN], multiline=True,
              hint="What happened, its impact on patients or staff. No names.")
    form.text(RISKS, "Immediate risks", limit=limits[RISKS], multiline=True,
              hint="Service gaps, media interest, patient safety. Write 'none identified' if there are none.")
    form.date(CALL_DATE, "Date of the call")
    form.time(CALL_TIME, f"Time of the call ({zone_name} time)")
    form.choice(DURATION, "Duration", [(str(d), f"{d} minutes") for d in convening.DURATION_CHOICES],
                initial=str(DEFAULT_DURATION))
    form.text(CALL_DETAILS, "Conference call link or dial-in", limit=limits[CALL_DETAILS],
              hint="Shown to the members in the case chat.")
    form.heading("Members")
    chosen = form.values.get(PROFESSION)
    profession = terms.profession(chosen) if isinstance(chosen, str) else None
    for seat in terms.seats:
        name = convening.seat_field(seat)
        initial = proposal.get(seat.key)
        hint = None
        if seat.match_profession:
            has_lead = bool(form.values.get(name)) if name in form.values else bool(initial)
            if profession is None:
                hint = "Proposed from the roster once the professional group above is chosen."
            elif proposed_for != profession.key:
                hint = (f"Choose a professional lead for {profession.label.lower()}, or press "
                        "\"Propose their professional lead\" above.")
            elif has_lead:
                hint = f"Proposed from the roster: a professional lead for {profession.label.lower()}."
            else:
                hint = (f"The roster has no professional lead for {profession.label.lower()}: choose one, "
                        "or ask governance to add one with the roster command.")
        form.people(name, seat.label, initial=[initial] if initial else [], names=names, hint=hint)
    form.people(EXTRA, "Extra members", multi=True, optional=True, names=names, placeholder="Anyone else to invite",
                hint=f"Invited as members too, up to {terms.max_extra_members}.")
    form.toggle(SHORT_NOTICE, "Exceptional business", "Short notice: a serious incident",
                hint="Shorter notice and reminders; the chair is told at once.")
    return adaptive_card(form.body, submit_title="Convene", action=SUBMIT, nonce=nonce)


def read_convene(data: Mapping[str, Any], terms: Terms, *, convener_id: str,
                 submission_key: str) -> Reading[ConveneForm]:
    """The ConveneForm the Slack listener builds (parse_form), from a submitted dialog's data. `convener_id` is
    the signed sender (from.aadObjectId); `submission_key` makes a repeated submission find its case (the
    form record's nonce, as Slack uses its view id). Options not in the terms, people who are not Entra
    ids, more extra members than the terms allow: errors at their fields."""
    read = Reader(data)
    profession = read.choice(PROFESSION, [p.key for p in terms.professions])
    form = ConveneForm(
        convener_id=convener_id,
        submission_key=submission_key,
        profession=profession,
        route=read.choice(ROUTE, ROUTE_LABELS),
        concern=read.text(CONCERN),
        risks=read.text(RISKS),
        call_date=read.date(CALL_DATE),
        call_time=read.time(CALL_TIME),
        duration_minutes=read.number(DURATION),
        call_details=read.text(CALL_DETAILS),
        seats={s.key: read.person(convening.seat_field(s)) for s in terms.seats},
        extra_members=read.people(EXTRA, terms.max_extra_members,
                                  f"Invite at most {terms.max_extra_members} extra members."),
        short_notice=read.flag(SHORT_NOTICE),
        concern_raised=read.date(CONCERN_RAISED),
    )
    return read.reading(form)
