"""Adaptive Cards the way Teams takes them: valid cards pass, each kind of mistake is refused with a readable reason.

Covers handlers/teams/cards.py (schema 1.5 plus Teams' additions, version ceiling, mentions, size,
text escaping) and the card half of bot/sandbox/teams_checks.py (what the sandbox's Bot Connector
stand-in answers).
"""

from __future__ import annotations

import copy
import html
import re
from typing import Any

import pytest
from markdown_it import MarkdownIt

from bot.sandbox.teams_checks import activity_refusal, invoke_response_refusal
from handlers.teams.cards import (
    CARD_CONTENT_TYPE,
    MESSAGE_SIZE_LIMIT,
    RECOMMENDED_MESSAGE_SIZE,
    CardRefused,
    card_problems,
    check_card,
    escape_text,
    payload_size,
)


def card(*body: dict[str, Any], version: str = "1.5", **extra: Any) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": version, "body": list(body), **extra}


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": value, "wrap": True, **extra}


def execute(verb: str | None = "attend", **extra: Any) -> dict[str, Any]:
    action = {"type": "Action.Execute", "title": "Attending", "data": {"case": "2026-014"}, **extra}
    if verb is not None:
        action["verb"] = verb
    return action


BOARD = card(
    text("Case 2026-014: attendance", weight="Bolder", size="Medium", style="heading"),
    {"type": "FactSet", "facts": [{"title": "Call", "value": "{{DATE(2026-03-02T10:00:00Z, LONG)}}"},
                                  {"title": "Quorum", "value": "projected: met"}]},
    {"type": "Table", "firstRowAsHeader": True, "columns": [{"width": 2}, {"width": 1}],
     "rows": [{"type": "TableRow", "cells": [{"type": "TableCell", "items": [text("Member")]},
                                             {"type": "TableCell", "items": [text("Answer")]}]}]},
    {"type": "ActionSet", "actions": [execute(), execute("apologies", title="Apologies", style="destructive")]},
    refresh={"action": execute("refresh_board"), "userIds": ["8f1c6a2e-2b7e-4a55-9b1a-0f1e2d3c4b5a"]},
    msteams={"width": "Full"},
)

DIALOG = card(
    text("Convene a case", style="heading"),
    {"type": "Input.Text", "id": "reference", "label": "Case reference", "isRequired": True,
     "errorMessage": "Give the case reference", "maxLength": 32},
    {"type": "TextBlock", "text": "Give the case reference", "color": "Attention", "isVisible": False,
     "id": "reference_error"},
    {"type": "Input.ChoiceSet", "id": "members", "label": "Members", "isMultiSelect": True, "style": "filtered",
     "choices": [], "choices.data": {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}},
    {"type": "Input.Date", "id": "call_date", "label": "Call date"},
    {"type": "Container", "rtl": False, "items": [{"type": "Input.Toggle", "id": "urgent", "title": "Urgent"}]},
    actions=[{"type": "Action.Submit", "title": "Convene",
              "data": {"msteams": {"type": "task/submit"}, "nonce": "3f2b"}}],
)

MENTION = card(
    text("Reminder for <at>Dr A. Example</at>: action point 3 is due."),
    {"type": "FactSet", "facts": [{"title": "Owner", "value": "<at>Dr A. Example</at>"}]},
    msteams={"entities": [{"type": "mention", "text": "<at>Dr A. Example</at>",
                           "mentioned": {"id": "8f1c6a2e-2b7e-4a55-9b1a-0f1e2d3c4b5a", "name": "Dr A. Example"}}]},
)

SHOW_CARD = card(text("Action points"), actions=[
    {"type": "Action.ShowCard", "title": "Add an update",
     "card": {"type": "AdaptiveCard", "body": [{"type": "Input.Text", "id": "update", "isMultiline": True}],
              "actions": [execute("add_update", title="Save")]}}])


