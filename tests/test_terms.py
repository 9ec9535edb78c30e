"""Terms of reference as configuration: the presets load, a custom file loads, a bad file is refused
at start with the file, the dotted key and the reason."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from bot.domain.roles import Role
from bot.domain.terms import TermsError, load_terms

PMCCG_TOML = resources.files("bot.domain.presets").joinpath("pmccg.toml").read_text(encoding="utf-8")


def edited(old: str, new: str, text: str = PMCCG_TOML, count: int = 1) -> str:
    """The preset with `old` replaced by `new` (the edit must apply, or the test proves nothing)."""
    assert text.count(old) >= count, f"{old!r} is not in the preset"
    return text.replace(old, new, count)


def without_tables(header: str, text: str = PMCCG_TOML) -> str:
    """The preset with every table headed `header` (e.g. "[quorum]", "[[seats]]") removed."""
    lines, keep, removed = text.splitlines(keepends=True), [], False
    skipping = False
    for line in lines:
        if line.startswith("["):
            skipping = line.strip() == header
            removed = removed or skipping
        if not skipping:
            keep.append(line)
    assert removed, f"{header} is not in the preset"
    return "".join(keep)


def write(tmp_path: Path, text: str, name: str = "terms.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> TermsError:
    with pytest.raises(TermsError) as caught:
        load_terms(path)
    return caught.value


# --- the built-in presets -------------------------------------------------------------------------


def test_pmccg_preset_applies_the_terms_of_seed_000() -> None:
    terms = load_terms()

    assert (terms.name, terms.short_name, terms.reference_prefix) == (
        "Performance Management Conference Call Group", "PMCCG", "PMCCG")
    assert terms.decision_maker == "Medical Director"
    assert terms.quorum.minimum_present == 4
    assert terms.quorum.chair_required is True
    assert terms.quorum.chair_roles == {Role.CHAIR, Role.DEPUTY_CHAIR}
    assert terms.quorum.professional_lead_required is True
    assert terms.quorum.deputies_count is False
    assert [s.key for s in terms.seats] == ["chair", "line_manager", "service_lead", "people_team", "governance",
                                            "clinical_director", "professional_lead"]
    assert terms.seat("line_manager").default_to_convener
    assert terms.seat("professional_lead").match_profession
    assert Role.MANAGER in terms.allowed_roles and Role.MEMBER not in terms.allowed_roles
    assert terms.profession("nursing").label == "Nursing"
    assert terms.reminders.reply_chase_hours == (48.0, 24.0, 4.0)
    assert (terms.reminders.circulation_chase_days, terms.reminders.circulation_escalate_days) == (5, 7)
    assert terms.source == "built-in pmccg.toml"


def test_pmccg_is_the_default_and_can_be_named() -> None:
    assert load_terms() == load_terms("pmccg")


def test_opg_preset_applies_the_terms_of_seed_001() -> None:
    terms = load_terms("opg")

    assert (terms.short_name, terms.reference_prefix) == ("OPG", "OPG")
    assert terms.decision_maker == "Chief Executive Officer"
    assert terms.quorum.minimum_present == 6
    assert terms.quorum.chair_required is False
    assert terms.quorum.professional_lead_required is False
    assert terms.quorum.deputies_count is True
    assert [p.key for p in terms.professions] == ["clinical", "operational"]
    assert terms.allowed_roles == {Role.CHAIR, Role.DEPUTY_CHAIR, Role.GOVERNANCE}
    assert terms.source == "built-in opg.toml"


def test_unknown_seat_or_profession_is_none() -> None:
    terms = load_terms()

    assert terms.seat("treasurer") is None
    assert terms.profession("dentistry") is None


# --- a custom file --------------------------------------------------------------------------------


def test_custom_file_loads_with_its_own_rules(tmp_path: Path) -> None:
    text = edited('short_name = "PMCCG"', 'short_name = "North PMCCG"')
    text = edited('reference_prefix = "PMCCG"', 'reference_prefix = "npm-ccg"', text)
    text = edited("minimum_present = 4", "minimum_present = 5", text)
    text = edited("reply_chase_hours = [48, 24, 4]", "reply_chase_hours = [4, 48, 24]", text)
    path = write(tmp_path, text)

    terms = load_terms(path)

    assert terms.short_name == "North PMCCG"
    assert terms.reference_prefix == "NPM-CCG"
    assert terms.quorum.minimum_present == 5
    assert terms.reminders.reply_chase_hours == (48.0, 24.0, 4.0)
    assert terms.source == str(path)
    assert load_terms(str(path)) == terms


def test_custom_file_may_leave_out_the_optional_keys(tmp_path: Path) -> None:
    text = PMCCG_TOML
    for line in ('decision_maker = "Medical Director"\n', 'ask_role = "governance"\n', "min_notice_minutes = 60\n",
                 "short_notice_min_notice_minutes = 15\n", "one_seat_per_person = true\n",
                 "max_extra_members = 6\n", 'chair_roles = ["chair", "deputy_chair"]\n'):
        text = edited(line, "", text)

    terms = load_terms(write(tmp_path, text))

    assert terms.decision_maker == "Medical Director"
    assert terms.ask_role == Role.GOVERNANCE
    assert (terms.min_notice_minutes, terms.short_notice_min_notice_minutes) == (60, 15)
    assert terms.one_seat_per_person is True
    assert terms.max_extra_members == 6
    assert terms.quorum.chair_roles == {Role.CHAIR}


def test_without_a_records_table_the_record_follows_seed_001_and_disclosure_practice(tmp_path: Path) -> None:
    text = PMCCG_TOML[: PMCCG_TOML.index("[records]")]

    records = load_terms(write(tmp_path, text)).records

    assert records.allowed_roles == {Role.GOVERNANCE, Role.CHAIR, Role.DEPUTY_CHAIR, Role.MEDICAL_DIRECTOR}
    assert (records.attendance_target, records.small_number_threshold) == (0.75, 5)


def test_minimum_present_may_equal_every_seat_and_extra_member(tmp_path: Path) -> None:
    # 7 seats + 6 extra members = 13 people at most.
    terms = load_terms(write(tmp_path, edited("minimum_present = 4", "minimum_present = 13")))

    assert terms.quorum.minimum_present == 13


# --- a bad file: file, dotted key, reason ---------------------------------------------------------

BAD_FILES = [
    pytest.param(without_tables("[quorum]"), "quorum", "is required", id="no [quorum] table"),
    pytest.param(without_tables("[group]"), "group", "is required", id="no [group] table"),
    pytest.param(without_tables("[[professions]]"), "professions", "is required", id="no professions"),
    pytest.param(edited("minimum_present = 4", "minimum_present = 0"), "quorum.minimum_present",
                 "must be greater than zero, not 0", id="minimum present of zero"),
    pytest.param(edited("minimum_present = 4", "minimum_present = -4"), "quorum.minimum_present",
                 "must be greater than zero, not -4", id="negative minimum present"),
    pytest.param(edited("minimum_present = 4", 'minimum_present = "four"'), "quorum.minimum_present",
                 "must be a whole number, not 'four'", id="minimum present in words"),
    pytest.param(edited("minimum_present = 4", "minimum_present = 4.5"), "quorum.minimum_present",
                 "must be a whole number, not 4.5", id="fractional minimum present"),
    pytest.param(edited("minimum_present = 4", "minimum_present = true"), "quorum.minimum_present",
                 "must be a whole number, not True", id="true where a number is needed"),
    pytest.param(edited("minimum_present = 4\n", ""), "quorum.minimum_present", "is required",
                 id="minimum present left out"),
    pytest.param(edited("minimum_present = 4", "minimum_present = 14"), "quorum.minimum_present",
                 "is more than the seats and extra members a case can have",
                 id="minimum present larger than seats plus extra members"),
    pytest.param(edited("chair_required = true", "chair_required = 1"), "quorum.chair_required",
                 "must be true or false, not 1", id="a number where true or false is needed"),
    pytest.param(edited("deputies_count = false", 'deputies_count = "no"'), "quorum.deputies_count",
                 "must be true or false, not 'no'", id="text where true or false is needed"),
    pytest.param(edited('chair_roles = ["chair", "deputy_chair"]', 'chair_roles = ["chair", "vice_chair"]'),
                 "quorum.chair_roles", "'vice_chair' is not a role; use one of chair, deputy_chair",
                 id="unknown chair role"),
    pytest.param(edited('allowed_roles = ["manager",', 'allowed_roles = ["boss", "manager",'),
                 "convening.allowed_roles", "'boss' is not a role; use one of chair, deputy_chair",
                 id="unknown role in allowed_roles"),
    pytest.param(edited('allowed_roles = ["manager", "service_lead", "chair", "deputy_chair", "governance", '
                        '"clinical_director", "medical_director"]', "allowed_roles = []"),
                 "convening.allowed_roles", "must name at least one role", id="nobody may convene"),
    pytest.param(edited('allowed_roles = ["manager", "service_lead", "chair", "deputy_chair", "governance", '
                        '"clinical_director", "medical_director"]', 'allowed_roles = "manager"'),
                 "convening.allowed_roles", "must be a list, not 'manager'", id="allowed_roles not a list"),
    pytest.param(edited('ask_role = "governance"', 'ask_role = "helpdesk"'), "convening.ask_role",
                 "'helpdesk' is not a role", id="unknown ask_role"),
    pytest.param(edited('roster_role = "manager"', 'roster_role = "line_manager"'), "seats[1].roster_role",
                 "'line_manager' is not a role", id="seat with an unknown roster role"),
    pytest.param(edited('key = "line_manager"', 'key = "chair"'), "seats[1].key", "seat 'chair' is listed twice",
                 id="duplicate seat key"),
    pytest.param(edited('label = "Chair"', 'label = "  "'), "seats[0].label", "must not be empty",
                 id="blank seat label"),
    pytest.param(edited('key = "nursing"', 'key = "doctor"'), "professions[1].key",
                 "profession 'doctor' is listed twice", id="duplicate profession key"),
    pytest.param(edited('reference_prefix = "PMCCG"', 'reference_prefix = "PM CCG"'), "group.reference_prefix",
                 "must be letters and digits only", id="reference prefix with a space"),
    pytest.param(edited('reference_prefix = "PMCCG"', 'reference_prefix = "PMCCG/2025"'), "group.reference_prefix",
                 "must be letters and digits only", id="reference prefix with a slash"),
    pytest.param(edited('reference_prefix = "PMCCG"', 'reference_prefix = "PMCCÉ"'), "group.reference_prefix",
                 "must be letters and digits only", id="reference prefix with an accented letter"),
    pytest.param(edited('reference_prefix = "PMCCG"', 'reference_prefix = ""'), "group.reference_prefix",
                 "must not be empty", id="empty reference prefix"),
    pytest.param(edited('name = "Performance Management Conference Call Group"', "name = 42"), "group.name",
                 "must be text, not 42", id="group name not text"),
    pytest.param(edited("reply_chase_hours = [48, 24, 4]", "reply_chase_hours = [48, -1]"),
                 "reminders.reply_chase_hours[1]", "must be a number of hours, not -1",
                 id="negative reply chase hours"),
    pytest.param(edited("short_notice_reply_chase_hours = [2, 0.5]", 'short_notice_reply_chase_hours = ["soon"]'),
                 "reminders.short_notice_reply_chase_hours[0]", "must be a number of hours, not 'soon'",
                 id="reply chase hours in words"),
    pytest.param(edited("pre_call_check_hours = 24", "pre_call_check_hours = -1"), "reminders.pre_call_check_hours",
                 "must be greater than zero, not -1", id="negative pre-call check hours"),
    pytest.param(edited("\nagenda_hours = 24", "\nagenda_hours = 0"), "reminders.agenda_hours",
                 "must be greater than zero, not 0", id="agenda posted zero hours before"),
    pytest.param(edited("circulation_chase_days = 5", "circulation_chase_days = 7"),
                 "reminders.circulation_chase_days", "must come before circulation_escalate_days",
                 id="chase on the day it should escalate"),
    pytest.param(edited("action_reminder_days = 7", "action_reminder_days = 1.5"), "reminders.action_reminder_days",
                 "must be a whole number, not 1.5", id="fractional days"),
    pytest.param(edited("attendance_target = 0.75", "attendance_target = 75"), "records.attendance_target",
                 "must be a share between 0 and 1 (0.75 is 75%), not 75", id="attendance target as a percentage"),
    pytest.param(edited('allowed_roles = ["governance", "chair", "deputy_chair", "medical_director"]',
                        'allowed_roles = ["governance", "auditor"]'), "records.allowed_roles",
                 "'auditor' is not a role", id="unknown records role"),
    pytest.param(edited("small_number_threshold = 5", "small_number_threshold = 0"),
                 "records.small_number_threshold", "must be greater than zero, not 0", id="no suppression threshold"),
    pytest.param(edited("small_number_threshold = 5", "small_number_threshold = 2"),
                 "records.small_number_threshold",
                 "must be 3 or more, not 2: a hidden count must leave at least two values", id="'<2' would say 1"),
    pytest.param(edited('label = "Doctor (GP)"\n', 'label = "Doctor (GP)"\nnamed_to_quality_board = "yes"\n'),
                 "professions[0].named_to_quality_board", "must be true or false, not 'yes'",
                 id="naming a profession to the Quality Board, in words"),
    pytest.param(re.sub(r'(label = "(?!Operational)[^"]*"\n)(\n\[\[professions\]\]|\n\[reminders\])',
                        r"\1named_to_quality_board = true\n\2", PMCCG_TOML),
                 "professions[6].named_to_quality_board",
                 "leaves only 'operational' unnamed, so a post that names no group names it anyway",
                 id="every profession but one named to the Quality Board"),
    # A key the terms do not have stops the bot, wherever it is: a typo would leave the default in force.
    pytest.param(edited("minimum_present = 4", "minimum_presnt = 6"), "quorum.minimum_presnt",
                 "is not a setting of the terms; did you mean minimum_present?", id="typo of a required key"),
    pytest.param(edited("max_extra_members = 6", "max_extra_member = 10"), "convening.max_extra_member",
                 "is not a setting of the terms; did you mean max_extra_members?", id="typo of an optional key"),
    pytest.param(edited("[quorum]", "[quorom]"), "quorom", "is not a setting of the terms; did you mean quorum?",
                 id="typo of a required table"),
    pytest.param(edited("[records]", "[record]"), "record", "is not a setting of the terms; did you mean records?",
                 id="typo of an optional table"),
    pytest.param(edited("[group]", 'colour = "blue"\n\n[group]'), "colour",
                 "is not a setting of the terms; the settings here are convening, group, professions, quorum, "
                 "records, reminders, seats", id="unknown key at the top level"),
    pytest.param(edited("default_to_convener = true", "default_to_convenor = true"), "seats[1].default_to_convenor",
                 "is not a setting of the terms; did you mean default_to_convener?", id="typo in an array of tables"),
    pytest.param(edited('label = "Paramedic"', 'label = "Paramedic"\nshort = "P"'), "professions[2].short",
                 "is not a setting of the terms; the settings here are", id="unknown key in an array of tables"),
    pytest.param(edited("retention_days = 2555", "retention_days = 2555\nretain_days = 30"), "records.retain_days",
                 "is not a setting of the terms; did you mean retention_days?",
                 id="a stray next to the key it resembles"),
]


@pytest.mark.parametrize(("text", "key", "reason"), BAD_FILES)
def test_bad_file_is_refused_naming_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)

    error = refused(path)

    assert (error.source, error.key) == (str(path), key)
    assert reason in error.reason
    assert str(error).startswith(f"{path}: {key}: ")
    assert reason in str(error)


def test_every_key_of_both_presets_and_every_optional_key_is_known(tmp_path: Path) -> None:
    """The known keys are those the code reads: a file setting every optional key is accepted."""
    text = edited('label = "Chair"', 'label = "Chair"\ndefault_to_convener = false\nmatch_profession = false')
    text = edited("[records]", "[records]", text)  # the optional table, present
    assert load_terms(write(tmp_path, text)).seat("chair") is not None
    assert load_terms("opg") and load_terms("pmccg")


def test_toml_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, edited("minimum_present = 4", "minimum_present = "))

    error = refused(path)

    assert (error.source, error.key) == (str(path), "(syntax)")
    line = PMCCG_TOML.splitlines().index("minimum_present = 4") + 1
    assert re.search(rf"\bline {line}\b", error.reason), error.reason
    assert str(error).startswith(f"{path}: (syntax): ")


def test_missing_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "terms.toml"

    error = refused(path)

    assert (error.source, error.key) == (str(path), "(file)")
    assert error.reason == "cannot be read: No such file or directory"
    assert str(error) == f"{path}: (file): cannot be read: No such file or directory"


def test_a_directory_is_not_a_terms_file(tmp_path: Path) -> None:
    error = refused(tmp_path)

    assert (error.source, error.key) == (str(tmp_path), "(file)")
    assert error.reason.startswith("cannot be read")


def test_chair_required_with_no_chair_roles_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, edited('chair_roles = ["chair", "deputy_chair"]', "chair_roles = []"))

    error = refused(path)

    assert error.key == "quorum.chair_roles"


@pytest.mark.parametrize(("old", "new", "key"), [
    pytest.param("max_extra_members = 6", "max_extra_members = -2", "convening.max_extra_members",
                 id="negative extra members"),
    pytest.param("min_notice_minutes = 60", "min_notice_minutes = -60", "convening.min_notice_minutes",
                 id="negative notice"),
])
def test_negative_convening_numbers_are_refused(tmp_path: Path, old: str, new: str, key: str) -> None:
    error = refused(write(tmp_path, edited(old, new)))

    assert error.key == key


def test_file_not_in_utf8_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "terms.toml"
    path.write_bytes(edited('label = "Nursing"', 'label = "Nursing and café staff"').encode("cp1252"))

    error = refused(path)

    assert error.source == str(path)
