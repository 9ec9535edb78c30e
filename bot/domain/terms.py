"""Terms of reference as configuration: seats, who may convene, quorum, professions, reminder offsets.

The PMCCG of seed 000 is built in (presets/pmccg.toml); seed 001's Operational Performance Group
ships as a second preset. A bad file fails at start with the file, the key and the reason, and so
does a key that is not a setting of the terms (a typo would otherwise leave the default in force).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from bot.domain.roles import Role

PRESETS = ("pmccg", "opg")


class TermsError(Exception):
    """The terms-of-reference file is wrong: `str()` names the file, key and reason."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(f"{source}: {key}: {reason}")
        self.source, self.key, self.reason = source, key, reason


@dataclass(frozen=True)
class Seat:
    """A place in the minimum membership, filled by someone holding `roster_role`."""

    key: str
    label: str
    roster_role: Role
    default_to_convener: bool = False
    match_profession: bool = False


@dataclass(frozen=True)
class Profession:
    key: str
    label: str
    # The Quality Board's post of a high-risk outcome names this professional group (else it gives the
    # reference and the risk only): a profession with a handful of cases a year identifies the person.
    named_to_quality_board: bool = False


@dataclass(frozen=True)
class QuorumRule:
    minimum_present: int
    chair_required: bool
    chair_roles: frozenset[Role]
    professional_lead_required: bool
    deputies_count: bool


@dataclass(frozen=True)
class ReminderOffsets:
    reply_chase_hours: tuple[float, ...]
    short_notice_reply_chase_hours: tuple[float, ...]
    pre_call_check_hours: float
    short_notice_pre_call_check_hours: float
    agenda_hours: float
    short_notice_agenda_hours: float
    circulation_chase_days: int
    circulation_escalate_days: int
    action_reminder_days: int

    @property
    def circulation_target_days(self) -> int:
        """The terms' target: action points circulated within this many days of the call (one week in both
        presets). Missing it is what escalates to governance, so the case file reports against the same day."""
        return self.circulation_escalate_days


@dataclass(frozen=True)
class RecordsRule:
    """Who may read case files and reports, and the rules the reports follow."""

    allowed_roles: frozenset[Role]
    attendance_target: float  # a member attending less than this share of meetings is flagged
    small_number_threshold: int  # counts below this are suppressed in reports
    retention_days: int  # after closure, free text is purged once this many days have passed
    # A case never closed is purged this many days after its call.
    open_case_retention_days: int = 2555


@dataclass(frozen=True)
class Terms:
    name: str
    short_name: str
    reference_prefix: str
    decision_maker: str
    allowed_roles: frozenset[Role]
    ask_role: Role
    min_notice_minutes: int
    short_notice_min_notice_minutes: int
    one_seat_per_person: bool
    max_extra_members: int
    seats: tuple[Seat, ...]
    quorum: QuorumRule
    professions: tuple[Profession, ...]
    reminders: ReminderOffsets
    records: RecordsRule
    source: str
    # "I'm on the call" stays open this long after the call ends; then only the chair corrects it.
    roll_call_grace_minutes: int = 30

    def profession(self, key: str) -> Profession | None:
        return next((p for p in self.professions if p.key == key), None)

    def seat(self, key: str) -> Seat | None:
        return next((s for s in self.seats if s.key == key), None)

    @property
    def chair_seats(self) -> frozenset[str]:
        """Seat keys held by the chair (the seat whose roster role is chair)."""
        return frozenset(s.key for s in self.seats if s.roster_role is Role.CHAIR)


