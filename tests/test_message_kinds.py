"""The seam fits both platforms (issue 15, rule 4): every kind of message has a template on every platform,
and a room is made with its members, its id heard before they are added."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.domain.errors import PlatformFailure, RoomNameTaken
from bot.domain.notify import Message, MessageKind
from bot.sandbox.slack_api import FakeSlack
from handlers.slack.workspace import SlackWorkspace

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"


def platforms(templates: Path, handlers: Path) -> list[str]:
    """The platforms that exist under templates/: a folder there named after a front end in handlers/."""
    return sorted(d.name for d in templates.iterdir() if d.is_dir() and (handlers / d.name / "__init__.py").exists())


def missing_templates(templates: Path, platform: str) -> list[str]:
    return [kind.value for kind in MessageKind if not (templates / platform / f"{kind.value}.json.j2").is_file()]


def test_slack_is_a_platform_and_records_is_not() -> None:
    found = platforms(TEMPLATES, ROOT / "handlers")
    assert "slack" in found and "records" not in found
    # teams/ counts the day templates/teams/ exists (handlers/teams/ already does).
    assert ("teams" in found) == (TEMPLATES / "teams").is_dir()


@pytest.mark.parametrize("platform", platforms(TEMPLATES, ROOT / "handlers"))
def test_every_kind_has_a_template_on_every_platform(platform: str) -> None:
    assert missing_templates(TEMPLATES, platform) == [], f"templates/{platform}/ lacks these kinds"


def test_a_kind_without_a_template_is_caught(tmp_path: Path) -> None:
    (tmp_path / "handlers" / "teams").mkdir(parents=True)
    (tmp_path / "handlers" / "teams" / "__init__.py").write_text("")
    (tmp_path / "templates" / "teams").mkdir(parents=True)
    for kind in MessageKind:
        if kind is not MessageKind.AGENDA:
            (tmp_path / "templates" / "teams" / f"{kind.value}.json.j2").write_text("{}")
    assert platforms(tmp_path / "templates", tmp_path / "handlers") == ["teams"]
    assert missing_templates(tmp_path / "templates", "teams") == ["agenda"]


def test_a_message_is_of_a_known_kind() -> None:
    assert Message("agenda", None).template is MessageKind.AGENDA  # a stored row's kind, as a string
    with pytest.raises(ValueError):
        Message("agenda_v2", None)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


def _workspace(slack: FakeSlack) -> SlackWorkspace:
    return SlackWorkspace(WebClient(token="xoxb-test", base_url=slack.url, timeout=5))


def test_slack_creates_then_invites_and_the_room_is_heard_first(slack: FakeSlack) -> None:
    heard: list[str] = []
    room = _workspace(slack).create_private_room("pmccg-2026-001", ["U0MANAGER", "U0CHAIR01"], heard.append)
    assert heard == [room]
    (invite,) = slack.calls_to("conversations.invite")
    assert invite.params["channel"] == room and invite.params["users"] == "U0MANAGER,U0CHAIR01"
    assert slack.channels[room]["is_private"]


def test_a_refused_invitation_still_tells_the_room_it_made(slack: FakeSlack) -> None:
    heard: list[str] = []
    slack.fail_next("conversations.invite", error="user_not_found")
    with pytest.raises(PlatformFailure) as failure:
        _workspace(slack).create_private_room("pmccg-2026-002", ["U0MANAGER"], heard.append)
    assert failure.value.error == "user_not_found"
    (create,) = slack.calls_to("conversations.create")
    assert len(heard) == 1 and heard[0] in slack.channels  # recovery can find the room and clear it


def test_a_taken_name_is_told_apart_and_nothing_is_heard(slack: FakeSlack) -> None:
    heard: list[str] = []
    _workspace(slack).create_private_room("pmccg-2026-003", [], heard.append)
    with pytest.raises(RoomNameTaken):
        _workspace(slack).create_private_room("pmccg-2026-003", ["U0MANAGER"], heard.append)
    assert len(heard) == 1
