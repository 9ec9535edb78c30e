"""The roster: which user holds which roles, and for professional leads which professions.

Imported from CSV (`user_id,roles,professions`) all or nothing, with line-numbered errors, and
viewed or changed by governance in chat. It stores user ids only, never names. Everyone put on it
is an active person of the workspace (bot/domain/people.py; issue 12, rule 4), and every change is kept
append-only in `roster_changes`: who changed whose roles and professions, when, and how (rule 10).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, delete, select

from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.people import ONE, People, Standing, line_problem, require_people
from bot.domain.quorum import Attendee
from bot.domain.roles import Role
from bot.domain.terms import Terms
from storage.db import SessionFactory, transaction
from storage.tables import RosterChange, RosterMember

# A user id is opaque here (its platform's directory checks its form: handlers/slack/directory.py for
# Slack's U…/W…); it must fit the column (storage.tables.ID_CHARS) and be one token, so it cannot carry
# markup into a message. Teams' ids (29:…, with "-", "_" and ".") fit.
OPAQUE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$")
IMPORT, CHAT = "import", "chat"


@dataclass(frozen=True)
class RosterEntry:
    user_id: str
    roles: frozenset[Role]
    professions: frozenset[str]

    def as_attendee(self, deputy_for: str | None = None) -> Attendee:
        return Attendee(self.user_id, self.roles, self.professions, deputy_for)


class RosterImportError(Exception):
    """Every problem in the file, each with its line number; nothing was imported."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _entry(row: RosterMember) -> RosterEntry:
    return RosterEntry(row.user_id, frozenset(Role(r) for r in _split(row.roles)), frozenset(_split(row.professions)))


def parse_entry(user_id: str, roles: Iterable[str], professions: Iterable[str], terms: Terms) -> RosterEntry:
    """Validate one roster line; raise InvalidInput keyed "user", "roles" or "professions"."""
    problems: dict[str, str] = {}
    if not user_id:
        problems["user"] = "a user ID is needed"
    elif not OPAQUE_ID.match(user_id):
        problems["user"] = f"{user_id!r} is not a user ID"
    parsed_roles: set[Role] = set()
    for raw in roles:
        try:
            parsed_roles.add(Role(raw.strip().lower()))
        except ValueError:
            problems["roles"] = f"unknown role {raw!r}; roles are {', '.join(r.value for r in Role)}"
    if not parsed_roles and "roles" not in problems:
        problems["roles"] = "at least one role is needed"
    known = {p.key for p in terms.professions}
    parsed_professions = {p.strip().lower() for p in professions if p.strip()}
    unknown = sorted(parsed_professions - known)
    if unknown:
        problems["professions"] = f"unknown profession {unknown[0]!r}; professions are {', '.join(sorted(known))}"
    elif parsed_professions and Role.PROFESSIONAL_LEAD not in parsed_roles:
        problems["professions"] = "professions are only for professional leads"
    elif Role.PROFESSIONAL_LEAD in parsed_roles and not parsed_professions:
        problems["professions"] = "a professional lead needs the professions they lead"
    if problems:
        raise InvalidInput(problems)
    return RosterEntry(user_id, frozenset(parsed_roles), frozenset(parsed_professions))


@dataclass(frozen=True)
class _Parsed:
    entries: list[tuple[int, RosterEntry]]
    problems: list[tuple[int, str]]
    ids: list[tuple[int, str]]  # every user id worth asking the directory about, with its line


