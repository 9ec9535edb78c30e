"""The bot's forms in Teams: a dialog's form record, the record a submission names, where a click came from.

The rules are bot/domain/forms.py's; this module knows where Teams puts things. A dialog carries only the
form's nonce (in its Action.Submit data, handlers/teams/dialogs). Teams has no view id for a dialog, so the
record's view is the conversation it was opened in: a submission counts only for the signed person, from that
conversation, once. A dialog opener on a case chat's card counts only if the case named is that chat's case
and the card is one the bot posted there for it (its header, or a ledger row of the case in that chat), so a
button whose data names another case, or that sits on another card, opens nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from bot.domain import forms, ledger
from bot.domain.cases import case_named
from bot.domain.errors import NotFound
from bot.domain.forms import Form, FormKind, FormRefused, Origin, OriginRefused
from bot.services import Services
from handlers.teams.dialogs import dialog_message

log = logging.getLogger(__name__)

PERSONAL = "personal"
NOT_THIS_CHAT = ("That button is not on this case's card in its chat, so nothing was opened. "
                 "Use the buttons on the case card, or type the command with the case reference.")


def open_form(services: Services, *, kind: FormKind, user_id: str, subject: str, conversation_id: str,
              origin: Origin | None = None, rows: int = 1) -> str:
    """Record a dialog about to be shown to `user_id` in `conversation_id`; the nonce its data is to carry."""
    nonce = forms.open_form(services.sessions, kind=kind, user_id=user_id, subject=subject, now=services.clock(),
                            origin=origin or Origin(), rows=rows)
    forms.record_view(services.sessions, nonce, conversation_id)
    return nonce


def form_of(services: Services, data: Any, user_id: str, conversation_id: str, kind: FormKind) -> Form:
    """The form a task/submit names (its nonce), checked against the signed person and the conversation it came
    from. Raises FormRefused or AlreadySubmitted."""
    nonce = data.get("nonce") if isinstance(data, Mapping) else None
    return forms.find(services.sessions, nonce, user_id, kind, conversation_id)


def not_taken(exc: FormRefused | forms.AlreadySubmitted) -> dict[str, Any]:
    """A refused form says so; a repeated one is answered quietly: saved once, nothing more changed."""
    return dialog_message(exc.message)


def check_case_card(services: Services, reference: str, *, conversation_id: str, conversation_type: str,
                    reply_to_id: str | None) -> None:
    """Raise OriginRefused unless a click naming `reference` may act from where it came.

    In the 1:1 chat the reference is as typed (the person's own card: permission decides, as for a typed
    command). In a case chat it must be that chat's case, and the card the case's header or another message
    the bot posted in that chat for the case (the delivery ledger)."""
    if conversation_type == PERSONAL:
        return
    with services.sessions() as session:
        try:
            case = case_named(session, reference)
        except NotFound:
            case = None
        own = (case is not None and case.room_id == conversation_id and bool(reply_to_id)
               and (case.header_ref == reply_to_id
                    or any(r.room == conversation_id and r.ref == reply_to_id
                           for r in ledger.for_case(session, case.id or 0))))
    if not own:
        log.warning("click_origin_refused", extra={"event": "click_origin_refused", "reason": "not_case_card"})
        raise OriginRefused(NOT_THIS_CHAT, "not_case_card")


def delivered_card(services: Services, delivery_id: int | None, user_id: str, *, conversation_id: str,
                   reply_to_id: str | None, kinds: Collection[str]) -> Origin:
    """The Origin of a click on a message the bot delivered to `user_id`: the ledger row `delivery_id` must be one
    of `kinds` sent to that person, in this conversation, and the very card pressed (replyToId). OriginRefused
    else."""
    if delivery_id is None:
        raise OriginRefused(forms.OUT_OF_DATE_TEXT, "no_delivery")
    with services.sessions() as session:
        origin = forms.click_origin(session, user_id=user_id, delivery_id=delivery_id, private_reply=False,
                                    reply_url=None, hosts=(), kinds=kinds)
        row = ledger.own_message(session, delivery_id, user_id, kinds)
    if row is None or row.room != conversation_id or row.ref != reply_to_id:
        log.warning("click_origin_refused", extra={"event": "click_origin_refused", "reason": "other_card",
                                                   "delivery_id": delivery_id})
        raise OriginRefused(forms.OUT_OF_DATE_TEXT, "other_card")
    return origin