class _Reader:
    """Typed access to a TOML table, raising TermsError with the dotted key on any problem.

    Every key a reader is asked for is noted, present or not; `unknown()` then lists what the file
    has that nothing asked for (a typo, or a setting this version does not have), in this table and
    in every table read from it. So a new setting is known by reading it: read it every time, with
    its default, not only when another setting calls for it.
    """

    def __init__(self, source: str, data: dict[str, Any], prefix: str = "") -> None:
        self.source, self.data, self.prefix = source, data, prefix
        self.asked: list[str] = []
        self.children: list[_Reader] = []

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, reason: str) -> TermsError:
        return TermsError(self.source, self._key(key), reason)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.asked:
            self.asked.append(key)
        if key not in self.data:
            if default is ...:
                raise self._misspelt(key) or self.fail(key, "is required")
            return default
        value = self.data[key]
        # bool is an int in Python; a number field must not accept true/false.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(key, f"must be {_kind_name(kind)}, not {value!r}")
        if not isinstance(value, kind):
            raise self.fail(key, f"must be {_kind_name(kind)}, not {value!r}")
        return value

    def text(self, key: str, default: Any = ...) -> str:
        value = self.get(key, str, default)
        if isinstance(value, str) and not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def positive(self, key: str, kind: type | tuple[type, ...] = int, default: Any = ...) -> Any:
        value = self.get(key, kind, default)
        if value <= 0:
            raise self.fail(key, f"must be greater than zero, not {value}")
        return value

    def role(self, key: str, value: Any) -> Role:
        try:
            return Role(value)
        except ValueError:
            raise self.fail(key, f"{value!r} is not a role; use one of {', '.join(r.value for r in Role)}") from None

    def table(self, key: str) -> _Reader:
        reader = _Reader(self.source, self.get(key, dict), f"{self._key(key)}.")
        self.children.append(reader)
        return reader

    def tables(self, key: str) -> list[_Reader]:
        items = self.get(key, list)
        if not items:
            raise self.fail(key, "must list at least one entry")
        readers = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", "must be a table")
            readers.append(_Reader(self.source, item, f"{self._key(key)}[{i}]."))
        self.children.extend(readers)
        return readers

    @property
    def known(self) -> set[str]:
        """The keys of this table: those asked for here, and those parsing the built-in terms asks for
        in a table at the same place (a key read only when another setting calls for it is known too)."""
        return set(self.asked) | _known_keys().get(_place(self.prefix), set())

    def unknown(self) -> TermsError | None:
        """The first key in this table, or any table read from it, that is not a setting of the terms."""
        known = self.known
        for key in self.data:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]}?" if close else f"the settings here are {', '.join(sorted(known))}"
                return self.fail(key, f"is not a setting of the terms; {hint}")
        return next((found for child in self.children if (found := child.unknown()) is not None), None)

    def _misspelt(self, key: str) -> TermsError | None:
        """A required `key` is missing: the unknown key in its place, if one looks like a typo of it."""
        known = self.known
        close = difflib.get_close_matches(key, [k for k in self.data if k not in known], n=1, cutoff=0.6)
        return self.fail(close[0], f"is not a setting of the terms; did you mean {key}?") if close else None

    def places(self) -> Iterator[tuple[str, list[str]]]:
        """(place, keys asked) of this reader and every reader under it."""
        yield _place(self.prefix), self.asked
        for child in self.children:
            yield from child.places()


def _place(prefix: str) -> str:
    """Where a table sits, the same for every entry of an array of tables: "seats[2]." -> "seats[]."."""
    return re.sub(r"\[\d+\]", "[]", prefix)


@cache
def _known_keys() -> dict[str, set[str]]:
    """Per place, every key parsing the built-in PMCCG terms asks for: the settings of this version,
    learnt from the code that reads them, so a setting added later is known without a list to update."""
    text = resources.files("bot.domain.presets").joinpath("pmccg.toml").read_text(encoding="utf-8")
    root = _Reader("built-in pmccg.toml", tomllib.loads(text))
    _build(root)  # never asks for the keys it does not know: the preset has every required one
    known: dict[str, set[str]] = {}
    for place, keys in root.places():
        known.setdefault(place, set()).update(keys)
    return known


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "text", int: "a whole number", float: "a number", bool: "true or false", list: "a list",
             dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _hours(reader: _Reader, key: str) -> tuple[float, ...]:
    values = reader.get(key, list)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise reader.fail(f"{key}[{i}]", f"must be a number of hours, not {v!r}")
    return tuple(sorted((float(v) for v in values), reverse=True))


def parse_terms(data: dict[str, Any], source: str) -> Terms:
    """Build Terms from parsed TOML, raising TermsError at the first key that is wrong, or at a key
    that is not a setting of the terms (a typo would otherwise leave its default quietly in force)."""
    root = _Reader(source, data)
    terms = _build(root)
    if (unknown := root.unknown()) is not None:
        raise unknown
    return terms


