"""Every person the bot accepts is a real, active person of the workspace (issue 12, rule 4).

The domain asks the chat platform through the `People` protocol whether user ids belong to active,
human members of the workspace, and turns each answer into a plain-English error at the form field
that named them. What a user id looks like is the platform's business (its implementation in
`handlers/` checks Slack's form), so ids stay opaque here and a Teams directory can answer instead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.domain.errors import InvalidInput


class Standing(StrEnum):
    """What the workspace says about one user id."""

    OK = "ok"  # an active person of this workspace
    UNKNOWN = "unknown"  # no such person here (or a person of another organisation)
    DEACTIVATED = "deactivated"
    BOT = "bot"  # an app, not a person
    MALFORMED = "malformed"  # not a user id of this platform at all
    UNCONFIRMED = "unconfirmed"  # the workspace did not answer in time: refused, try again


# How long a directory's `standing` waits for the platform before an id is UNCONFIRMED: the same on Slack and
# Teams, so a form is refused for the same reasons on both; a longer wait would hold up the person's submit.
LOOKUP_SECONDS = 1.0


class People(Protocol):
    """What the domain needs of the workspace's directory of people."""

    # How the platform names its user ids, for messages ("Slack user ID", "U012AB3CD").
    id_label: str
    id_example: str

    def standing(self, user_ids: Collection[str]) -> Mapping[str, Standing]:
        """The standing of each id, within a bounded time (an id not answered in time is UNCONFIRMED)."""
        ...


ONE: dict[Standing, str] = {
    Standing.UNKNOWN: "That person is not a member of this workspace.",
    Standing.DEACTIVATED: "That person's account is deactivated.",
    Standing.BOT: "Choose a person, not an app.",
    Standing.MALFORMED: "That is not a person in this workspace. Choose someone from the list.",
    Standing.UNCONFIRMED: "The workspace could not confirm this person just now. Please try again.",
}
MANY: dict[Standing, str] = {
    Standing.UNKNOWN: "One of the people chosen is not a member of this workspace.",
    Standing.DEACTIVATED: "One of the people chosen has a deactivated account.",
    Standing.BOT: "Choose people, not apps.",
    Standing.MALFORMED: "One of the people chosen is not a person in this workspace.",
    Standing.UNCONFIRMED: "The workspace could not confirm everyone chosen just now. Please try again.",
}
# For a line of a file (the roster CSV), after "line N: user: 'ID' ".
LINE: dict[Standing, str] = {
    Standing.UNKNOWN: "is not a member of this workspace",
    Standing.DEACTIVATED: "has a deactivated account",
    Standing.BOT: "is an app, not a person",
    Standing.UNCONFIRMED: "could not be confirmed by the workspace just now; try again",
}
# Worse problems first, so a field naming several people shows the one to fix first.
_ORDER = (Standing.MALFORMED, Standing.BOT, Standing.UNKNOWN, Standing.DEACTIVATED, Standing.UNCONFIRMED)


def person_errors(people: People, chosen: Mapping[str, str | Sequence[str] | None]) -> dict[str, str]:
    """Field errors for every field whose person (or one of whose people) is not an active person here.

    `chosen` maps a form field to the one user id it holds, or to the several a multi-person
    field holds; empty fields are left to the caller ("Choose the chair."). Asks the workspace
    once for every id of every field. Writes nothing.
    """
    fields: dict[str, tuple[object, ...]] = {}
    for field, value in chosen.items():
        ids = (value,) if isinstance(value, str) else tuple(value or ())
        fields[field] = tuple(i for i in ids if i)
    # Whatever an edited client put in place of an id (a number, a list) is no id at all.
    wanted = {i for ids in fields.values() for i in ids if isinstance(i, str)}
    if not any(fields.values()):
        return {}
    found = people.standing(wanted) if wanted else {}
    errors: dict[str, str] = {}
    for field, ids in fields.items():
        bad = {found.get(i, Standing.UNCONFIRMED) if isinstance(i, str) else Standing.MALFORMED
               for i in ids} - {Standing.OK}
        if bad:
            worst = next(s for s in _ORDER if s in bad)
            errors[field] = (ONE if isinstance(chosen[field], str) else MANY)[worst]
    return errors


def require_people(people: People, chosen: Mapping[str, str | Sequence[str] | None]) -> None:
    """Raise InvalidInput (keyed by field) unless every person chosen is an active person here."""
    errors = person_errors(people, chosen)
    if errors:
        raise InvalidInput(errors)


def line_problem(people: People, user_id: str, standing: Standing) -> str | None:
    """What is wrong with a user id on a line of a file, or None when it is an active person here."""
    if standing is Standing.OK:
        return None
    if standing is Standing.MALFORMED:
        return f"{user_id!r} is not a {people.id_label} (they look like {people.id_example})"
    return f"{user_id!r} {LINE[standing]}"


@dataclass(frozen=True)
class FixedPeople:
    """A directory fixed in advance, for tools and tests that run without a workspace (sample documents).

    Anyone not listed is unknown.
    """

    active: frozenset[str]
    deactivated: frozenset[str] = frozenset()
    bots: frozenset[str] = frozenset()
    id_label: str = "user ID"
    id_example: str = "U012AB3CD"

    def standing(self, user_ids: Collection[str]) -> dict[str, Standing]:
        def one(user_id: str) -> Standing:
            if user_id in self.active:
                return Standing.OK
            if user_id in self.deactivated:
                return Standing.DEACTIVATED
            if user_id in self.bots:
                return Standing.BOT
            return Standing.UNKNOWN

        return {u: one(u) for u in user_ids}
