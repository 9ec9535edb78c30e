"""Quorum as the terms of reference define it, for both built-in presets (pure: no database).

PMCCG (seed 000): four individuals of the membership are present, and the chair or their appointed
deputy, and a professional lead for the staff member's profession. Deputies from outside the roster
do not count. OPG (seed 001): six members or their nominated deputies; nothing else is required.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.domain.quorum import Attendee, Condition, QuorumResult, assess_quorum
from bot.domain.roles import Role
from bot.domain.terms import Terms, load_terms

PMCCG = load_terms()
OPG = load_terms("opg")


def person(user_id: str, *roles: str, professions: Sequence[str] = (), deputy_for: str | None = None) -> Attendee:
    return Attendee(user_id, frozenset(Role(r) for r in roles), frozenset(professions), deputy_for)


# The fictional roster of tests/factories.py, as attendees.
CHAIR = person("U0CHAIR01", "chair")
DEPUTY_CHAIR = person("U0DEPUTY1", "deputy_chair")
MANAGER = person("U0MANAGER", "manager")
SERVICE_LEAD = person("U0SERVICE", "service_lead")
PEOPLE_TEAM = person("U0PEOPLE1", "people_team")
GOVERNANCE = person("U0GOVERN1", "governance")
CLINICAL_DIRECTOR = person("U0CLINDIR", "clinical_director")
NURSING_LEAD = person("U0NURSELD", "professional_lead", professions=["nursing"])
GP_AND_PARAMEDIC_LEAD = person("U0GPLEAD1", "professional_lead", professions=["doctor", "paramedic"])
MEDICAL_DIRECTOR = person("U0MEDDIR1", "medical_director")
MEMBER = person("U0MEMBER1", "member")
# Someone in the workspace but not on the group's roster.
OUTSIDER = person("U0OUTSIDE")


def assess(terms: Terms, present: Sequence[Attendee], awaiting: Sequence[Attendee] = (), *,
           profession: str = "nursing", projected: bool = True) -> QuorumResult:
    found = terms.profession(profession)
    assert found is not None, f"{profession} is not a profession of {terms.short_name}"
    return assess_quorum(terms.quorum, profession, found.label, present, awaiting, projected=projected)


COUNT, CHAIR_CONDITION, LEAD = Condition.COUNT, Condition.CHAIR, Condition.PROFESSIONAL_LEAD


# --- PMCCG (seed 000) ------------------------------------------------------------------------------

PMCCG_CASES = [
    # (present, awaiting, profession, projected, counted, missing conditions, reason)
    pytest.param(
        [CHAIR, MANAGER, GOVERNANCE, NURSING_LEAD], [], "nursing", True, 4, [],
        "quorate: 4 of 4 expected",
        id="exactly four with the chair and the nursing lead: quorate"),
    pytest.param(
        [CHAIR, MANAGER, GOVERNANCE, NURSING_LEAD], [], "nursing", False, 4, [],
        "quorate: 4 of 4 present",
        id="exactly four on the roll-call with the chair and the nursing lead: quorate, present"),
    pytest.param(
        [CHAIR, MANAGER, GOVERNANCE, NURSING_LEAD, PEOPLE_TEAM], [], "nursing", True, 5, [],
        "quorate: 5 expected, 4 needed",
        id="five with the chair and the nursing lead: quorate"),
    pytest.param(
        [CHAIR, MANAGER, NURSING_LEAD], [], "nursing", True, 3, [COUNT],
        "not yet quorate: 3 of 4; 1 more member needed",
        id="three with the chair and the nursing lead: not quorate, one more needed"),
    pytest.param(
        [CHAIR, NURSING_LEAD], [], "nursing", True, 2, [COUNT],
        "not yet quorate: 2 of 4; 2 more members needed",
        id="two present: two more members needed, plural"),
    pytest.param(
        [], [], "nursing", True, 0, [COUNT, CHAIR_CONDITION, LEAD],
        "not yet quorate: 0 of 4; 4 more members needed; the chair or their appointed deputy is not expected; "
        "a professional lead for nursing is not expected",
        id="nobody coming: every condition named, in order"),
    pytest.param(
        [MANAGER, GOVERNANCE, NURSING_LEAD, PEOPLE_TEAM], [], "nursing", True, 4, [CHAIR_CONDITION],
        "not yet quorate: 4 of 4; the chair or their appointed deputy is not expected",
        id="four present but no chair: not quorate, names the chair"),
    pytest.param(
        [DEPUTY_CHAIR, MANAGER, GOVERNANCE, NURSING_LEAD], [], "nursing", True, 4, [],
        "quorate: 4 of 4 expected",
        id="four with the deputy chair instead of the chair: quorate"),
    pytest.param(
        [person("U0DEPUTY1", "deputy_chair", deputy_for="U0CHAIR01"), MANAGER, GOVERNANCE, NURSING_LEAD], [],
        "nursing", True, 4, [],
        "quorate: 4 of 4 expected",
        id="the appointed deputy standing in for the chair satisfies the chair condition"),
    pytest.param(
        [person("U0CLINDIR", "clinical_director", deputy_for="U0CHAIR01"), MANAGER, GOVERNANCE, NURSING_LEAD], [],
        "nursing", True, 4, [CHAIR_CONDITION],
        "not yet quorate: 4 of 4; the chair or their appointed deputy is not expected",
        id="a stand-in for the chair who is not the appointed deputy counts but is not the chair"),
    pytest.param(
        [CHAIR, MANAGER, GOVERNANCE, GP_AND_PARAMEDIC_LEAD], [], "nursing", True, 4, [LEAD],
        "not yet quorate: 4 of 4; a professional lead for nursing is not expected",
        id="four present but the professional lead is for another profession: not quorate"),
    pytest.param(
        [CHAIR, MANAGER, GOVERNANCE, GP_AND_PARAMEDIC_LEAD], [], "paramedic", True, 4, [],
        "quorate: 4 of 4 expected",
        id="a lead of several professions satisfies for the second of them"),
    pytest.param(
        [CHAIR, MANAGER, GOVERNANCE, GP_AND_PARAMEDIC_LEAD], [], "doctor", True, 4, [],
        "quorate: 4 of 4 expected",
        id="a lead of several professions satisfies for the first of them"),
    pytest.param(
        [CHAIR, MANAGER, GOVERNANCE, person("U0NOTLEAD", "manager", professions=["nursing"])], [], "nursing", True,
        4, [LEAD],
        "not yet quorate: 4 of 4; a professional lead for nursing is not expected",
        id="a nurse who is not a professional lead does not satisfy the lead condition"),
    pytest.param(
        [person("U0CHAIRLD", "chair", "professional_lead", professions=["nursing"]), MANAGER, GOVERNANCE], [],
        "nursing", True, 3, [COUNT],
        "not yet quorate: 3 of 4; 1 more member needed",
        id="a chair who is also the nursing lead meets both conditions but counts once"),
    pytest.param(
        [CHAIR, CHAIR, MANAGER, NURSING_LEAD], [], "nursing", True, 3, [COUNT],
        "not yet quorate: 3 of 4; 1 more member needed",
        id="the same person listed twice counts once"),
    pytest.param(
        [CHAIR, MANAGER, NURSING_LEAD, person("U0OUTSIDE", deputy_for="U0GOVERN1")], [], "nursing", True, 3, [COUNT],
        "not yet quorate: 3 of 4; 1 more member needed",
        id="a deputy from outside the roster is not counted"),
    pytest.param(
        [CHAIR, MANAGER, NURSING_LEAD, OUTSIDER], [], "nursing", True, 3, [COUNT],
        "not yet quorate: 3 of 4; 1 more member needed",
        id="someone off the roster who is nobody's deputy is not counted"),
    pytest.param(
        [CHAIR, MANAGER, NURSING_LEAD, person("U0MEMBER1", "member", deputy_for="U0GOVERN1")], [], "nursing", True,
        4, [],
        "quorate: 4 of 4 expected",
        id="a deputy who is on the roster is counted"),
    pytest.param(
        [CHAIR, MANAGER, NURSING_LEAD, MEDICAL_DIRECTOR], [], "nursing", True, 4, [],
        "quorate: 4 of 4 expected",
        id="anyone on the roster counts towards the four, whatever their role"),
    pytest.param(
        [CHAIR, MANAGER, GOVERNANCE], [NURSING_LEAD], "nursing", True, 3, [COUNT, LEAD],
        "not yet quorate: 3 of 4; 1 more member needed, 1 not replied; a professional lead for nursing has not replied",
        id="three coming and the nursing lead has not replied"),
    pytest.param(
        [CHAIR, MANAGER, GOVERNANCE], [NURSING_LEAD], "nursing", False, 3, [COUNT, LEAD],
        "not quorate: 3 of 4 present; 1 more member needed; a professional lead for nursing is not present",
        id="roll-call: three present, the silent nursing lead is not present, nobody is awaited"),
    pytest.param(
        [CHAIR, MANAGER, NURSING_LEAD], [], "nursing", False, 3, [COUNT],
        "not quorate: 3 of 4 present; 1 more member needed",
        id="roll-call of three: not quorate wording"),
    pytest.param(
        [MANAGER, GOVERNANCE, NURSING_LEAD, PEOPLE_TEAM], [CHAIR], "nursing", True, 4, [CHAIR_CONDITION],
        "not yet quorate: 4 of 4; the chair or their appointed deputy has not replied",
        id="four coming and the chair has not replied"),
    pytest.param(
        [MANAGER, GOVERNANCE, NURSING_LEAD, PEOPLE_TEAM], [DEPUTY_CHAIR], "nursing", True, 4, [CHAIR_CONDITION],
        "not yet quorate: 4 of 4; the chair or their appointed deputy has not replied",
        id="four coming and the deputy chair has not replied"),
    pytest.param(
        [MANAGER, GOVERNANCE, NURSING_LEAD, PEOPLE_TEAM], [SERVICE_LEAD], "nursing", True, 4, [CHAIR_CONDITION],
        "not yet quorate: 4 of 4; the chair or their appointed deputy is not expected",
        id="the chair is not expected when only others have not replied"),
    pytest.param(
        [MANAGER, GOVERNANCE, PEOPLE_TEAM], [CHAIR, NURSING_LEAD], "nursing", False, 3, [COUNT, CHAIR_CONDITION, LEAD],
        "not quorate: 3 of 4 present; 1 more member needed; the chair or their appointed deputy is not present; "
        "a professional lead for nursing is not present",
        id="roll-call: those who never replied are not present, not awaited"),
    pytest.param(
        [CHAIR, MANAGER, GOVERNANCE, PEOPLE_TEAM], [GP_AND_PARAMEDIC_LEAD], "nursing", True, 4, [LEAD],
        "not yet quorate: 4 of 4; a professional lead for nursing is not expected",
        id="a silent lead for another profession does not make the nursing lead awaited"),
    pytest.param(
        [MANAGER, GOVERNANCE, NURSING_LEAD], [MANAGER], "nursing", True, 3, [COUNT, CHAIR_CONDITION],
        "not yet quorate: 3 of 4; 1 more member needed; the chair or their appointed deputy is not expected",
        id="someone both present and awaiting is not counted as not replied"),
    pytest.param(
        [MANAGER, GOVERNANCE, NURSING_LEAD, CHAIR], [CHAIR], "nursing", True, 4, [],
        "quorate: 4 of 4 expected",
        id="a chair both present and awaiting is present"),
    pytest.param(
        [MANAGER, GOVERNANCE, NURSING_LEAD], [MANAGER, CHAIR], "nursing", True, 3, [COUNT, CHAIR_CONDITION],
        "not yet quorate: 3 of 4; 1 more member needed, 1 not replied; "
        "the chair or their appointed deputy has not replied",
        id="only those not present count as not replied"),
    pytest.param(
        [CHAIR, NURSING_LEAD], [MANAGER, GOVERNANCE, PEOPLE_TEAM], "nursing", True, 2, [COUNT],
        "not yet quorate: 2 of 4; 2 more members needed, 3 not replied",
        id="several not replied are counted"),
]


@pytest.mark.parametrize(("present", "awaiting", "profession", "projected", "counted", "missing", "reason"),
                         PMCCG_CASES)
def test_pmccg_quorum(present: list[Attendee], awaiting: list[Attendee], profession: str, projected: bool,
                      counted: int, missing: list[Condition], reason: str) -> None:
    result = assess(PMCCG, present, awaiting, profession=profession, projected=projected)

    assert result.reason == reason
    assert result.quorate is (not missing)
    assert result.counted == counted
    assert result.minimum == 4
    assert [m.condition for m in result.missing] == missing
    assert result.projected is projected


def test_pmccg_quorate_result_names_no_missing_condition() -> None:
    result = assess(PMCCG, [CHAIR, MANAGER, GOVERNANCE, NURSING_LEAD])

    assert result.quorate
    assert result.missing == ()
    assert result.reason == result.headline == "quorate: 4 of 4 expected"


def test_professional_lead_condition_follows_the_staff_members_profession() -> None:
    present = [CHAIR, MANAGER, GOVERNANCE, NURSING_LEAD]

    verdicts = {p.key: assess(PMCCG, present, profession=p.key).quorate for p in PMCCG.professions}

    assert verdicts == {p.key: p.key == "nursing" for p in PMCCG.professions}


def test_missing_lead_is_named_by_the_profession_label_in_lower_case() -> None:
    result = assess(PMCCG, [CHAIR, MANAGER, GOVERNANCE, PEOPLE_TEAM], profession="acp")

    assert result.reason == ("not yet quorate: 4 of 4; "
                             "a professional lead for advanced clinical practitioner is not expected")


def test_missing_lead_keeps_acronyms_in_the_profession_label() -> None:
    result = assess(PMCCG, [CHAIR, MANAGER, GOVERNANCE, PEOPLE_TEAM], profession="doctor")

    assert "a professional lead for doctor (GP) is not expected" in result.reason


def test_a_silent_person_listed_twice_is_one_not_replied() -> None:
    result = assess(PMCCG, [CHAIR, MANAGER, NURSING_LEAD], [GOVERNANCE, GOVERNANCE])

    assert result.reason == "not yet quorate: 3 of 4; 1 more member needed, 1 not replied"


def test_projected_and_actual_differ_only_in_wording() -> None:
    present = [CHAIR, MANAGER, GOVERNANCE]

    projected = assess(PMCCG, present, [NURSING_LEAD], projected=True)
    actual = assess(PMCCG, present, [NURSING_LEAD], projected=False)

    assert (projected.quorate, projected.counted) == (actual.quorate, actual.counted) == (False, 3)
    assert projected.headline == "not yet quorate: 3 of 4"
    assert actual.headline == "not quorate: 3 of 4 present"


# --- OPG (seed 001) --------------------------------------------------------------------------------

OPG_CHAIR = person("U0OPGCEO1", "chair")
OPG_DEPUTY = person("U0OPGFIN1", "deputy_chair")
OPG_NURSE = person("U0OPGNUR1", "professional_lead", professions=["clinical"])
OPG_WORKFORCE = person("U0OPGHR01", "people_team")
OPG_CLINICAL = person("U0OPGCLN1", "clinical_director")
OPG_NETWORK = person("U0OPGNET1", "manager")
OPG_INFORMATION = person("U0OPGINF1", "governance")
SIX_OPG = [OPG_CHAIR, OPG_DEPUTY, OPG_NURSE, OPG_WORKFORCE, OPG_CLINICAL, OPG_NETWORK]
FIVE_NEITHER_CHAIR_NOR_LEAD = [OPG_WORKFORCE, OPG_CLINICAL, OPG_NETWORK, OPG_INFORMATION,
                               person("U0OPGMEM1", "member")]

OPG_CASES = [
    pytest.param(SIX_OPG, [], True, 6, "quorate: 6 of 6 expected", id="six members: quorate"),
    pytest.param(SIX_OPG, [], False, 6, "quorate: 6 of 6 present", id="six members on the roll-call: quorate"),
    pytest.param([*SIX_OPG, OPG_INFORMATION], [], True, 7, "quorate: 7 expected, 6 needed",
                 id="seven members: quorate"),
    pytest.param(SIX_OPG[:5], [], True, 5, "not yet quorate: 5 of 6; 1 more member needed",
                 id="five members: not quorate"),
    pytest.param(SIX_OPG[:5], [], False, 5, "not quorate: 5 of 6 present; 1 more member needed",
                 id="five members on the roll-call: not quorate"),
    pytest.param(SIX_OPG[:5], [OPG_NETWORK], True, 5, "not yet quorate: 5 of 6; 1 more member needed, 1 not replied",
                 id="five members and one not replied"),
    pytest.param([*SIX_OPG[:5], person("U0OUTSIDE", deputy_for="U0OPGNET1")], [], True, 6,
                 "quorate: 6 of 6 expected",
                 id="five members and a nominated deputy from outside the roster: quorate"),
    pytest.param([*SIX_OPG[:4], person("U0OUTSID1", deputy_for="U0OPGCLN1"), person("U0OUTSID2",
                                                                                      deputy_for="U0OPGNET1")],
                 [], True, 6, "quorate: 6 of 6 expected",
                 id="four members and two nominated deputies: quorate"),
    pytest.param([*SIX_OPG[:5], OUTSIDER], [], True, 5, "not yet quorate: 5 of 6; 1 more member needed",
                 id="five members and someone who is nobody's deputy: not quorate"),
    pytest.param([*FIVE_NEITHER_CHAIR_NOR_LEAD, person("U0OPGMEM2", "member")], [], True, 6,
                 "quorate: 6 of 6 expected",
                 id="six without the chair or any professional lead: quorate, neither is required"),
    pytest.param([*SIX_OPG[:5], SIX_OPG[0]], [], True, 5, "not yet quorate: 5 of 6; 1 more member needed",
                 id="five members with one listed twice: not quorate"),
]


@pytest.mark.parametrize(("present", "awaiting", "projected", "counted", "reason"), OPG_CASES)
def test_opg_quorum(present: list[Attendee], awaiting: list[Attendee], projected: bool, counted: int,
                    reason: str) -> None:
    result = assess(OPG, present, awaiting, profession="clinical", projected=projected)

    assert result.reason == reason
    assert result.quorate is reason.startswith("quorate")
    assert result.counted == counted
    assert result.minimum == 6
    assert all(m.condition == Condition.COUNT for m in result.missing)


@pytest.mark.parametrize("profession", [p.key for p in OPG.professions])
def test_opg_never_asks_for_a_chair_or_professional_lead(profession: str) -> None:
    result = assess(OPG, FIVE_NEITHER_CHAIR_NOR_LEAD, [OPG_CHAIR, OPG_NURSE], profession=profession)

    assert "chair" not in result.reason
    assert "professional lead" not in result.reason
    assert [m.condition for m in result.missing] == [Condition.COUNT]


def test_same_people_are_quorate_for_pmccg_but_not_for_opg() -> None:
    present = [CHAIR, MANAGER, GOVERNANCE, NURSING_LEAD, PEOPLE_TEAM]

    assert assess(PMCCG, present).quorate
    assert assess(OPG, present, profession="clinical").reason == "not yet quorate: 5 of 6; 1 more member needed"


def test_outside_deputy_counts_for_opg_but_not_for_pmccg() -> None:
    deputy = person("U0OUTSIDE", deputy_for="U0GOVERN1")

    pmccg = assess(PMCCG, [CHAIR, MANAGER, NURSING_LEAD, deputy])
    opg = assess(OPG, [*SIX_OPG[:5], deputy], profession="clinical")

    assert (pmccg.quorate, pmccg.counted) == (False, 3)
    assert (opg.quorate, opg.counted) == (True, 6)