@pytest.mark.parametrize("valid", [
    pytest.param(BOARD, id="board: table, facts, Action.Execute buttons, refresh for one user, full width"),
    pytest.param(DIALOG, id="dialog: inputs, people picker (choices.data), filtered style, Container rtl"),
    pytest.param(MENTION, id="mention in a TextBlock and a Fact, with its msteams entity"),
    pytest.param(SHOW_CARD, id="Action.ShowCard whose nested card declares no version"),
    pytest.param(card(text("x"), version="1.2"), id="an older declared version with only older features"),
    pytest.param(card({"type": "Image", "url": "https://example.org/chart.png", "altText": "Chart",
                       "msTeams": {"allowExpand": True}}), id="image that opens in Teams' stage view"),
])
def test_cards_teams_shows_are_accepted(valid):
    assert card_problems(valid) == []
    check_card(valid)


REFUSED = [
    pytest.param(card(text("x"), version="1.6"), "/version", "declares version 1.6, but Teams renders",
                 id="a card declaring 1.6"),
    pytest.param(card(text("x"), metadata={"webUrl": "https://example.org"}), "/metadata", "introduced in 1.6",
                 id="a 1.6 property (metadata) under a 1.5 target"),
    pytest.param(card({"type": "Carousel", "pages": []}), "/body/0/type", "not part of Adaptive Cards 1.5",
                 id="a later element (Carousel)"),
    pytest.param(card({"type": "Table", "columns": [], "rows": []}, version="1.4"), "/body/0",
                 "Table needs Adaptive Cards 1.5, but the card declares version 1.4",
                 id="a feature newer than the card's own declared version"),
    pytest.param(card({"type": "Paragraph", "text": "x"}), "/body/0/type", "'Paragraph' is not part of",
                 id="an unknown element"),
    pytest.param(card(execute()), "/body/0/type", "'Action.Execute' is not allowed here",
                 id="an action where an element belongs"),
    pytest.param(card({"type": "Media", "sources": [{"mimeType": "video/mp4", "url": "https://example.org/v"}]}),
                 "/body/0/type", "Teams does not show Media", id="Media, which Teams does not show"),
    pytest.param(card(text("x"), actions=[execute(verb=None)]), "/actions/0", "Action.Execute needs 'verb'",
                 id="an Action.Execute without a verb"),
    pytest.param(card(text("x"), actions=[execute(verb="")]), "/actions/0/verb", "non-empty verb",
                 id="an Action.Execute with an empty verb"),
    pytest.param(card({"type": "TextBlock", "text": 42}), "/body/0/text", "42 is not of type 'string'",
                 id="wrong type: a number for text"),
    pytest.param(card(text("x", wrap="yes")), "/body/0/wrap", "'yes' is not of type 'boolean'",
                 id="wrong type: a string for a boolean"),
    pytest.param(card(text("x", color="purple")), "/body/0/color", "'purple' is not one of",
                 id="a value outside an enumeration"),
    pytest.param(card({"type": "TextBlock"}), "/body/0", "TextBlock needs 'text'", id="a required property missing"),
    pytest.param(card(text("x", bold=True)), "/body/0/bold", "'bold' is not a property of TextBlock",
                 id="an unknown property"),
    pytest.param({"type": "AdaptiveCard", "body": [text("x")]}, "/version", "must declare its version",
                 id="no version at all"),
    pytest.param({**card(text("x")), "type": "HeroCard"}, "/type", "must be 'AdaptiveCard'", id="not an Adaptive Card"),
    pytest.param(card(text("Hi <at>Dr A. Example</at>")), "/body/0/text", "has no mention entity",
                 id="a mention tag without its entity"),
    pytest.param(card(text("Hi"), msteams=MENTION["msteams"]), "/msteams/entities/0/text",
                 "appears in no TextBlock or Fact", id="a mention entity whose tag is nowhere"),
    pytest.param(card(text("x"), msteams={"width": "Wide"}), "/msteams/width", "'Wide' is not one of",
                 id="msteams width other than Full"),
    pytest.param(card({"type": "Input.ChoiceSet", "id": "m", "choices": [], "choices.data": {"type": "Data.Query"}}),
                 "/body/0/choices.data", "Data.Query needs 'dataset'", id="a people picker without a dataset"),
    pytest.param(card(text("x", fallback="nope")), "/body/0/fallback", "'nope' is not one of ['drop']",
                 id="a fallback that is neither an element nor drop"),
]


