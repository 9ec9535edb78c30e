"""Anonymity check: free text that names a person is refused; clinical and process text is not."""

from __future__ import annotations

import pytest

from bot.domain.naming import (
    AMBIGUOUS_GIVEN_NAMES,
    REASON_GIVEN,
    REASON_MEMBER,
    REASON_TITLE,
    NameHit,
    describe_hits,
    find_person_names,
    given_names,
)

DIRECTORY = (
    "Priya Patel",
    "ppatel",
    "Dr J Smith",
    "j.smith",
    "sam",
    "Patel",
    "Olusegun Adeyemi (he/him)",
    "Service Desk",
    "Ward Manager",
)


def texts(text: str, directory: tuple[str, ...] = ()) -> list[str]:
    return [hit.text for hit in find_person_names(text, directory)]


# --- rule 1: a title and a capitalised word -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Raised by Dr Smith on the ward.", "Dr Smith", id="dr"),
        pytest.param("Dr. Smith was not on the rota.", "Dr. Smith", id="dr-with-dot"),
        pytest.param("Reviewed by dr Smith.", "dr Smith", id="dr-lower-case-title"),
        pytest.param("Mr Okonkwo declined.", "Mr Okonkwo", id="mr"),
        pytest.param("Mrs Brown's shift pattern", "Mrs Brown", id="mrs-possessive"),
        pytest.param("Ms Kaur said", "Ms Kaur", id="ms"),
        pytest.param("Miss Evans attended", "Miss Evans", id="miss"),
        pytest.param("Mx Taylor was informed", "Mx Taylor", id="mx"),
        pytest.param("Prof Chen and the panel", "Prof Chen", id="prof"),
        pytest.param("Professor Sir John Smith gave evidence", "Professor Sir John Smith", id="professor-sir"),
        pytest.param("Nurse Jackie reported it", "Nurse Jackie", id="nurse"),
        pytest.param("Sister Dora was on shift", "Sister Dora", id="sister"),
        pytest.param("Matron Hughes escalated", "Matron Hughes", id="matron"),
        pytest.param("Dr. J. Smith was late", "Dr. J. Smith", id="title-initial-surname"),
        pytest.param("Dr J.S. Smith was late", "Dr J.S. Smith", id="title-initials-surname"),
        pytest.param("Dr McDonald-Smith", "Dr McDonald-Smith", id="title-mc-hyphenated"),
        pytest.param("Dr D'Souza said", "Dr D'Souza", id="title-apostrophe-surname"),
        pytest.param("Dr Ng was on call", "Dr Ng", id="title-short-surname"),
        pytest.param("Mr Ward complained", "Mr Ward", id="surname-that-is-a-stop-word"),
    ],
)
def test_title_and_surname(text: str, expected: str) -> None:
    assert find_person_names(text) == [NameHit(expected, REASON_TITLE)]