def _parse(text: str, terms: Terms) -> _Parsed:
    """The file's rows and problems. The header is exactly user_id,roles,professions, and no row has more
    columns than it: a column the bot would not read (a name, say, or a field split by an unquoted comma)
    is refused, not dropped."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    expected = ["user_id", "roles", "professions"]
    header = [h.strip() for h in (reader.fieldnames or [])]
    if header != expected:
        raise RosterImportError([f"line 1: the header must be {','.join(expected)}, not {','.join(header) or 'empty'}"])
    reader.fieldnames = header  # rows keyed by the stripped names ("user_id, roles, professions")
    parsed = _Parsed([], [], [])
    seen: dict[str, int] = {}
    for row in reader:
        line_no = reader.line_num  # the reader's own count: blank lines are skipped, not renumbered
        user_id = (row.get("user_id") or "").strip()
        extra: list[str] | None = row.pop(None, None)  # type: ignore[call-overload]  # the cells past the header
        if not any((v or "").strip() for v in [*row.values(), *(extra or [])]):
            continue  # a blank line
        if extra:
            # Nothing of the extra cells is repeated: one could be a name.
            parsed.problems.append((line_no, f"line {line_no}: {len(expected) + len(extra)} columns, but the header "
                                             f"has {len(expected)}; put double quotes around a value that contains "
                                             "a comma"))
            continue
        if user_id in seen:
            parsed.problems.append((line_no, f"line {line_no}: {user_id} is a duplicate of line {seen[user_id]}"))
            continue
        seen[user_id] = line_no
        try:
            parsed.entries.append((line_no, parse_entry(user_id, _split(row.get("roles") or ""),
                                                        _split(row.get("professions") or ""), terms)))
            parsed.ids.append((line_no, user_id))
        except InvalidInput as exc:
            parsed.problems.extend((line_no, f"line {line_no}: {field}: {reason}")
                                   for field, reason in exc.fields.items())
            if "user" not in exc.fields:
                parsed.ids.append((line_no, user_id))
    return parsed


def parse_csv(text: str, terms: Terms) -> list[RosterEntry]:
    """Parse a roster CSV; raise RosterImportError listing every bad line (header is line 1).

    Checks the file alone; `read_csv` also asks the workspace about every person in it.
    """
    parsed = _parse(text, terms)
    if parsed.problems:
        raise RosterImportError([p for _, p in parsed.problems])
    if not parsed.entries:
        raise RosterImportError(["the file lists nobody"])
    return [e for _, e in parsed.entries]


def read_csv(text: str, terms: Terms, people: People) -> list[RosterEntry]:
    """Parse a roster CSV and check that every person in it is an active person of the workspace.

    Raises RosterImportError listing every bad line, in line order (a person the workspace refuses
    is reported at their line, like any other fault); writes nothing.
    """
    parsed = _parse(text, terms)
    standings = people.standing({u for _, u in parsed.ids})
    ranked = [(line, 1, text) for line, text in parsed.problems]
    for line, user_id in parsed.ids:
        problem = line_problem(people, user_id, standings[user_id])
        if problem:
            ranked.append((line, 0, f"line {line}: user: {problem}"))
    if ranked:
        raise RosterImportError([text for _, _, text in sorted(ranked, key=lambda r: (r[0], r[1]))])
    if not parsed.entries:
        raise RosterImportError(["the file lists nobody"])
    return [e for _, e in parsed.entries]


def _joined(values: Iterable[str]) -> str:
    return ";".join(sorted(values))


def _record_change(session: Session, before: RosterEntry | None, after: RosterEntry | None, actor: str,
                   now: datetime, source: str) -> bool:
    """Append one history row for a person whose roles or professions changed; return whether they did."""
    user_id = (after or before).user_id  # type: ignore[union-attr]
    old_roles, new_roles = (before.roles if before else frozenset()), (after.roles if after else frozenset())
    old_profs = before.professions if before else frozenset()
    new_profs = after.professions if after else frozenset()
    if (old_roles, old_profs) == (new_roles, new_profs):
        return False
    session.add(RosterChange(at=now, actor_id=actor, source=source, user_id=user_id,
                             roles_added=_joined(new_roles - old_roles), roles_removed=_joined(old_roles - new_roles),
                             professions_added=_joined(new_profs - old_profs),
                             professions_removed=_joined(old_profs - new_profs)))
    return True


def replace_roster(session: Session, entries: list[RosterEntry], actor: str, now: datetime,
                   source: str = IMPORT) -> int:
    """Make the roster exactly `entries` (the caller's transaction commits); return the count.

    Appends a history row for everyone whose roles changed, was added or was removed.
    """
    before = {e.user_id: e for e in all_entries(session)}
    after = {e.user_id: e for e in entries}
    for user_id in sorted(before.keys() | after.keys()):
        _record_change(session, before.get(user_id), after.get(user_id), actor, now, source)
    session.exec(delete(RosterMember))
    for e in entries:
        session.add(RosterMember(user_id=e.user_id, roles=_joined(e.roles), professions=_joined(e.professions),
                                 updated_at=now, updated_by=actor))
    return len(entries)


def import_csv(sessions: SessionFactory, text: str, terms: Terms, people: People, actor: str, now: datetime) -> int:
    """Replace the roster from a CSV, all or nothing: every line checked, every person confirmed by the
    workspace, the change kept in the roster history. Raises RosterImportError (nothing imported)."""
    entries = read_csv(text, terms, people)
    with transaction(sessions) as session:
        return replace_roster(session, entries, actor, now, IMPORT)


def set_member(session: Session, entry: RosterEntry, actor: str, now: datetime, source: str = CHAT) -> None:
    """Add or change one person's roles, with a history row; the caller checks `actor` may change the roster."""
    row = session.get(RosterMember, entry.user_id)
    _record_change(session, _entry(row) if row else None, entry, actor, now, source)
    row = row or RosterMember(user_id=entry.user_id, roles="", updated_at=now, updated_by=actor)
    row.roles, row.professions = _joined(entry.roles), _joined(entry.professions)
    row.updated_at, row.updated_by = now, actor
    session.add(row)


def remove_member(session: Session, user_id: str, actor: str = "", now: datetime | None = None,
                  source: str = CHAT) -> bool:
    """Take one person off the roster, with a history row when `now` is given; return whether they were on it."""
    row = session.get(RosterMember, user_id)
    if row is None:
        return False
    if now is not None:
        _record_change(session, _entry(row), None, actor, now, source)
    session.delete(row)
    return True


@dataclass(frozen=True)
class RosterEdit:
    """The result of one /pmccg roster edit: the person, and their entry now (None: removed or absent)."""

    user_id: str
    entry: RosterEntry | None
    was_on_roster: bool


def edit(sessions: SessionFactory, terms: Terms, actor: str, user_id: str, roles: Iterable[str],
         professions: Iterable[str], now: datetime, people: People,
         claim: Callable[[Session], object] | None = None) -> RosterEdit:
    """Governance adds, changes or (with no roles) removes one person, in a transaction of its own.

    `claim` runs first in that transaction (the form's once-only claim, bot/domain/forms.py), so a change
    that is refused rolls the claim back with it.

    The person added or changed must be an active person of the workspace; removing anyone is
    allowed (a deactivated account is exactly who should come off). The change is kept in the
    roster history. Raises NotAllowed (not governance) or InvalidInput keyed "user", "roles" or
    "professions" (nothing written).
    """
    roles, professions = list(roles), list(professions)
    with transaction(sessions) as session:
        if claim is not None:
            claim(session)
        require_governance(session, actor)
        if not user_id:
            raise InvalidInput({"user": "Choose a person."})
        if not OPAQUE_ID.match(user_id):
            raise InvalidInput({"user": ONE[Standing.MALFORMED]})
        if not roles:
            removed = remove_member(session, user_id, actor, now)
            return RosterEdit(user_id, None, removed)
        found = parse_entry(user_id, roles, professions, terms)
        require_people(people, {"user": user_id})
        was_on = session.get(RosterMember, user_id) is not None
        set_member(session, found, actor, now)
        return RosterEdit(user_id, found, was_on)


def history(session: Session, limit: int | None = None) -> list[RosterChange]:
    """The roster history, most recent first (all of it unless `limit`)."""
    query = select(RosterChange).order_by(col(RosterChange.at).desc(), col(RosterChange.id).desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def all_entries(session: Session) -> list[RosterEntry]:
    return [_entry(r) for r in session.exec(select(RosterMember).order_by(RosterMember.user_id))]


def entries_for(session: Session, user_ids: Iterable[str]) -> dict[str, RosterEntry]:
    ids = set(user_ids)
    if not ids:
        return {}
    rows = session.exec(select(RosterMember).where(RosterMember.user_id.in_(ids)))  # type: ignore[attr-defined]
    return {r.user_id: _entry(r) for r in rows}


def entry(session: Session, user_id: str) -> RosterEntry | None:
    row = session.get(RosterMember, user_id)
    return _entry(row) if row else None


def holders(session: Session, role: Role, profession: str | None = None) -> list[RosterEntry]:
    """Everyone holding `role` (and leading `profession`, when given), in user-id order."""
    found = [e for e in all_entries(session) if role in e.roles]
    return [e for e in found if profession is None or profession in e.professions]


@dataclass(frozen=True)
class ChangeLine:
    """One roster change as governance reads it (plain values of a RosterChange row)."""

    at: datetime
    actor_id: str  # a person's id, or a word for the command line and the sandbox
    source: str
    user_id: str
    roles_added: str  # ';'-separated Role values and profession keys, as in the roster CSV
    roles_removed: str
    professions_added: str
    professions_removed: str


@dataclass(frozen=True)
class Overview:
    entries: list[RosterEntry]
    changes: list[ChangeLine]  # the most recent first


def overview(sessions: SessionFactory, user_id: str, recent: int) -> Overview:
    """A platform's one call for the roster: governance only (NotAllowed otherwise), with its `recent` changes."""
    with sessions() as session:
        require_governance(session, user_id)
        changes = [ChangeLine(c.at, c.actor_id, c.source, c.user_id, c.roles_added, c.roles_removed,
                              c.professions_added, c.professions_removed) for c in history(session, recent)]
        return Overview(all_entries(session), changes)


def check_governance(sessions: SessionFactory, user_id: str) -> None:
    """A platform's one call before the roster editor opens: NotAllowed unless `user_id` is governance."""
    with sessions() as session:
        require_governance(session, user_id)


def require_governance(session: Session, user_id: str) -> RosterEntry:
    """Only governance may view or change the roster in chat."""
    who = entry(session, user_id)
    if who is None or Role.GOVERNANCE not in who.roles:
        raise NotAllowed("Only the governance team can view or change the roster. "
                         "Ask your governance representative.")
    return who
