"""The roster: which Slack user holds which roles, and for professional leads which professions.

Imported from CSV (`user_id,roles,professions`) all or nothing, with line-numbered errors, and
viewed or changed by governance in chat. It stores user ids only, never names.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, delete, select

from bot.errors import InvalidInput, NotAllowed
from bot.quorum import Attendee
from bot.roles import Role
from bot.terms import Terms
from storage.tables import RosterMember

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")


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
    if not USER_ID.match(user_id):
        problems["user"] = f"{user_id!r} is not a Slack user ID (they look like U012AB3CD)"
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


def parse_csv(text: str, terms: Terms) -> list[RosterEntry]:
    """Parse a roster CSV; raise RosterImportError listing every bad line (header is line 1).

    The header is exactly user_id,roles,professions, and no row has more columns than it: a column
    the bot would not read (a name, say, or a field split by an unquoted comma) is refused, not dropped.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    expected = ["user_id", "roles", "professions"]
    header = [h.strip() for h in (reader.fieldnames or [])]
    if header != expected:
        raise RosterImportError([f"line 1: the header must be {','.join(expected)}, not {','.join(header) or 'empty'}"])
    reader.fieldnames = header  # rows keyed by the stripped names ("user_id, roles, professions")
    entries: list[RosterEntry] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for row in reader:
        line_no = reader.line_num  # the reader's own count: blank lines are skipped, not renumbered
        user_id = (row.get("user_id") or "").strip()
        extra: list[str] | None = row.pop(None, None)  # type: ignore[call-overload]  # the cells past the header
        if not any((v or "").strip() for v in [*row.values(), *(extra or [])]):
            continue  # a blank line
        if extra:
            # Nothing of the extra cells is repeated: one could be a name.
            problems.append(f"line {line_no}: {len(expected) + len(extra)} columns, but the header has "
                            f"{len(expected)}; put double quotes around a value that contains a comma")
            continue
        if user_id in seen:
            problems.append(f"line {line_no}: {user_id} is a duplicate of line {seen[user_id]}")
            continue
        seen[user_id] = line_no
        try:
            entries.append(parse_entry(user_id, _split(row.get("roles") or ""), _split(row.get("professions") or ""),
                                       terms))
        except InvalidInput as exc:
            problems.extend(f"line {line_no}: {field}: {reason}" for field, reason in exc.fields.items())
    if problems:
        raise RosterImportError(problems)
    if not entries:
        raise RosterImportError(["the file lists nobody"])
    return entries


def replace_roster(session: Session, entries: list[RosterEntry], actor: str, now: datetime) -> int:
    """Make the roster exactly `entries` (the caller's transaction commits); return the count."""
    session.exec(delete(RosterMember))
    for e in entries:
        session.add(RosterMember(user_id=e.user_id, roles=";".join(sorted(e.roles)),
                                 professions=";".join(sorted(e.professions)), updated_at=now, updated_by=actor))
    return len(entries)


def set_member(session: Session, entry: RosterEntry, actor: str, now: datetime) -> None:
    """Add or change one person's roles; the caller checks `actor` may change the roster."""
    row = session.get(RosterMember, entry.user_id) or RosterMember(user_id=entry.user_id, roles="",
                                                                     updated_at=now, updated_by=actor)
    row.roles, row.professions = ";".join(sorted(entry.roles)), ";".join(sorted(entry.professions))
    row.updated_at, row.updated_by = now, actor
    session.add(row)


def remove_member(session: Session, user_id: str) -> bool:
    row = session.get(RosterMember, user_id)
    if row is None:
        return False
    session.delete(row)
    return True


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


def require_governance(session: Session, user_id: str) -> RosterEntry:
    """Only governance may view or change the roster in chat."""
    who = entry(session, user_id)
    if who is None or Role.GOVERNANCE not in who.roles:
        raise NotAllowed("Only the governance team can view or change the roster. "
                         "Ask your governance representative.")
    return who