@pytest.mark.parametrize(("bad", "pointer", "phrase"), REFUSED)
def test_cards_teams_would_not_show_are_refused_at_the_field(bad, pointer, phrase):
    problems = card_problems(bad)
    assert any(p.pointer == pointer and phrase in p.message for p in problems), problems
    for problem in problems:  # readable: says what is wrong, not "not valid under any of the given schemas"
        assert "not valid under any" not in problem.message and len(problem.message) <= 300
    with pytest.raises(CardRefused) as refused:
        check_card(bad)
    assert phrase in str(refused.value)


def test_a_valid_card_with_one_mistake_reports_only_that_mistake():
    broken = copy.deepcopy(BOARD)
    del broken["body"][3]["actions"][1]["verb"]
    assert [str(p) for p in card_problems(broken)] == [
        "/body/3/actions/1: Action.Execute needs 'verb' (the bot routes Action.Execute clicks by their verb)"]


def test_size_is_counted_as_utf16_and_held_to_the_recommended_80_kb():
    assert payload_size({"t": "é"}) == 2 * len('{"t":"é"}')
    assert payload_size({"t": "😀"}) == 2 * len('{"t":"') + 4 + 2 * len('"}')
    base = card(text(""))
    filler = (RECOMMENDED_MESSAGE_SIZE - payload_size(base)) // 2
    at_limit = card(text("x" * filler))
    assert payload_size(at_limit) == RECOMMENDED_MESSAGE_SIZE
    assert card_problems(at_limit) == []
    over = card(text("x" * (filler + 1)))
    assert [p.message for p in card_problems(over)] == [
        f"the card is {RECOMMENDED_MESSAGE_SIZE + 2:,} bytes counted as UTF-16 (as Teams counts), over the "
        f"{RECOMMENDED_MESSAGE_SIZE:,}-byte limit"]


def test_a_target_above_the_vendored_schema_is_a_programming_error():
    with pytest.raises(ValueError, match="no higher than 1.5"):
        card_problems(BOARD, target_version="1.6")
    assert card_problems(BOARD, target_version="1.4")  # a stricter host refuses the 1.5 Table


teams_sdk = pytest.importorskip("microsoft_teams.cards")


@pytest.mark.parametrize("kind", ["Carousel", "Icon", "Badge", "CompoundButton", "Input.Rating", "ProgressBar",
                                  "CodeBlock", "Chart.Pie"])
def test_elements_the_teams_sdk_knows_beyond_1_5_are_refused(kind):
    sdk_types = {getattr(cls, "model_fields", {}).get("type") for cls in vars(teams_sdk.core).values()
                 if isinstance(cls, type)}
    assert any(field is not None and field.default == kind for field in sdk_types), kind  # the SDK has it
    problems = card_problems(card({"type": kind}))
    assert [(p.pointer, "not part of Adaptive Cards 1.5" in p.message) for p in problems] == [("/body/0/type", True)]


def test_a_card_built_with_the_teams_sdk_validates():
    sdk = teams_sdk
    built = sdk.AdaptiveCard(
        version="1.5",
        body=[sdk.TextBlock(text="Case 2026-014", wrap=True),
              sdk.ActionSet(actions=[sdk.ExecuteAction(title="Done", verb="done", data={"point": 3})])],
    ).model_dump(exclude_none=True)
    assert card_problems(built) == []


# --- escaping typed text -------------------------------------------------------------------------------

# The sandbox's markdown-it (default preset) with the linkifier on as well: stricter than either
# the renderer's default or what Teams documents.
MARKDOWN = MarkdownIt("js-default", {"linkify": True}).enable("linkify")

