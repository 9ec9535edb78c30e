"""Block Kit builders for modals: one input block per field, block id = action id = field name."""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]


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
