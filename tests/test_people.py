"""Every person the bot accepts is an active person of the workspace (issue 12, rule 4).

The Slack implementation of bot/domain/people.py's People (handlers/slack/directory.py) asks the local stand-in
over HTTP (users.list, users.info), as it would ask Slack; the domain turns its answers into errors.
"""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.domain.people import Standing, person_errors
from bot.sandbox.slack_api import FakeSlack
from handlers.slack.directory import Directory
from tests.factories import BOT_USER, DEACTIVATED, HERE, OUTSIDER, STAFF_MEMBER

MALFORMED = "U0X> <!channel> <https://evil.example|Re-authenticate>"


def _directory(fake: FakeSlack, **options: float) -> Directory:
    return Directory(WebClient(token="xoxb-test-token", base_url=fake.url), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("user_id", "standing"), [
    pytest.param("U0CHAIR01", Standing.OK, id="a person on the roster"),
    pytest.param(OUTSIDER, Standing.OK, id="a person of the workspace not on the roster"),
    pytest.param(DEACTIVATED[0], Standing.DEACTIVATED, id="an account deactivated"),
    pytest.param(BOT_USER, Standing.BOT, id="an app"),
    pytest.param("U0NOBODY1", Standing.UNKNOWN, id="nobody of this workspace"),
    pytest.param(MALFORMED, Standing.MALFORMED, id="markup in place of an id"),
    pytest.param("C0CHANNEL", Standing.MALFORMED, id="a channel id"),
    pytest.param("u0chair01", Standing.MALFORMED, id="lower case"),
    pytest.param("", Standing.MALFORMED, id="empty"),
])
def test_slack_says_who_is_an_active_person(directory: FakeSlack, user_id: str, standing: Standing) -> None:
    assert _directory(directory).standing([user_id]) == {user_id: standing}
    # Slack's id form is checked before Slack is asked: a malformed id never reaches users.info.
    asked = [c.params.get("user") for c in directory.calls_to("users.info")]
    assert asked == ([] if standing is Standing.MALFORMED else [user_id])


def test_answers_are_cached_briefly_then_asked_again(directory: FakeSlack) -> None:
    people = _directory(directory)
    people.standing(["U0CHAIR01", "U0NURSELD"])
    people.standing(["U0CHAIR01", "U0NURSELD"])
    assert len(directory.calls_to("users.info")) == 2
    # Deactivated since: noticed once the cache has lapsed.
    directory.users["U0CHAIR01"]["deleted"] = True
    stale = _directory(directory, standing_ttl_seconds=0.0)
    assert stale.standing(["U0CHAIR01"]) == {"U0CHAIR01": Standing.DEACTIVATED}


def test_the_loaded_directory_answers_without_asking_slack_person_by_person(directory: FakeSlack) -> None:
    people = _directory(directory)
    people.refresh_in_background()
    people.names(wait_seconds=5)
    found = people.standing(["U0CHAIR01", DEACTIVATED[0], BOT_USER])
    assert found == {"U0CHAIR01": Standing.OK, DEACTIVATED[0]: Standing.DEACTIVATED, BOT_USER: Standing.BOT}
    assert directory.calls_to("users.info") == []


def test_a_person_slack_does_not_confirm_in_time_is_refused_not_accepted(directory: FakeSlack) -> None:
    client = WebClient(token="xoxb-test-token", base_url=directory.url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    people = Directory(client, lookup_seconds=0.3)
    directory.rate_limit_next("users.info", retry_after=2, times=2)  # Slack answers only after 2 s
    assert people.standing(["U0CHAIR01"]) == {"U0CHAIR01": Standing.UNCONFIRMED}
    assert person_errors(people, {"seat_chair": "U0CHAIR01"}) == {
        "seat_chair": "The workspace could not confirm this person just now. Please try again."}


def test_a_slack_error_is_not_taken_for_an_answer(directory: FakeSlack) -> None:
    people = _directory(directory)
    directory.fail_next("users.info", "internal_error")
    assert people.standing(["U0NURSELD"]) == {"U0NURSELD": Standing.UNCONFIRMED}
    assert people.standing(["U0NURSELD"]) == {"U0NURSELD": Standing.OK}  # not cached: asked again


def test_field_errors_are_plain_english_one_per_field() -> None:
    errors = person_errors(HERE, {"seat_chair": "U0CHAIR01", "seat_people_team": DEACTIVATED[0],
                                  "seat_governance": BOT_USER, "seat_service_lead": "U0NOBODY1",
                                  "seat_professional_lead": None,
                                  "extra_members": (OUTSIDER, STAFF_MEMBER[0], DEACTIVATED[0], BOT_USER)})
    assert errors == {
        "seat_people_team": "That person's account is deactivated.",
        "seat_governance": "Choose a person, not an app.",
        "seat_service_lead": "That person is not a member of this workspace.",
        "extra_members": "Choose people, not apps.",  # the worse of the two problems in the list
    }


def test_what_an_edited_client_puts_in_place_of_an_id_is_refused_not_looked_up() -> None:
    errors = person_errors(HERE, {"deputy": ["U0CHAIR01", 42, {"id": "U0CHAIR01"}]})  # type: ignore[list-item]
    assert errors == {"deputy": "One of the people chosen is not a person in this workspace."}