HOSTILE = [
    "**bold** and __strong__", "_italic_ *too*", "[click me](https://evil.example/x)", "![img](https://e.example/i.png)",
    "<at>Dr Jane Smith</at>", "&lt;at&gt;Dr Jane Smith&lt;/at&gt;", "{{DATE(2026-01-01T09:00:00Z, SHORT)}}",
    "${case.reference} and ${$root.secret}", "https://evil.example/path?q=1", "www.nhs.uk", "write to a@nhs.net",
    "mailto:a@nhs.net", "<https://evil.example>", "- a list item", "+ another", "* and another", "1. first",
    "12) twelfth", "# Heading", "> quoted", "`code`", "~~struck~~", "| a | b |\n|---|---|\n| 1 | 2 |",
    "    four spaces of code", "\tand a tab", "a line\n===", "***", "\\*already escaped\\*", "C:\\records\\case",
    "first line\r\nsecond line\rthird", "<b>html</b> <!-- comment -->", "10:30 in room 2.5",
]


def _visible(rendered: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", rendered)).split())


@pytest.mark.parametrize("typed", HOSTILE)
def test_typed_text_shows_as_typed_and_becomes_nothing_else(typed):
    escaped = escape_text(typed)
    rendered = MARKDOWN.render(escaped)
    assert set(re.findall(r"</?([a-z0-9]+)", rendered)) <= {"p"}, rendered  # no link, emphasis, list, code...
    assert _visible(rendered) == " ".join(typed.split())
    for active in ("{{", "${", "<at>", "</at>"):  # date functions, template bindings, mentions
        assert active not in escaped


def test_ordinary_prose_is_left_alone():
    prose = "Dr Patel sent apologies; the chair will call at 10am. Agenda item 2 is deferred."
    assert escape_text(prose) == prose


def test_an_escaped_mention_in_a_card_is_text_not_a_mention():
    typed = "<at>Dr Jane Smith</at>"
    assert card_problems(card(text(typed)))  # unescaped: a mention tag without an entity
    assert card_problems(card(text(escape_text(typed)))) == []


# --- what the sandbox's Bot Connector stand-in answers -------------------------------------------------

def message(*cards: Any) -> dict[str, Any]:
    return {"type": "message", "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": c} for c in cards]}


def test_the_stand_in_accepts_a_message_teams_would_show():
    assert activity_refusal(message(BOARD)) is None
    assert activity_refusal({"type": "message", "text": "plain"}) is None


def test_the_stand_in_refuses_a_bad_card_as_bad_argument_naming_the_field():
    refused = activity_refusal(message(BOARD, card(text("x"), actions=[execute(verb=None)])))
    assert (refused.status, refused.code) == (400, "BadArgument")
    assert refused.details == ("/attachments/1/content/actions/0: Action.Execute needs 'verb' "
                               "(the bot routes Action.Execute clicks by their verb)",)
    assert refused.body()["error"]["code"] == "BadArgument"
    assert "/attachments/1/content/actions/0" in refused.body()["error"]["message"]


def test_the_stand_in_takes_up_to_100_kb_and_answers_413_above():
    between = card(text("x" * ((RECOMMENDED_MESSAGE_SIZE + MESSAGE_SIZE_LIMIT) // 4)))
    assert card_problems(between)  # over our own 80 KB budget...
    assert activity_refusal(message(between)) is None  # ...but Teams would take it
    too_big = message(card(text("x" * (MESSAGE_SIZE_LIMIT // 2))))
    refused = activity_refusal(too_big)
    assert (refused.status, refused.code) == (413, "MessageSizeTooBig")


def test_the_stand_in_checks_cards_in_invoke_answers():
    fine = {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": BOARD}
    assert invoke_response_refusal(fine) is None
    refreshed = {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card(text("x"), version="1.6")}
    assert invoke_response_refusal(refreshed).details == (
        "/value/version: the card declares version 1.6, but Teams renders Adaptive Cards up to 1.5",)
    dialog = {"task": {"type": "continue", "value": {"title": "Convene",
                                                     "card": {"contentType": CARD_CONTENT_TYPE,
                                                              "content": card({"type": "Carousel"})}}}}
    assert invoke_response_refusal(dialog).details[0].startswith("/task/value/card/content/body/0/type: 'Carousel'")
    assert invoke_response_refusal({"task": {"type": "message", "value": "Convening…"}}) is None