# --- rule 2: a known given name and a capitalised word ------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("I spoke to Sarah Connor yesterday.", "Sarah Connor", id="english"),
        pytest.param("Mohammed Khan was on shift", "Mohammed Khan", id="arabic"),
        pytest.param("Jo O'Neill raised it", "Jo O'Neill", id="o-apostrophe-surname"),
        pytest.param("Anne-Marie Duff raised it", "Anne-Marie Duff", id="hyphenated-given-name"),
        pytest.param("Mary-Jane Watson raised it", "Mary-Jane Watson", id="hyphenated-given-name-not-listed"),
        pytest.param("Mary McDonald raised it", "Mary McDonald", id="mc-surname"),
        pytest.param("Kwame Mensah-Bonsu raised it", "Kwame Mensah-Bonsu", id="hyphenated-surname-ghanaian"),
        pytest.param("Siân Lloyd raised it", "Siân Lloyd", id="welsh-accented"),
        pytest.param("Sian Lloyd raised it", "Sian Lloyd", id="welsh-unaccented"),
        pytest.param("Dafydd ap Gwilym raised it", "Dafydd ap Gwilym", id="welsh-particle"),
        pytest.param("Eilidh MacLeod raised it", "Eilidh MacLeod", id="scottish-mac"),
        pytest.param("Siobhan Ní Bhriain raised it", "Siobhan Ní Bhriain", id="irish"),
        pytest.param("Gurpreet Kaur raised it", "Gurpreet Kaur", id="sikh"),
        pytest.param("Priya Sharma raised it", "Priya Sharma", id="south-asian"),
        pytest.param("Abdul al-Rahman raised it", "Abdul al-Rahman", id="arabic-particle"),
        pytest.param("Ngozi Adeyemi raised it", "Ngozi Adeyemi", id="nigerian"),
        pytest.param("Chukwuemeka Okafor raised it", "Chukwuemeka Okafor", id="nigerian-long"),
        pytest.param("Tendai Moyo raised it", "Tendai Moyo", id="zimbabwean"),
        pytest.param("Delroy Campbell raised it", "Delroy Campbell", id="caribbean"),
        pytest.param("Agnieszka Nowak raised it", "Agnieszka Nowak", id="polish"),
        pytest.param("Łukasz Wiśniewski raised it", "Łukasz Wiśniewski", id="polish-diacritics"),
        pytest.param("Li Wei raised it", "Li Wei", id="chinese-romanised"),
        pytest.param("Maricel Santos raised it", "Maricel Santos", id="filipino"),
        pytest.param("Chloë Price raised it", "Chloë Price", id="accent-on-listed-name"),
        pytest.param("Sarah J. Connor raised it", "Sarah J. Connor", id="middle-initial"),
        pytest.param("Sarah Jane Smith raised it", "Sarah Jane Smith", id="middle-name"),
        pytest.param("Anna van der Berg raised it", "Anna van der Berg", id="dutch-particles"),
        pytest.param("Sarah Ward raised it", "Sarah Ward", id="surname-ward"),
        pytest.param("Theresa May raised it", "Theresa May", id="surname-may"),
        pytest.param("Will Smith attend?", "Will Smith", id="ambiguous-name-before-surname"),
        pytest.param("Rose Tyler raised it", "Rose Tyler", id="ambiguous-rose-before-surname"),
        pytest.param("Will Sarah Connor attend?", "Sarah Connor", id="modal-will-before-a-name"),
    ],
)
def test_given_name_and_surname(text: str, expected: str) -> None:
    assert find_person_names(text) == [NameHit(expected, REASON_GIVEN)]


def test_several_names_in_order() -> None:
    text = "Dr Smith told Sarah Connor, then Jo O'Neill."
    assert texts(text) == ["Dr Smith", "Sarah Connor", "Jo O'Neill"]


def test_title_and_given_name_are_one_hit() -> None:
    assert find_person_names("Dr Sarah Connor said") == [NameHit("Dr Sarah Connor", REASON_TITLE)]


# --- not names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("The Patient was seen in ED and the Staff Nurse escalated.", id="sentence-start-capitals"),
        pytest.param("Medication errors on three occasions; controlled drugs unsupervised.", id="clinical-text"),
        pytest.param("Escalated to the Medical Director and the Clinical Director.", id="roles"),
        pytest.param("Patient Safety, Quality Board, People Team, Service Lead.", id="committees"),
        pytest.param("Royal College of Nursing rep attended.", id="royal-college"),
        pytest.param("Bank Holiday cover; New Year; Monday Morning handover.", id="calendar"),
        pytest.param("May Day cover was arranged.", id="may-day"),
        pytest.param("Grace Period ends Friday; Amber Alert; Mark Scheme.", id="ambiguous-names-as-words"),
        pytest.param("Will Procurement confirm? Grant Application; Frank Discussion.", id="ambiguous-before-nouns"),
        pytest.param("NHS GP A&E NMC GMC DBS", id="acronyms"),
        pytest.param("DR SMITH and SARAH CONNOR", id="all-caps-ignored"),
        pytest.param("Case PMCCG-2026-007 is listed.", id="case-number"),
        pytest.param("J.S. and JS and J. S. were on the rota", id="initials"),
        pytest.param("Mr X and Ms A were interviewed.", id="anonymised-title-letter"),
        pytest.param("Dr JS reviewed the notes.", id="title-and-initials"),
        pytest.param("The dr on call was not contacted; Dr on call unavailable.", id="title-before-lowercase"),
        pytest.param("Nurse Practitioner, Nurse Bank, Sister Ward, Matron Ward Round.", id="nursing-title-roles"),
        pytest.param("MS Teams call; Ms Teams invite.", id="ms-teams"),
        pytest.param("Transferred to Elizabeth Ward, then seen on Victoria Ward.", id="wards-named-after-people"),
        pytest.param("John Radcliffe Hospital and Dr Gray's Hospital.", id="eponymous-hospitals"),
        pytest.param("Florence Nightingale Foundation and the Mary Seacole Award.", id="eponymous-awards"),
        pytest.param("Ali raised it; Sam attended; Jo said no.", id="first-name-alone"),
        pytest.param("<@U0123ABC|Sarah Connor> raised it", id="slack-mention-handled-elsewhere"),
    ],
)
def test_not_a_name(text: str) -> None:
    assert find_person_names(text) == []


