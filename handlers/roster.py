"""/pmccg roster: governance views the roster and adds, changes or removes a person."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import forms, roster
from bot.errors import InvalidInput, NotAllowed
from bot.forms import AlreadySubmitted, FormKind, FormRefused
from bot.roles import ROLE_LABELS, Role
from bot.terms import Terms
from handlers import ids
from handlers.context import Services
from handlers.forms import answer_not_taken, form_of, open_modal
from handlers.modals import field_value, input_block, modal, option, plain
from storage.db import transaction


def roster_text(entries: list[roster.RosterEntry], terms: Terms) -> str:
    if not entries:
        return "The roster is empty. Add people below, or import a CSV with `pmccg roster import`."
    labels = {p.key: p.label for p in terms.professions}
    lines = [f"*Roster for the {terms.short_name}* ({len(entries)} people)"]
    for e in entries:
        roles = ", ".join(ROLE_LABELS[r] for r in sorted(e.roles))
        leads = f" — leads {', '.join(labels.get(p, p) for p in sorted(e.professions))}" if e.professions else ""
        lines.append(f"• <@{e.user_id}>: {roles}{leads}")
    return "\n".join(lines)


def roster_blocks(entries: list[roster.RosterEntry], terms: Terms) -> list[dict[str, Any]]:
    text = roster_text(entries, terms)
    # A section holds 3,000 characters: split long rosters on line boundaries, never mid-line.
    chunks: list[str] = []
    for line in text.split("\n"):
        if chunks and len(chunks[-1]) + len(line) + 1 <= 2900:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks[:45]]
    blocks.append({"type": "actions", "elements": [
        {"type": "button", "action_id": ids.ROSTER_EDIT, "text": plain("Add, change or remove someone")}]})
    return blocks


def roster_edit_view(terms: Terms) -> dict[str, Any]:
    role_options = [option(r.value, ROLE_LABELS[r]) for r in Role]
    profession_options = [option(p.key, p.label) for p in terms.professions]
    return modal(ids.ROSTER_VIEW, "Roster", [
        input_block(ids.ROSTER_USER, "Person", {"type": "users_select", "placeholder": plain("Choose a person")}),
        input_block(ids.ROSTER_ROLES, "Roles", {"type": "multi_static_select", "options": role_options,
                                                "placeholder": plain("Choose roles")}, optional=True,
                    hint="Leave empty to remove the person from the roster."),
        input_block(ids.ROSTER_PROFESSIONS, "Professions they lead",
                    {"type": "multi_static_select", "options": profession_options,
                     "placeholder": plain("For professional leads")}, optional=True),
    ], submit="Save")


def show_roster(services: Services, user_id: str) -> dict[str, Any]:
    """The private reply to `/pmccg roster`: the roster for governance, a refusal for anyone else."""
    with services.sessions() as session:
        roster.require_governance(session, user_id)
        entries = roster.all_entries(session)
    return {"response_type": "ephemeral", "text": roster_text(entries, services.terms),
            "blocks": roster_blocks(entries, services.terms)}


def register(app: App) -> None:
    @app.action(ids.ROSTER_EDIT)
    def open_editor(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        ack()
        with services.sessions() as session:
            roster.require_governance(session, body["user"]["id"])
        open_modal(client, services, body["trigger_id"], roster_edit_view(services.terms), kind=FormKind.ROSTER,
                   user_id=body["user"]["id"], subject="")

    @app.view(ids.ROSTER_VIEW)
    def save(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        actor = body["user"]["id"]
        try:
            form = form_of(services, body, FormKind.ROSTER)  # one change per view (bot/forms.py)
        except (FormRefused, AlreadySubmitted) as exc:
            answer_not_taken(ack, exc)
            return
        values = body["view"]["state"]["values"]
        user = field_value(values, ids.ROSTER_USER) or ""
        roles = field_value(values, ids.ROSTER_ROLES) or []
        professions = field_value(values, ids.ROSTER_PROFESSIONS) or []
        if user in services.directory.bots:
            ack(response_action="errors", errors={ids.ROSTER_USER: "Choose a person, not an app."})
            return
        try:
            with transaction(services.sessions) as session:
                forms.claim(session, form, services.clock())
                roster.require_governance(session, actor)
                if not roles:
                    removed = roster.remove_member(session, user)
                    note = f"<@{user}> is removed from the roster." if removed else f"<@{user}> was not on the roster."
                else:
                    entry = roster.parse_entry(user, roles, professions, services.terms)
                    roster.set_member(session, entry, actor, services.clock())
                    note = f"<@{user}> is on the roster as {', '.join(ROLE_LABELS[r] for r in sorted(entry.roles))}."
        except InvalidInput as exc:
            ack(response_action="errors", errors={
                {"user": ids.ROSTER_USER, "roles": ids.ROSTER_ROLES}.get(k, ids.ROSTER_PROFESSIONS): v
                for k, v in exc.fields.items()})
            return
        except AlreadySubmitted as exc:
            answer_not_taken(ack, exc)
            return
        except NotAllowed as exc:
            ack(response_action="errors", errors={ids.ROSTER_USER: exc.message[:150]})
            return
        ack()
        client.chat_postMessage(channel=actor, text=note)
