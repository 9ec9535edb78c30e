"""Block Kit builders for modals: one input block per field, block id = action id = field name."""

from __future__ import annotations

import copy
from datetime import date, time
from typing import Any

from handlers.slack.directory import SLACK_USER_ID

Block = dict[str, Any]

# Where each element type the bot's forms use takes its starting value.
INITIAL_KEYS = {"plain_text_input": "initial_value", "static_select": "initial_option",
                "radio_buttons": "initial_option", "users_select": "initial_user", "datepicker": "initial_date",
                "timepicker": "initial_time", "multi_users_select": "initial_users",
                "multi_static_select": "initial_options", "checkboxes": "initial_options"}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": False}


def option(value: str, label: str) -> dict[str, Any]:
    return {"text": plain(label[:75]), "value": value}


def input_block(field: str, label: str, element: dict[str, Any], *, optional: bool = False,
                hint: str | None = None) -> Block:
    block: Block = {"type": "input", "block_id": field, "label": plain(label[:2000]),
                    "element": {**element, "action_id": field}, "optional": optional}
    if hint:
        block["hint"] = plain(hint[:2000])
    return block


def modal(callback_id: str, title: str, blocks: list[Block], *, submit: str | None = "Submit",
          close: str = "Cancel", private_metadata: str = "") -> dict[str, Any]:
    view: dict[str, Any] = {"type": "modal", "callback_id": callback_id, "title": plain(title[:24]),
                            "close": plain(close), "blocks": blocks, "private_metadata": private_metadata}
    if submit:
        view["submit"] = plain(submit)
    return view


def message_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only tells the person something (progress, success)."""
    return modal("notice", title, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}], submit=None,
                 close="Close")


def field_value(values: dict[str, Any], field: str) -> Any:
    """The submitted value of one field from view.state.values, whatever its element type."""
    element = values.get(field, {}).get(field)
    if not element:
        return None
    kind = element.get("type")
    if kind in ("plain_text_input", "number_input", "url_text_input", "email_text_input"):
        return element.get("value")
    if kind in ("static_select", "external_select", "radio_buttons"):
        selected = element.get("selected_option")
        return selected.get("value") if selected else None
    if kind in ("multi_static_select", "checkboxes"):
        return [o["value"] for o in element.get("selected_options") or []]
    if kind == "users_select":
        return element.get("selected_user")
    if kind == "multi_users_select":
        return element.get("selected_users") or []
    if kind == "datepicker":
        return element.get("selected_date")
    if kind == "timepicker":
        return element.get("selected_time")
    return None


def _one_option(element: dict[str, Any], value: Any) -> dict[str, Any] | None:
    return next((o for o in element.get("options", []) if isinstance(value, str) and o.get("value") == value), None)


def _typed(element: dict[str, Any], value: Any) -> Any:
    """A typed value fit for the bot's own `element`, or None: text within its limit, user ids of Slack's
    form, a real date or time, or the element's own options (a value from an edited payload is dropped)."""
    kind = element.get("type")
    if kind == "plain_text_input":
        return value[:int(element.get("max_length") or 3000)] if isinstance(value, str) and value else None
    if kind == "users_select":
        return value if isinstance(value, str) and SLACK_USER_ID.match(value) else None
    if kind == "multi_users_select":
        users = [u for u in value if isinstance(u, str) and SLACK_USER_ID.match(u)] if isinstance(value, list) else []
        limit = int(element.get("max_selected_items") or 100)
        return list(dict.fromkeys(users))[:limit] or None
    if kind == "datepicker":
        try:
            return date.fromisoformat(value).isoformat() if isinstance(value, str) else None
        except ValueError:
            return None
    if kind == "timepicker":
        try:
            return f"{time.fromisoformat(value):%H:%M}" if isinstance(value, str) and len(value) == 5 else None
        except ValueError:
            return None
    if kind in ("multi_static_select", "checkboxes"):
        chosen = {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()
        return [o for o in element.get("options", []) if o.get("value") in chosen] or None
    return _one_option(element, value)


def with_initial_values(blocks: list[Block], values: Any) -> list[Block]:
    """A copy of the bot's `blocks` whose inputs start from what was typed (view.state.values), so nothing
    is lost when the bot rebuilds an open form (views.update). Only values are taken from the payload,
    and only where they fit the bot's own elements; an input whose block is not in `values` (new, or
    renamed on purpose so that Slack shows its new proposal) keeps the bot's own starting value, and one
    the person emptied starts empty."""
    out = copy.deepcopy(blocks)
    if not isinstance(values, dict):
        return out
    for block in out:
        field = block.get("block_id")
        if block.get("type") != "input" or field not in values or not isinstance(values.get(field), dict):
            continue
        element = block["element"]
        key = INITIAL_KEYS.get(element.get("type", ""))
        if key is None:
            continue
        entered = values[field].get(element.get("action_id"))
        if not isinstance(entered, dict) or entered.get("type") != element.get("type"):
            continue  # not what this input sends: keep the bot's own starting value
        try:
            typed = _typed(element, field_value({field: {field: entered}}, field))
        except (AttributeError, TypeError):  # an element of the wrong shape: nothing to carry over
            typed = None
        element.pop(key, None)
        if typed:
            element[key] = typed
    return out