# --- rule 3: workspace members -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("we told priya patel about it", "priya patel", id="real-name-lower-case"),
        pytest.param("PRIYA PATEL WAS INFORMED", "PRIYA PATEL", id="real-name-upper-case"),
        pytest.param("Handed over to Priya Patel.", "Priya Patel", id="real-name-in-sentence"),
        pytest.param("olusegun adeyemi agreed", "olusegun adeyemi", id="display-name-with-pronouns"),
        pytest.param("email j.smith@nhs.net", "j.smith", id="dotted-handle"),
        pytest.param("Dr. J. Smith reviewed", "Dr. J. Smith", id="member-with-title"),
        pytest.param("spoke to dr smith", "dr smith", id="title-and-member-surname-lower-case"),
    ],
)
def test_workspace_member(text: str, expected: str) -> None:
    assert find_person_names(text, DIRECTORY) == [NameHit(expected, REASON_MEMBER)]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("ppatel said", id="single-word-handle"),
        pytest.param("sam will cover", id="short-display-name"),
        pytest.param("Patel was mentioned", id="single-surname"),
        pytest.param("log it with the service desk", id="role-account"),
        pytest.param("the ward manager agreed", id="role-display-name"),
        pytest.param("priya, patel", id="split-by-comma"),
        pytest.param("priyapatel", id="not-on-word-boundary"),
    ],
)
def test_workspace_member_not_matched(text: str) -> None:
    assert find_person_names(text, DIRECTORY) == []


def test_directory_accepts_any_iterable() -> None:
    assert texts("handed to Priya Patel", ["Priya Patel"]) == ["Priya Patel"]
    assert texts("handed to Priya Patel", (n for n in ["Priya Patel"])) == ["Priya Patel"]


# --- the given-names data file -------------------------------------------------------------------


def test_given_names_file_loads() -> None:
    names = given_names()
    assert len(names) >= 600
    assert {"sarah", "mohammed", "siân", "sian", "dafydd", "ngozi", "łukasz", "lukasz", "wei"} <= names
    assert names is given_names()  # cached


def test_everyday_words_are_not_in_the_given_names_file() -> None:
    assert not (given_names() & AMBIGUOUS_GIVEN_NAMES)


# --- describe_hits -------------------------------------------------------------------------------


def test_describe_one_hit() -> None:
    message = describe_hits([NameHit("Dr Smith", REASON_TITLE)])
    assert message == (
        'This looks like a name ("Dr Smith"). Refer to the staff member by case number or initials only.'
    )


def test_describe_quotes_at_most_two_hits() -> None:
    hits = find_person_names("Dr Smith told Sarah Connor, then Jo O'Neill.")
    message = describe_hits(hits)
    assert '"Dr Smith", "Sarah Connor" and 1 more' in message
    assert "O'Neill" not in message
    assert len(message) < 150


def test_describe_repeated_name_once() -> None:
    hits = [NameHit("Dr Smith", REASON_TITLE), NameHit("dr smith", REASON_MEMBER)]
    assert describe_hits(hits).startswith('This looks like a name ("Dr Smith").')


@pytest.mark.parametrize(
    "hits",
    [
        pytest.param([NameHit("Professor Sir Christopher Alexander-Montgomery", REASON_TITLE)], id="one-long"),
        pytest.param(
            [
                NameHit("Professor Sir Christopher Alexander-Montgomery", REASON_TITLE),
                NameHit("Anne-Marie Fitzwilliam-Worthington-Smythe", REASON_GIVEN),
                NameHit("Dr Smith", REASON_TITLE),
            ],
            id="two-long-and-more",
        ),
    ],
)
def test_describe_stays_under_150_characters(hits: list[NameHit]) -> None:
    message = describe_hits(hits)
    assert len(message) < 150
    assert message.endswith("Refer to the staff member by case number or initials only.")


def test_describe_no_hits() -> None:
    assert describe_hits([]) == ""
