"""Governance's roster editor as a Teams dialog: Slack's modal (handlers/slack/listeners/roster.py), the same
words and field ids ("user", "roles", "professions": roster.edit's InvalidInput keys), read into its arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.roles import ROLE_LABELS, Role
from bot.domain.terms import Terms
from handlers.teams.dialogs.fields import CardForm, Reader, Reading, adaptive_card

SUBMIT = "roster_submit"
TITLE = "Roster"
USER, ROLES, PROFESSIONS = "user", "roles", "professions"


def roster_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str, terms: Terms,
                  names: Mapping[str, str] = {}) -> dict[str, Any]:
    form = CardForm(values, errors)
    form.people(USER, "Person", names=names)
    form.choice(ROLES, "Roles", [(r.value, ROLE_LABELS[r]) for r in Role], multi=True, optional=True,
                hint="Leave empty to remove the person from the roster.")
    form.choice(PROFESSIONS, "Professions they lead", [(p.key, p.label) for p in terms.professions], multi=True,
                optional=True, hint="Only for a professional lead: the professional groups they lead.")
    return adaptive_card(form.body, submit_title="Save", action=SUBMIT, nonce=nonce)


@dataclass(frozen=True)
class RosterChange:
    """roster.edit's user_id, roles and professions ("" / empty lists where nothing was chosen)."""

    user_id: str
    roles: list[str]
    professions: list[str]


def read_roster(data: Mapping[str, Any], terms: Terms) -> Reading[RosterChange]:
    read = Reader(data)
    return read.reading(RosterChange(read.person(USER) or "", read.choices(ROLES, [r.value for r in Role]),
                                     read.choices(PROFESSIONS, [p.key for p in terms.professions])))
