"""`roster` on Teams: governance views the roster and its recent changes, and adds, changes or removes a person.

The twin of handlers/slack/listeners/roster.py. `roster` typed answers privately (the 1:1 chat) with the
overview card (roster.overview: governance only, a refusal in its words otherwise) and its button, which
opens the roster dialog (task/fetch dialog_id roster_edit_open, Slack's action id) once roster.check_governance
agrees. The submission is one domain call (roster.edit, the form's once-only claim in its transaction), the
person checked by the organisation's directory (TeamsDirectory: an active member of this organisation; a
guest or a leaver is refused at the field).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from microsoft_teams.api import MessageActivity
from microsoft_teams.apps import ActivityContext, App

from bot.domain import forms, roster
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from bot.domain.roles import ROLE_LABELS, Role
from bot.domain.terms import Terms
from handlers.teams.context import TeamsContext
from handlers.teams.dialogs import dialog_continue, dialog_message, read_roster, roster_dialog
from handlers.teams.dialogs.fields import ENTRA_ID
from handlers.teams.dialogs.roster import SUBMIT as ROSTER_SUBMIT
from handlers.teams.dialogs.roster import TITLE as ROSTER_TITLE
from handlers.teams.dialogs.roster import USER
from handlers.teams.forms import form_of, not_taken, open_form
from handlers.teams.listeners.case_admin import who_and_where
from handlers.teams.listeners.commands import Typed, command
from handlers.teams.private import card_message, tell
from handlers.teams.render import render_card
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

RECENT_CHANGES = 10
ROSTER_EDIT = "roster_edit_open"  # Slack's action id of the same button
SOURCES = {roster.IMPORT: "CSV import", roster.CHAT: "roster"}


def _labels(raw: str, labels: dict[str, str]) -> str:
    return ", ".join(labels.get(v, v) for v in raw.split(";") if v)


def overview_rows(found: roster.Overview, terms: Terms) -> dict[str, Any]:
    """What templates/teams/roster_overview.json.j2 shows: Slack's roster text as plain rows."""
    professions = {p.key: p.label for p in terms.professions}
    roles = {r.value: ROLE_LABELS[r] for r in Role}
    entries = [{"user_id": e.user_id, "roles": ", ".join(ROLE_LABELS[r] for r in sorted(e.roles)),
                "leads": ", ".join(professions.get(p, p) for p in sorted(e.professions))} for e in found.entries]
    changes = []
    for c in found.changes:
        parts = [f"+{_labels(c.roles_added, roles)}" if c.roles_added else "",
                 f"−{_labels(c.roles_removed, roles)}" if c.roles_removed else "",
                 f"leads +{_labels(c.professions_added, professions)}" if c.professions_added else "",
                 f"leads −{_labels(c.professions_removed, professions)}" if c.professions_removed else ""]
        # The command line and the sandbox change the roster too: their actor is a word, not a person.
        changes.append({"at": c.at, "actor_id": c.actor_id, "by_person": bool(ENTRA_ID.match(c.actor_id)),
                        "source": SOURCES.get(c.source, c.source), "user_id": c.user_id,
                        "parts": "; ".join(p for p in parts if p)})
    return {"short_name": terms.short_name, "entries": entries, "changes": changes}


@command("roster")
async def show_roster(turn: ActivityContext[MessageActivity], ctx: TeamsContext, typed: Typed) -> None:
    services = ctx.services
    try:
        found = await asyncio.to_thread(roster.overview, services.sessions, typed.user_id, RECENT_CHANGES)
    except NotAllowed as exc:
        await tell(ctx, typed.user_id, refusal_text(exc, ctx.directory.display_name), turn=turn)
        return
    card = render_card("roster_overview", names=ctx.directory.display_name, m=overview_rows(found, services.terms))
    await tell(ctx, typed.user_id, card_message(card, f"Roster: {len(found.entries)} people"), turn=turn)


def note_for(done: roster.RosterEdit, name: str) -> str:
    """Slack's confirmation, with the person's display name (a dialog's closing message cannot mention)."""
    if done.entry is not None:
        return f"{name} is on the roster as {', '.join(ROLE_LABELS[r] for r in sorted(done.entry.roles))}."
    return f"{name} is removed from the roster." if done.was_on_roster else f"{name} was not on the roster."


def register(app: App, ctx: TeamsContext) -> None:
    services = ctx.services
    names = ctx.directory.display_name

    def chosen_names(user_id: str) -> dict[str, str]:
        name = names(user_id) if user_id else None
        return {user_id: name} if name else {}

    @app.on_dialog_open(ROSTER_EDIT)
    async def open_editor(turn: ActivityContext[Any]) -> dict[str, Any]:
        user, conversation, _ = who_and_where(turn)
        try:
            await asyncio.to_thread(roster.check_governance, services.sessions, user)
        except NotAllowed as exc:
            return dialog_message(refusal_text(exc, names, markdown=False))
        nonce = await asyncio.to_thread(open_form, services, kind=FormKind.ROSTER, user_id=user, subject="",
                                        conversation_id=conversation)
        ctx.directory.refresh_in_background()  # the names shown for the person chosen, if the dialog comes back
        return dialog_continue(ROSTER_TITLE, roster_dialog(nonce=nonce, terms=services.terms))

    @app.on_dialog_submit(ROSTER_SUBMIT)
    async def save(turn: ActivityContext[Any]) -> dict[str, Any]:
        actor, conversation, _ = who_and_where(turn)
        data = turn.activity.value.data if isinstance(getattr(turn.activity.value, "data", None), dict) else {}
        try:
            form = await asyncio.to_thread(form_of, services, data, actor, conversation, FormKind.ROSTER)
        except (FormRefused, AlreadySubmitted) as exc:
            return not_taken(exc)
        reading = read_roster(data, services.terms)
        change = reading.value

        def again(errors: dict[str, str]) -> dict[str, Any]:
            return dialog_continue(ROSTER_TITLE, roster_dialog(data, errors, nonce=form.nonce, terms=services.terms,
                                                               names=chosen_names(change.user_id)))

        if not reading.ok:
            return again(reading.errors)
        now = services.clock()
        try:
            done = await asyncio.to_thread(
                roster.edit, services.sessions, services.terms, actor, change.user_id, change.roles,
                change.professions, now, ctx.directory, claim=lambda session: forms.claim(session, form, now))
        except InvalidInput as exc:
            return again(dict(exc.fields))
        except AlreadySubmitted as exc:
            return not_taken(exc)
        except NotAllowed as exc:
            return again({USER: exc.message[:150]})
        log.info("roster_edited", extra={"event": "roster_edited", "removed": done.entry is None})
        note = note_for(done, names(change.user_id) or "The person")
        await tell(ctx, actor, note, turn=turn)
        return dialog_message(note)
