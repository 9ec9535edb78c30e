"""The sandbox's parts without a browser: Block Kit to HTML, the movable clock, Slack's refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import clock
from bot.sandbox import checks
from bot.sandbox.blockkit import Viewer, mrkdwn, render_blocks
from bot.sandbox.page import dispatched_action, state_values
from bot.sandbox.runtime import Due, Upcoming
from bot.sandbox.workspace import SandboxSlack

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _viewer(zone: str = "Europe/London", links: dict[str, str] | None = None) -> Viewer:
    return Viewer(zone=ZoneInfo(zone), now=NOW, names={"U1": "Kit Ashdown"},
                  channels={"C1": "pmccg-2026-001", "C2": "general"}, users=[("U1", "Kit Ashdown")],
                  links=links or {}, private=frozenset({"C1"}))


def test_an_unknown_block_or_element_is_shown_with_its_type_not_dropped() -> None:
    html = str(render_blocks([{"type": "table", "rows": []},
                              {"type": "actions", "elements": [{"type": "workflow_button", "text": "x"}]}], _viewer()))
    assert "Unsupported block: <code>table</code>" in html
    assert "Unsupported element: <code>workflow_button</code>" in html


def test_date_tokens_are_shown_in_the_viewers_own_time_zone() -> None:
    token = f"<!date^{int(datetime(2026, 7, 1, 13, 0, tzinfo=UTC).timestamp())}^{{date_long}} at {{time}}|1 July>"
    assert "Wednesday, July 1st, 2026 at 2:00 PM" in str(mrkdwn(token, _viewer("Europe/London")))
    assert "Wednesday, July 1st, 2026 at 9:00 AM" in str(mrkdwn(token, _viewer("America/New_York")))
    tomorrow = f"<!date^{int((NOW + timedelta(days=1)).timestamp())}^{{date_long_pretty}}|x>"
    assert "Tomorrow" in str(mrkdwn(tomorrow, _viewer()))


def test_mrkdwn_bold_italic_links_and_mentions() -> None:
    html = str(mrkdwn("*Chair* is _away_: see <https://example.org/a_b|the notes> <@U1> in <#C1>", _viewer()))
    assert "<b>Chair</b>" in html and "<i>away</i>" in html
    assert '<a href="https://example.org/a_b" target="_blank" rel="noopener">the notes</a>' in html
    assert "@Kit Ashdown" in html and "pmccg-2026-001" in html


def test_a_channel_mention_opens_the_channel_only_for_someone_in_it_and_a_private_one_says_so() -> None:
    text = "See <#C1> and <#C2>."
    member = str(mrkdwn(text, _viewer(links={"C1": "/as/U1/c/C1", "C2": "/as/U1/c/C2"})))
    assert '<a class="mention channel" href="/as/U1/c/C1">' in member and 'href="/as/U1/c/C2"' in member
    assert '<span class="visually-hidden">private channel </span>pmccg-2026-001' in member  # the lock, in words
    assert 'data-emoji="lock"' in member
    outsider = str(mrkdwn(text, _viewer(links={"C2": "/as/U1/c/C2"})))
    assert 'href="/as/U1/c/C1"' not in outsider and '<span class="mention channel">' in outsider


def test_the_bots_emoji_are_named_drawings_that_need_no_emoji_font() -> None:
    html = str(mrkdwn(":white_check_mark: Chair :hourglass_flowing_sand: :large_orange_circle: :tada:", _viewer()))
    assert '<svg class="emoji" data-emoji="white_check_mark"' in html and 'role="img" aria-label="Tick"' in html
    assert 'aria-label="Waiting"' in html and 'aria-label="Amber"' in html
    assert ":tada:" in html  # one the bot does not use stays as typed, as Slack shows an unknown one
    assert not [ch for ch in html if ord(ch) >= 0x2300], "no character that needs an emoji or symbol font"


def _convene_like(initial_concern: str = "") -> list[dict[str, object]]:
    concern: dict[str, object] = {"type": "plain_text_input", "action_id": "concern", "multiline": True}
    if initial_concern:
        concern["initial_value"] = initial_concern
    return [
        {"type": "input", "block_id": "concern", "label": {"type": "plain_text", "text": "Describe the concern"},
         "hint": {"type": "plain_text", "text": "No names."}, "element": concern},
        {"type": "input", "block_id": "lead", "label": {"type": "plain_text", "text": "Professional lead"},
         "element": {"type": "users_select", "action_id": "lead", "initial_user": "U1"}},
        {"type": "input", "block_id": "fast", "optional": True, "label": {"type": "plain_text", "text": "Urgent"},
         "element": {"type": "checkboxes", "action_id": "fast",
                     "options": [{"text": {"type": "plain_text", "text": "Short notice"}, "value": "yes"}]}},
    ]


def test_a_refused_field_shows_what_was_entered_with_its_error_tied_to_it() -> None:
    state = {"concern": {"concern": {"type": "plain_text_input", "value": "Kit made errors"}},
             "lead": {"lead": {"type": "users_select", "selected_user": None}},
             "fast": {"fast": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}}}
    html = str(render_blocks(_convene_like("typed before"), _viewer(), errors={"concern": "No names, please."},
                             state=state))
    assert ">Kit made errors</textarea>" in html, "what the person typed, not the view's initial value"
    assert 'aria-describedby="concern--concern-error concern--concern-hint" aria-invalid="true"' in html
    assert '<div class="field-error" id="concern--concern-error">' in html and "No names, please." in html
    assert 'value="U1" selected' not in html, "a cleared choice stays cleared"
    assert 'value="yes" checked' in html
    assert '<fieldset class="bk-input" data-block="fast"><legend>Urgent' in html  # a group has a legend
    assert html.count('aria-required="true"') == 2  # the two fields not marked optional


def test_an_update_keeps_what_was_entered_in_the_same_field_and_shows_a_new_proposal_where_untouched() -> None:
    with SandboxSlack() as fake:
        client = WebClient(token="xoxb-sandbox", base_url=fake.url)
        view = {"type": "modal", "title": {"type": "plain_text", "text": "Convene"}, "blocks": _convene_like()}
        view_id = client.views_open(trigger_id="t", view=view)["view"]["id"]
        fake.keep_state(view_id, {"concern": {"concern": {"type": "plain_text_input", "value": "Two errors"}},
                                  "lead": {"lead": {"type": "users_select", "selected_user": "U1"}}})
        proposed = _convene_like()
        proposed[1]["element"] = {"type": "users_select", "action_id": "lead", "initial_user": "U2"}
        client.views_update(view_id=view_id, view={**view, "blocks": proposed})
        assert fake.modal_state(view_id) == {"concern": {"concern": {"type": "plain_text_input",
                                                                     "value": "Two errors"}}}
        renamed = [{**b, "block_id": "concern_v2"} if b["block_id"] == "concern" else b for b in proposed]
        client.views_update(view_id=view_id, view={**view, "blocks": renamed})
        assert fake.modal_state(view_id) == {}, "a field with a new block_id starts from the view again"


@pytest.mark.parametrize(("due", "words"), [
    pytest.param((Due("reply_chase", 2, 0),), "chase to 2 members, Wed 02 Dec 14:00", id="chase to two members"),
    pytest.param((Due("agenda", 0, 1), Due("action_digest", 1, 0)),
                 "agenda in the case channel and action point reminder to 1 owner, Wed 02 Dec 14:00",
                 id="two kinds due together"),
    pytest.param((Due("roll_call", 0, 2),), "roll-call in 2 case channels, Wed 02 Dec 14:00", id="two cases"),
    pytest.param((Due("reply_chase", 0, 0),), "chase, not needed, Wed 02 Dec 14:00", id="everyone has answered"),
])
def test_the_clock_panel_says_what_is_due_next_in_words(due: tuple[Due, ...], words: str) -> None:
    at = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
    assert Upcoming(at, due).describe(ZoneInfo("Europe/London")) == words


def test_script_is_shown_as_text_never_run() -> None:
    typed = "&lt;script&gt;alert(1)&lt;/script&gt; <javascript:alert(1)|click>"
    html = str(render_blocks([{"type": "section", "text": {"type": "mrkdwn", "text": typed}},
                              {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
                                  {"type": "text", "text": "<img src=x onerror=alert(1)>"}]}]}], _viewer()))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript' not in html


def test_modal_controls_come_back_as_view_state() -> None:
    from werkzeug.datastructures import MultiDict

    form = MultiDict([("present", "v|concern|concern|plain_text_input"), ("v|concern|concern|plain_text_input", "x"),
                      ("present", "v|when|when|datepicker"), ("v|when|when|datepicker", ""),
                      ("present", "v|who|who|users_select"), ("v|who|who|users_select", "U1"),
                      ("present", "v|fast|fast|checkboxes")])
    assert state_values(form) == {
        "concern": {"concern": {"type": "plain_text_input", "value": "x"}},
        "when": {"when": {"type": "datepicker", "selected_date": None}},
        "who": {"who": {"type": "users_select", "selected_user": "U1"}},
        "fast": {"fast": {"type": "checkboxes", "selected_options": []}},
    }


def test_the_clock_moves_forward_only_and_freezegun_still_rules() -> None:
    with freeze_time(NOW):
        moved = clock.MovableClock()
        assert moved() == NOW == clock.now()
        assert moved.advance(timedelta(days=1)) == NOW + timedelta(days=1)
        with pytest.raises(ValueError, match="only moves forward"):
            moved.advance(timedelta(hours=-1))
        assert moved() == NOW + timedelta(days=1)
        assert clock.now() == NOW, "the sandbox's clock is its own: the process's clock never moves"


@pytest.fixture
def strict() -> Iterator[WebClient]:
    with SandboxSlack() as fake:
        fake.add_user("U1", "Kit Ashdown")
        yield WebClient(token="xoxb-sandbox", base_url=fake.url)


def test_a_modal_title_over_24_characters_is_refused_as_slack_would(strict: WebClient) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "A title far longer than allowed"}, "blocks": []}
    with pytest.raises(SlackApiError) as caught:
        strict.views_open(trigger_id="t", view=view)
    assert caught.value.response["error"] == "invalid_arguments"
    assert "must be less than 25 characters" in caught.value.response["response_metadata"]["messages"][0]


def test_more_than_50_blocks_in_a_message_is_refused(strict: WebClient) -> None:
    blocks = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as caught:
        strict.chat_postMessage(channel="U1", text="x", blocks=blocks)
    assert caught.value.response["error"] == "invalid_blocks"
    strict.chat_postMessage(channel="U1", text="x", blocks=blocks[:50])  # 50 is allowed


def test_a_method_the_manifest_grants_no_scope_for_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"oauth_config": {"scopes": {"bot": ["chat:write"]}}}')
    with SandboxSlack(checks.granted_scopes(manifest)) as fake:
        client = WebClient(token="xoxb-sandbox", base_url=fake.url)
        with pytest.raises(SlackApiError) as caught:
            client.conversations_create(name="pmccg-2026-001", is_private=True)
        assert caught.value.response["error"] == "missing_scope"
        assert [r.method for r in fake.rejections_for("")] == ["conversations.create"]


def test_the_real_manifest_grants_every_method_the_bot_calls() -> None:
    granted = checks.granted_scopes()
    bot_calls = ["chat.postMessage", "chat.update", "chat.postEphemeral", "conversations.create",
                 "conversations.invite", "conversations.archive", "users.list", "files.getUploadURLExternal",
                 "files.completeUploadExternal"]
    assert [m for m in bot_calls if checks.missing_scope(m, granted)] == []


def test_changing_a_dispatching_select_sends_the_block_action_slack_would() -> None:
    options = [{"text": {"type": "plain_text", "text": "Nursing"}, "value": "nursing"},
               {"text": {"type": "plain_text", "text": "Paramedic"}, "value": "paramedic"}]
    block = {"type": "input", "block_id": "profession", "dispatch_action": True,
             "label": {"type": "plain_text", "text": "Profession"},
             "element": {"type": "static_select", "action_id": "profession", "options": options}}
    assert 'data-dispatch="1"' in str(render_blocks([block], _viewer()))
    values = {"profession": {"profession": {"type": "static_select", "selected_option": {"value": "paramedic"}}}}
    action = dispatched_action({"blocks": [block]}, "v|profession|profession|static_select", values)
    assert action == {"type": "static_select", "action_id": "profession", "block_id": "profession",
                      "selected_option": options[1]}
    quiet = {**block, "dispatch_action": False}
    assert dispatched_action({"blocks": [quiet]}, "v|profession|profession|static_select", values) is None
