""""Invite a deputy" from a pre-call quorum warning as a Teams dialog: Slack's modal
(handlers/slack/listeners/quorum_fixes.py), the same words and field ids ("seat", "deputy"). The case reference
rides in the submit data as `reference`, as Slack carries it in private metadata (client input; the domain's
attendance.fill_seat checks who may fill a seat of that case)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.teams.dialogs.fields import FORM_FIELD, NOT_SENT_AS_TEXT, CardForm, Reader, Reading, adaptive_card

SUBMIT = "invite_deputy_submit"
TITLE = "Invite a deputy"
SEAT, DEPUTY = "seat", "deputy"
REFERENCE = "reference"  # a data key, not an input


def invite_deputy_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str,
                         reference: str, seats: Sequence[tuple[str, str]], proposed: str | None = None,
                         names: Mapping[str, str] = {}) -> dict[str, Any]:
    """`seats` and `proposed` are attendance.fill_choices' (seat key, label) pairs and proposed deputy."""
    form = CardForm(values, errors)
    form.choice(SEAT, "Standing in for", list(seats), initial=seats[0][0] if seats else None)
    form.people(DEPUTY, "Deputy", initial=[proposed] if proposed else [], names=names,
                hint="Someone on the roster whose role fits the member they stand in for. They are added to the "
                     "case chat.")
    return adaptive_card(form.body, submit_title="Invite", action=SUBMIT, nonce=nonce, **{REFERENCE: reference})


@dataclass(frozen=True)
class SeatToFill:
    """attendance.fill_seat's reference, seat key ("" if none) and deputy."""

    reference: str
    seat: str
    deputy_id: str | None


def read_invite_deputy(data: Mapping[str, Any], seats: Sequence[str] | None = None) -> Reading[SeatToFill]:
    """`seats`: the seat keys the dialog offered, if known (another is then an error here); without them any
    text is passed on, and attendance.invite_deputy refuses a seat that is not open at "seat", as on Slack."""
    read = Reader(data)
    reference = read.data.get(REFERENCE)
    if not isinstance(reference, str) or not reference:
        read.fail(FORM_FIELD, NOT_SENT_AS_TEXT)
        reference = ""
    seat = read.choice(SEAT, seats) if seats is not None else read.raw(SEAT)
    return read.reading(SeatToFill(reference, seat or "", read.person(DEPUTY)))
