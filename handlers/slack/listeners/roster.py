"""/pmccg roster: governance views the roster and its recent changes, and adds, changes or removes a person."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.domain import forms, roster
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from bot.domain.roles import ROLE_LABELS, Role
from bot.domain.terms import Terms
from bot.services import Services
from handlers.slack import ids
from handlers.slack.directory import SLACK_USER_ID
from handlers.slack.forms import answer_not_taken, form_of, open_modal
from handlers.slack.modals import field_value, input_block, modal, option, plain
from handlers.slack.render import slack_date

RECENT_CHANGES = 10
SOURCES = {roster.IMPORT: "CSV import", roster.CHAT: "/pmccg roster"}


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


def _labels(raw: str, labels: dict[str, str]) -> str:
    return ", ".join(labels.get(v, v) for v in raw.split(";") if v)


def change_line(change: roster.ChangeLine, terms: Terms) -> str:
    """One roster change, as governance reads it: when, who, whose roles and professions moved which way."""
    roles = {r.value: ROLE_LABELS[r] for r in Role}
    professions = {p.key: p.label for p in terms.professions}
    parts = [f"+{_labels(change.roles_added, roles)}" if change.roles_added else "",
             f"−{_labels(change.roles_removed, roles)}" if change.roles_removed else "",
             f"leads +{_labels(change.professions_added, professions)}" if change.professions_added else "",
             f"leads −{_labels(change.professions_removed, professions)}" if change.professions_removed else ""]
    # The command line and the sandbox change the roster too: their actor is a word, not a person.
    by = f"<@{change.actor_id}>" if SLACK_USER_ID.match(change.actor_id) else change.actor_id
    when = slack_date(change.at, f"{change.at:%Y-%m-%d %H:%M} UTC", "{date_short} {time}")
    return (f"• {when} {by} ({SOURCES.get(change.source, change.source)}): <@{change.user_id}> "
            + "; ".join(p for p in parts if p))


def history_text(changes: list[roster.ChangeLine], terms: Terms) -> str:
    if not changes:
        return "*Recent changes*\nNo changes recorded yet."
    lines = [f"*Recent changes* (the last {len(changes)}; `pmccg roster history` prints them all)"]
    return "\n".join(lines + [change_line(c, terms) for c in changes])


def roster_blocks(entries: list[roster.RosterEntry], terms: Terms,
                  changes_text: str | None = None) -> list[dict[str, Any]]:
    text = roster_text(entries, terms) + (f"\n\n{changes_text}" if changes_text else "")
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
                     "placeholder": plain("For professional leads")}, optional=True,
                    hint="Only for a professional lead: the professional groups they lead."),
    ], submit="Save")


def show_roster(services: Services, user_id: str) -> dict[str, Any]:
    """The private reply to `/pmccg roster`: the roster for governance, a refusal for anyone else."""
    found = roster.overview(services.sessions, user_id, RECENT_CHANGES)
    recent = history_text(found.changes, services.terms)
    return {"response_type": "ephemeral", "text": roster_text(found.entries, services.terms),
            "blocks": roster_blocks(found.entries, services.terms, recent)}


def register(app: App) -> None:
    @app.action(ids.ROSTER_EDIT)
    def open_editor(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        ack()
        roster.check_governance(services.sessions, body["user"]["id"])
        open_modal(client, services, body["trigger_id"], roster_edit_view(services.terms), kind=FormKind.ROSTER,
                   user_id=body["user"]["id"], subject="")

    @app.view(ids.ROSTER_VIEW)
    def save(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        actor = body["user"]["id"]
        try:
            form = form_of(services, body, FormKind.ROSTER)  # one change per view (bot/domain/forms.py)
        except (FormRefused, AlreadySubmitted) as exc:
            answer_not_taken(ack, exc)
            return
        values = body["view"]["state"]["values"]
        user = field_value(values, ids.ROSTER_USER) or ""
        roles = field_value(values, ids.ROSTER_ROLES) or []
        professions = field_value(values, ids.ROSTER_PROFESSIONS) or []
        try:
            done = roster.edit(services.sessions, services.terms, actor, user, roles, professions, services.clock(),
                               services.directory,
                               claim=lambda session: forms.claim(session, form, services.clock()))
            if done.entry is not None:
                note = (f"<@{user}> is on the roster as "
                        f"{', '.join(ROLE_LABELS[r] for r in sorted(done.entry.roles))}.")
            else:
                note = f"<@{user}> is removed from the roster." if done.was_on_roster else \
                    f"<@{user}> was not on the roster."
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