def _build(root: _Reader) -> Terms:
    source = root.source
    group, convening, quorum, reminders = (root.table(k) for k in ("group", "convening", "quorum", "reminders"))

    seats: list[Seat] = []
    for s in root.tables("seats"):
        key = s.text("key")
        if any(existing.key == key for existing in seats):
            raise s.fail("key", f"seat {key!r} is listed twice")
        seats.append(Seat(key=key, label=s.text("label"), roster_role=s.role("roster_role", s.get("roster_role", str)),
                          default_to_convener=s.get("default_to_convener", bool, False),
                          match_profession=s.get("match_profession", bool, False)))

    professions: list[Profession] = []
    for p in root.tables("professions"):
        key = p.text("key")
        if any(existing.key == key for existing in professions):
            raise p.fail("key", f"profession {key!r} is listed twice")
        professions.append(Profession(key=key, label=p.text("label"),
                                      named_to_quality_board=p.get("named_to_quality_board", bool, False)))
    unnamed = [(i, p) for i, p in enumerate(professions) if not p.named_to_quality_board]
    if len(unnamed) == 1 and len(professions) > 1:
        # A post without a professional group would then be that one profession's.
        i, alone = unnamed[0]
        raise root.fail(f"professions[{i}].named_to_quality_board",
                        f"leaves only {alone.key!r} unnamed, so a post that names no group names it anyway; "
                        "name it too, or leave another unnamed")

    prefix = group.text("reference_prefix")
    if not prefix.replace("-", "").isalnum() or not prefix.isascii():
        raise group.fail("reference_prefix", "must be letters and digits only (it names the case channel)")

    allowed = convening.get("allowed_roles", list)
    if not allowed:
        raise convening.fail("allowed_roles", "must name at least one role")
    rule = QuorumRule(
        minimum_present=quorum.positive("minimum_present"),
        chair_required=quorum.get("chair_required", bool),
        chair_roles=frozenset(quorum.role("chair_roles", r) for r in quorum.get("chair_roles", list, ["chair"])),
        professional_lead_required=quorum.get("professional_lead_required", bool),
        deputies_count=quorum.get("deputies_count", bool),
    )
    grace = quorum.get("roll_call_grace_minutes", int, 30)
    if not 0 <= grace <= 24 * 60:
        raise quorum.fail("roll_call_grace_minutes", f"must be between 0 and 1440 minutes, not {grace}")
    if rule.chair_required and not rule.chair_roles:
        raise quorum.fail("chair_roles", "must name at least one role when chair_required is true")
    for key in ("min_notice_minutes", "short_notice_min_notice_minutes", "max_extra_members"):
        value = convening.get(key, int, 0)
        if value < 0:
            raise convening.fail(key, f"must be zero or more, not {value}")
    if rule.minimum_present > len(seats) + convening.get("max_extra_members", int, 6):
        raise quorum.fail("minimum_present", "is more than the seats and extra members a case can have")

    offsets = ReminderOffsets(
        reply_chase_hours=_hours(reminders, "reply_chase_hours"),
        short_notice_reply_chase_hours=_hours(reminders, "short_notice_reply_chase_hours"),
        pre_call_check_hours=float(reminders.positive("pre_call_check_hours", (int, float))),
        short_notice_pre_call_check_hours=float(reminders.positive("short_notice_pre_call_check_hours", (int, float))),
        agenda_hours=float(reminders.positive("agenda_hours", (int, float))),
        short_notice_agenda_hours=float(reminders.positive("short_notice_agenda_hours", (int, float))),
        circulation_chase_days=reminders.positive("circulation_chase_days"),
        circulation_escalate_days=reminders.positive("circulation_escalate_days"),
        action_reminder_days=reminders.positive("action_reminder_days"),
    )
    if offsets.circulation_chase_days >= offsets.circulation_escalate_days:
        raise reminders.fail("circulation_chase_days", "must come before circulation_escalate_days")

    records = _records(root)

    return Terms(
        name=group.text("name"),
        short_name=group.text("short_name"),
        reference_prefix=prefix.upper(),
        decision_maker=group.text("decision_maker", "Medical Director"),
        allowed_roles=frozenset(convening.role("allowed_roles", r) for r in allowed),
        ask_role=convening.role("ask_role", convening.get("ask_role", str, "governance")),
        min_notice_minutes=convening.get("min_notice_minutes", int, 60),
        short_notice_min_notice_minutes=convening.get("short_notice_min_notice_minutes", int, 15),
        one_seat_per_person=convening.get("one_seat_per_person", bool, True),
        max_extra_members=convening.get("max_extra_members", int, 6),
        seats=tuple(seats),
        quorum=rule,
        professions=tuple(professions),
        reminders=offsets,
        records=records,
        source=source,
        roll_call_grace_minutes=grace,
    )


def _records(root: _Reader) -> RecordsRule:
    """The optional [records] table; its defaults follow seed 001 (75% attendance) and NHS disclosure practice."""
    table = root.table("records") if "records" in root.data else _Reader(root.source, {}, "records.")
    allowed = table.get("allowed_roles", list, ["governance", "chair", "deputy_chair", "medical_director"])
    if not allowed:
        raise table.fail("allowed_roles", "must name at least one role")
    target = table.get("attendance_target", (int, float), 0.75)
    if not 0 < target <= 1:
        raise table.fail("attendance_target", f"must be a share between 0 and 1 (0.75 is 75%), not {target!r}")
    threshold = table.positive("small_number_threshold", int, 5)
    if threshold < 3:
        # "<t" must leave a reader two values (1 and 2 at least), or it is the count itself.
        raise table.fail("small_number_threshold", f"must be 3 or more, not {threshold}: a hidden count must "
                         "leave at least two values (1 and 2), or it is shown")
    return RecordsRule(
        allowed_roles=frozenset(table.role("allowed_roles", r) for r in allowed),
        attendance_target=float(target),
        small_number_threshold=threshold,
        retention_days=table.positive("retention_days", int, 2555),
        open_case_retention_days=table.positive("open_case_retention_days", int, 2555),
    )


def load_terms(path: Path | str | None = None) -> Terms:
    """Load terms from a TOML file, or a preset name ("pmccg", "opg"); the PMCCG when None."""
    if path is None or str(path) in PRESETS:
        name = f"{path or 'pmccg'}.toml"
        text = resources.files("bot.domain.presets").joinpath(name).read_text(encoding="utf-8")
        source = f"built-in {name}"
    else:
        file = Path(path)
        source = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise TermsError(source, "(file)", f"cannot be read: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise TermsError(source, "(file)", "is not UTF-8 text") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TermsError(source, "(syntax)", str(exc)) from exc
    return parse_terms(data, source)
