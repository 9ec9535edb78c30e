"""Forms count once and write only where the bot stored (issue 12: rules 3, 5 and 7).

When the bot opens a form (a modal) it keeps a record of it: a random nonce, which is the only thing
the form carries (in its private metadata); the person it was opened for; its kind; its subject (a
case reference or an action point id); its origin, the bot's own message to update afterwards; and,
once the platform answers, the platform's id for the view. A client can edit everything it sends
back, so nothing a submission or a button inside the form does is decided from those values:

- A submission or an in-form button names its form by the nonce, and is refused unless the form was
  opened by the bot for the signed user, with the kind the callback expects and the same view.
- A submission claims its form in the same transaction as the change it makes (a conditional update,
  atomic on SQLite and PostgreSQL), so a second delivery of the same view (a platform retry, a double
  submit, a replayed request) finds it claimed and changes nothing.
- The message a click or form updates afterwards is found from what the bot stored: a ledger row of
  a message the bot sent to that very person (bot/domain/ledger.py), or, for a private reply the platform
  can only replace through its reply address, that address if it is on the platform's own host.

Refusals are logged by event name and ids only, never with what was typed or sent.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlmodel import Session, col, select, update

from bot.domain import ledger
from bot.domain.errors import DomainError, NotAllowed
from storage.db import SessionFactory, transaction
from storage.tables import FormRecord

log = logging.getLogger(__name__)
T = TypeVar("T")

NONCE_BYTES = 24  # 32 characters of URL-safe text: not guessable, short enough for any platform's metadata


class FormKind(StrEnum):
    CONVENE = "convene"
    OUTCOME = "outcome"
    FAIRNESS = "fairness"
    ACTION_ADD = "action_add"
    ACTION_UPDATE = "action_update"
    ACTION_DUE = "action_due"
    CLOSE = "close"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    ROSTER = "roster"
    DEPUTY = "deputy"  # Teams: "Sending a deputy" (its subject is the button's value as the bot sent it)
    INVITE_DEPUTY = "invite_deputy"  # Teams: "Invite a deputy" from a quorum warning (subject: the case reference)


@dataclass(frozen=True)
class Origin:
    """Where the bot writes after a click or form: its own message, by the ids it stored.

    `delivery_id` is a ledger row of a message the bot sent to the person (e.g. their reminder);
    `reply_url` is the platform's reply address of a private message that can only be replaced
    through it (checked to be on the platform's host before it is kept, and again before it is used);
    `shown` are the items the message listed, so they stay in view once done.
    """

    delivery_id: int | None = None
    reply_url: str | None = None
    shown: tuple[int, ...] = ()

    def as_json(self) -> str:
        return json.dumps({"delivery": self.delivery_id, "url": self.reply_url, "shown": list(self.shown)})

    @classmethod
    def from_json(cls, text: str) -> Origin:
        try:
            data = json.loads(text or "{}")
            delivery = data.get("delivery")
            return cls(int(delivery) if delivery is not None else None, data.get("url") or None,
                       tuple(int(i) for i in data.get("shown") or ()))
        except (ValueError, TypeError, AttributeError):
            return cls()


@dataclass(frozen=True)
class Form:
    """A form the bot opened, as stored."""

    id: int
    nonce: str
    kind: FormKind
    user_id: str
    subject: str
    origin: Origin
    view_id: str | None
    rows: int
    claimed: bool = False


@dataclass(frozen=True)
class Target:
    """The one message to update: a room and message id, or a checked reply address."""

    room: str | None = None
    ref: str | None = None
    reply_url: str | None = None


class FormRefused(NotAllowed):
    """The request names a form the bot did not open for this person, of this kind, in this view.
    `reason` is for the log only: unknown, other_user, wrong_kind, other_view."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class AlreadySubmitted(DomainError):
    """The form was submitted before and has taken effect once: nothing more is changed."""


class OriginRefused(NotAllowed):
    """A click names a message that is not the bot's message to this person, or a reply address
    off the platform's host: nothing is changed."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


REFUSED_TEXT = ("This form was not opened for you by the bot, or is out of date, so nothing was saved. "
                "Open it again from the case.")
ALREADY_TEXT = "This form was already sent and has been saved once. Nothing more was changed."
OUT_OF_DATE_TEXT = ("That button is not on a message the bot sent you, so nothing was changed. "
                    "`/pmccg actions` lists your action points with fresh buttons.")


# --- reply addresses --------------------------------------------------------------------------------------


def host_of(url: str) -> tuple[str, str] | None:
    """(scheme, host[:port]) of an absolute http(s) address; None for anything else."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.username or parts.password:
        return None
    return parts.scheme, parts.netloc.lower()


def trusted_reply_url(url: Any, hosts: Collection[tuple[str, str]]) -> str | None:
    """`url` if it is an address on one of the platform's own `hosts` ((scheme, host[:port]) pairs), else None."""
    if not isinstance(url, str) or not url:
        return None
    found = host_of(url)
    return url if found is not None and found in hosts else None


# --- opening ----------------------------------------------------------------------------------------------


def _as_form(row: FormRecord) -> Form:
    return Form(id=row.id or 0, nonce=row.nonce, kind=FormKind(row.kind), user_id=row.user_id, subject=row.subject,
                origin=Origin.from_json(row.origin), view_id=row.view_id, rows=row.rows,
                claimed=row.claimed_at is not None)


def open_form(sessions: SessionFactory, *, kind: FormKind, user_id: str, subject: str, now: datetime,
              origin: Origin = Origin(), rows: int = 1) -> str:
    """Record a form about to be opened for `user_id`; return the nonce the form is to carry (its only
    metadata). Writes in its own short transaction, before the platform is asked to show the form."""
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    with transaction(sessions) as session:
        session.add(FormRecord(nonce=nonce, kind=kind, user_id=user_id, subject=subject, origin=origin.as_json(),
                               rows=rows, opened_at=now))
    return nonce


def record_view(sessions: SessionFactory, nonce: str, view_id: str) -> None:
    """Keep the platform's id for the view the form was opened in (once; a later answer never moves it)."""
    if not view_id:
        return
    with transaction(sessions) as session:
        session.exec(update(FormRecord).where(  # type: ignore[call-overload]
            col(FormRecord.nonce) == nonce, col(FormRecord.view_id).is_(None)).values(view_id=view_id))


# --- finding and claiming -----------------------------------------------------------------------------------


def _refuse(reason: str, kind: FormKind, form_id: int | None) -> FormRefused:
    log.warning("form_refused", extra={"event": "form_refused", "reason": reason, "kind": str(kind),
                                       "form_id": form_id})
    return FormRefused(REFUSED_TEXT, reason)


def find(sessions: SessionFactory, nonce: Any, user_id: str, kind: FormKind, view_id: Any) -> Form:
    """The form named by `nonce`, if the bot opened it for `user_id`, of `kind`, in view `view_id`.

    Raises FormRefused (logged) otherwise, and AlreadySubmitted if it was already submitted. A form
    whose view id is not known yet (the platform's answer is still on its way) takes `view_id`, which
    its claim then keeps."""
    if not isinstance(nonce, str) or not nonce or len(nonce) > 64:
        raise _refuse("unknown", kind, None)
    with sessions() as session:
        row = session.exec(select(FormRecord).where(col(FormRecord.nonce) == nonce)).first()
    if row is None:
        raise _refuse("unknown", kind, None)
    if row.user_id != user_id:
        raise _refuse("other_user", kind, row.id)
    if row.kind != kind:
        raise _refuse("wrong_kind", kind, row.id)
    view = view_id if isinstance(view_id, str) else ""
    if not view or (row.view_id is not None and row.view_id != view):
        raise _refuse("other_view", kind, row.id)
    if row.claimed_at is not None:
        log.info("form_repeat", extra={"event": "form_repeat", "kind": str(kind), "form_id": row.id})
        raise AlreadySubmitted(ALREADY_TEXT)
    form = _as_form(row)
    return form if form.view_id is not None else replace(form, view_id=view or None)


def claim(session: Session, form: Form, now: datetime) -> None:
    """Claim `form` in the caller's transaction, before the change it makes; raise AlreadySubmitted if
    another delivery of it claimed it first. One conditional update: on PostgreSQL a second claim waits
    for the first's transaction and then finds it claimed; on SQLite the claim is the transaction's
    first write, so claims are serialised by the database's write lock."""
    claimed = session.exec(update(FormRecord).where(  # type: ignore[call-overload]
        col(FormRecord.id) == form.id, col(FormRecord.user_id) == form.user_id, col(FormRecord.kind) == form.kind,
        col(FormRecord.claimed_at).is_(None),
    ).values(claimed_at=now, view_id=form.view_id)).rowcount
    if not claimed:
        log.info("form_repeat", extra={"event": "form_repeat", "kind": str(form.kind), "form_id": form.id})
        raise AlreadySubmitted(ALREADY_TEXT)


def submit_once(sessions: SessionFactory, form: Form, now: datetime, change: Callable[[Session], T]) -> T:
    """Claim `form` and make its `change` in one transaction, so it takes effect once however many
    times it is delivered. A change that raises (bad input) rolls the claim back with it: the form can
    be corrected and sent again. Raises AlreadySubmitted, changing nothing, if it was claimed already."""
    with transaction(sessions) as session:
        claim(session, form, now)
        return change(session)


def add_row(sessions: SessionFactory, form: Form, limit: int) -> Form | None:
    """One more action point row in an open outcome form (its "Add another" button); the form with its
    new row count, or None at the limit or when a concurrent click already added this row."""
    if form.rows >= limit:
        return None
    with transaction(sessions) as session:
        changed = session.exec(update(FormRecord).where(  # type: ignore[call-overload]
            col(FormRecord.id) == form.id, col(FormRecord.rows) == form.rows, col(FormRecord.claimed_at).is_(None),
        ).values(rows=form.rows + 1, view_id=form.view_id)).rowcount
    if not changed:
        return None
    return replace(form, rows=form.rows + 1)


def undo_row(sessions: SessionFactory, form: Form) -> None:
    """The platform refused the view with the new row: count it back, if nothing changed since."""
    with transaction(sessions) as session:
        session.exec(update(FormRecord).where(  # type: ignore[call-overload]
            col(FormRecord.id) == form.id, col(FormRecord.rows) == form.rows).values(rows=form.rows - 1))


# --- where a click writes -----------------------------------------------------------------------------------


def _refuse_origin(reason: str, **ids: Any) -> OriginRefused:
    log.warning("click_origin_refused", extra={"event": "click_origin_refused", "reason": reason, **ids})
    return OriginRefused(OUT_OF_DATE_TEXT, reason)


def click_origin(session: Session, *, user_id: str, delivery_id: int | None, private_reply: bool,
                 reply_url: Any, hosts: Collection[tuple[str, str]], kinds: Collection[str]) -> Origin:
    """Where a click on one of the bot's messages writes afterwards, from what the bot stored.

    A button on a message the bot delivered carries that delivery's ledger id: it must be a message of
    one of `kinds` the bot sent to `user_id` (the signed clicker). A button on a private reply (which
    has no ledger row, and can only be replaced through the platform's reply address) writes through
    that address, only if it is on the platform's own `hosts`. Anything else raises OriginRefused, logged."""
    if delivery_id is not None:
        row = ledger.own_message(session, delivery_id, user_id, kinds)
        if row is None:
            raise _refuse_origin("not_own_message", delivery_id=delivery_id)
        try:
            shown = tuple(int(i) for i in ledger.detail_of(row).get("actions") or ())
        except (ValueError, TypeError):
            shown = ()
        return Origin(delivery_id=delivery_id, shown=shown)
    if not private_reply:
        raise _refuse_origin("no_delivery")
    url = trusted_reply_url(reply_url, hosts)
    if url is None:
        raise _refuse_origin("reply_url")
    return Origin(reply_url=url)


def target(session: Session, origin: Origin, user_id: str, hosts: Collection[tuple[str, str]],
           kinds: Collection[str]) -> Target | None:
    """The message to update for `origin`, checked again now (the ledger row is still the bot's message
    to `user_id`; the reply address is still on the platform's host); None if there is none."""
    if origin.delivery_id is not None:
        row = ledger.own_message(session, origin.delivery_id, user_id, kinds)
        if row is None:
            log.warning("click_origin_refused", extra={"event": "click_origin_refused", "reason": "not_own_message",
                                                       "delivery_id": origin.delivery_id})
            return None
        return Target(room=row.room, ref=row.ref)
    url = trusted_reply_url(origin.reply_url, hosts)
    return Target(reply_url=url) if url else None


@dataclass(frozen=True)
class ParsedValue:
    """A button value the bot wrote: an item id and, on a delivered message, its ledger id."""

    item_id: int
    delivery_id: int | None = None


def parse_button_value(value: Any) -> ParsedValue | None:
    """`item` or `item:delivery`, as the reminder template writes it (templates/slack/action_digest.json.j2);
    None for anything else."""
    if not isinstance(value, str):
        return None
    parts = value.split(":")
    if len(parts) > 2 or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
        return None
    return ParsedValue(int(parts[0]), int(parts[1]) if len(parts) == 2 else None)


__all__ = ["ALREADY_TEXT", "AlreadySubmitted", "Form", "FormKind", "FormRefused", "Origin", "OriginRefused",
           "ParsedValue", "Target", "add_row", "claim", "click_origin", "find", "open_form",
           "parse_button_value", "record_view", "submit_once", "target", "trusted_reply_url", "undo_row"]
