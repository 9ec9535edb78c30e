"""Quorum per the terms of reference: a minimum present, the chair or deputy, a professional lead.

Seed 000 (PMCCG): four individuals of the membership, with the chair or their appointed deputy
and a professional lead relevant to the staff member. Seed 001 (OPG): six members or their
nominated deputies. The same function decides projected quorum (from replies) and actual
quorum (from the roll-call); it reads no database and no chat platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.roles import Role
from bot.domain.terms import QuorumRule


@dataclass(frozen=True)
class Attendee:
    """A person and what they hold on the roster; `deputy_for` is set when standing in."""

    user_id: str
    roles: frozenset[Role] = frozenset()
    professions: frozenset[str] = frozenset()
    deputy_for: str | None = None

    @property
    def on_roster(self) -> bool:
        return bool(self.roles)


class Condition(StrEnum):
    COUNT = "count"
    CHAIR = "chair"
    PROFESSIONAL_LEAD = "professional_lead"


@dataclass(frozen=True)
class Missing:
    condition: Condition
    reason: str


@dataclass(frozen=True)
class QuorumResult:
    quorate: bool
    counted: int
    minimum: int
    missing: tuple[Missing, ...]
    projected: bool

    def _tally(self, what: str) -> str:
        # "4 of 4 present" reads as present of needed; more than needed would read "5 of 4", so say both.
        if self.counted > self.minimum:
            return f"{self.counted} {what}, {self.minimum} needed"
        return f"{self.counted} of {self.minimum} {what}".rstrip()

    @property
    def headline(self) -> str:
        if self.quorate:
            return f"quorate: {self._tally('expected' if self.projected else 'present')}"
        if self.projected:
            return f"not yet quorate: {self._tally('expected' if self.counted > self.minimum else '')}"
        return f"not quorate: {self._tally('present')}"

    @property
    def reason(self) -> str:
        """One line a member reads, e.g. "not yet quorate: 3 of 4; a professional lead for nursing
        has not replied"."""
        return "; ".join([self.headline, *(m.reason for m in self.missing)])


def _counts(person: Attendee, rule: QuorumRule) -> bool:
    # "Individuals of the membership": anyone on the group's roster counts, even standing in for
    # another; a deputy from outside the roster counts only where the terms say deputies do.
    return person.on_roster or (person.deputy_for is not None and rule.deputies_count)


def _leads(person: Attendee, profession_key: str) -> bool:
    return Role.PROFESSIONAL_LEAD in person.roles and profession_key in person.professions


def assess_quorum(
    rule: QuorumRule,
    profession_key: str,
    profession_label: str,
    present: Sequence[Attendee],
    awaiting: Sequence[Attendee] = (),
    *,
    projected: bool = True,
) -> QuorumResult:
    """Decide whether `present` makes the call quorate, naming each condition that fails.

    `present` are those attending (projected: said they will come; actual: on the roll-call).
    `awaiting` are those who have not answered; they only change *why* a condition fails
    ("has not replied" rather than "is not expected"). Nobody is counted twice.
    """
    present_ids = {p.user_id for p in present}
    counted = len({p.user_id for p in present if _counts(p, rule)})
    # One person in two seats is one person waiting.
    waiting = list({p.user_id: p for p in awaiting if p.user_id not in present_ids}.values()) if projected else []
    missing: list[Missing] = []

    if counted < rule.minimum_present:
        short = rule.minimum_present - counted
        reason = f"{short} more {'member' if short == 1 else 'members'} needed"
        if waiting:
            reason += f", {len(waiting)} not replied"
        missing.append(Missing(Condition.COUNT, reason))

    if rule.chair_required and not any(p.roles & rule.chair_roles for p in present):
        if any(p.roles & rule.chair_roles for p in waiting):
            why = "the chair or their appointed deputy has not replied"
        else:
            why = "the chair or their appointed deputy is not " + ("expected" if projected else "present")
        missing.append(Missing(Condition.CHAIR, why))

    if rule.professional_lead_required and not any(_leads(p, profession_key) for p in present):
        # Lower-case only the first letter, so "Doctor (GP)" reads "doctor (GP)".
        name = f"a professional lead for {profession_label[:1].lower()}{profession_label[1:]}"
        if any(_leads(p, profession_key) for p in waiting):
            why = f"{name} has not replied"
        else:
            why = f"{name} is not " + ("expected" if projected else "present")
        missing.append(Missing(Condition.PROFESSIONAL_LEAD, why))

    return QuorumResult(quorate=not missing, counted=counted, minimum=rule.minimum_present,
                        missing=tuple(missing), projected=projected)
