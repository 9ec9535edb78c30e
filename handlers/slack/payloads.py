"""The shape of Slack's payloads: every field Bolt or a listener reads has the type Slack gives it.

A signed body whose fields have the wrong types (`"user": "x"`, `actions` not a list, a number
where a string belongs) is refused before Bolt runs, so no listener meets it half way (a 500, or
"something went wrong" after part of the work). `problem()` names the field by a fixed path
(`view.state.values[*][*].value`), never by a key or value from the body, so the path can be logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any, str], None]


class _Wrong(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def problem(body: Any) -> str | None:
    """The path of the first field of `body` with the wrong type, or None if its shape is Slack's."""
    try:
        _body(body)
    except _Wrong as wrong:
        return wrong.path
    return None


def kind_of(body: Any) -> str:
    """What the body is, for a log line: one of a fixed set of words."""
    if not isinstance(body, dict):
        return "unknown"
    if "command" in body:
        return "command"
    kind = body.get("type")
    known = ("block_actions", "view_submission", "view_closed", "event_callback", "url_verification")
    return kind if isinstance(kind, str) and kind in known else "other"


# --- the checks -------------------------------------------------------------------------------------------


def _field(obj: dict[str, Any], key: str, check: Check, path: str, *, required: bool = False) -> None:
    """`obj[key]` passes `check`; absent (or null) is fine unless required."""
    value = obj.get(key)
    if value is None:
        if required:
            raise _Wrong(f"{path}{key}")
        return
    check(value, f"{path}{key}")


def _str(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise _Wrong(path)


def _bool(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        raise _Wrong(path)


def _bool_or_str(value: Any, path: str) -> None:
    if not isinstance(value, bool | str):
        raise _Wrong(path)


def _dict(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Wrong(path)
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Wrong(path)
    return value


def _list_of(check: Check) -> Check:
    def each(value: Any, path: str) -> None:
        for item in _list(value, path):
            check(item, f"{path}[*]")

    return each


def _object(*fields: tuple[str, Check], required: tuple[str, ...] = ()) -> Check:
    """A dict whose named fields pass their checks (other keys are Slack's business)."""
    assert set(required) <= {key for key, _ in fields}, "a required field needs its check"

    def check(value: Any, path: str) -> None:
        obj = _dict(value, path)
        prefix = f"{path}." if path else ""
        for key, field_check in fields:
            _field(obj, key, field_check, prefix, required=key in required)

    return check


def _id_or_object(value: Any, path: str) -> None:
    # `team`, `enterprise` and `channel` are an object with an id, or (in some payloads) the id itself.
    if isinstance(value, str):
        return
    _object(("id", _str))(value, path)


_USER = _object(("id", _str), ("team_id", _str), required=("id",))
_OPTION = _object(("value", _str))
_ELEMENT = _object(("type", _str), ("action_id", _str), ("value", _str), ("options", _list_of(_OPTION)),
                   ("initial_option", _OPTION))
_BLOCK = _object(("type", _str), ("block_id", _str), ("element", _ELEMENT), ("elements", _list_of(_ELEMENT)),
                 ("accessory", _ELEMENT))
_BLOCKS = _list_of(_BLOCK)

# One element's state in view.state.values, whatever its type (handlers/slack/modals.py field_value).
_STATE_ELEMENT = _object(
    ("type", _str), ("value", _str), ("selected_option", _OPTION), ("selected_options", _list_of(_OPTION)),
    ("selected_user", _str), ("selected_users", _list_of(_str)), ("selected_date", _str), ("selected_time", _str),
    ("selected_conversation", _str), ("selected_conversations", _list_of(_str)), ("selected_channel", _str),
    ("selected_channels", _list_of(_str)), ("rich_text_value", _dict),
)


def _state_values(value: Any, path: str) -> None:
    for block in _dict(value, path).values():
        for element in _dict(block, f"{path}[*]").values():
            _STATE_ELEMENT(element, f"{path}[*][*]")


_STATE = _object(("values", _state_values), required=("values",))


def _view(*, submitted: bool) -> Check:
    return _object(("id", _str), ("type", _str), ("callback_id", _str), ("private_metadata", _str), ("hash", _str),
                   ("team_id", _str), ("app_installed_team_id", _str), ("root_view_id", _str),
                   ("previous_view_id", _str), ("state", _STATE), ("blocks", _BLOCKS),
                   required=("id", "callback_id", "state") if submitted else ())


_ACTION = _object(("action_id", _str), ("block_id", _str), ("type", _str), ("value", _str), ("action_ts", _str),
                  ("selected_option", _OPTION), ("selected_user", _str), ("selected_date", _str),
                  required=("action_id",))
_CONTAINER = _object(("type", _str), ("channel_id", _str), ("message_ts", _str), ("view_id", _str),
                     ("is_ephemeral", _bool))
_MESSAGE = _object(("ts", _str), ("text", _str), ("thread_ts", _str), ("user", _str), ("blocks", _BLOCKS))
_RESPONSE_URL = _object(("response_url", _str), ("channel_id", _str), ("block_id", _str), ("action_id", _str))
_AUTHORIZATION = _object(("team_id", _str), ("enterprise_id", _str), ("user_id", _str),
                         ("is_enterprise_install", _bool_or_str))

# What Bolt reads from every body to build its context (slack_bolt/request/internals.py).
_COMMON: tuple[tuple[str, Check], ...] = (
    ("type", _str), ("token", _str), ("team", _id_or_object), ("enterprise", _id_or_object), ("user", _id_or_object),
    ("channel", _id_or_object), ("authorizations", _list_of(_AUTHORIZATION)), ("is_enterprise_install", _bool_or_str),
    ("response_url", _str), ("response_urls", _list_of(_RESPONSE_URL)), ("trigger_id", _str), ("api_app_id", _str),
    ("team_id", _str), ("enterprise_id", _str), ("user_id", _str), ("channel_id", _str), ("thread_ts", _str),
    ("message", _MESSAGE), ("container", _CONTAINER),
)

_COMMAND = _object(("command", _str), ("text", _str), ("trigger_id", _str), ("user_id", _str),
                   ("channel_id", _str), ("team_domain", _str), ("user_name", _str),
                   required=("command", "user_id", "trigger_id"))
_BLOCK_ACTIONS = _object(("user", _USER), ("actions", _list_of(_ACTION)), ("view", _view(submitted=False)),
                         ("trigger_id", _str), ("channel", _object(("id", _str))),
                         required=("user", "actions", "trigger_id"))
_VIEW_SUBMISSION = _object(("user", _USER), ("view", _view(submitted=True)), required=("user", "view"))
_VIEW_CLOSED = _object(("user", _USER), ("view", _view(submitted=False)), required=("user", "view"))
_EVENT = _object(("type", _str), ("user", _id_or_object), ("tab", _str), ("channel", _id_or_object),
                 ("event_ts", _str), required=("type",))
_APP_HOME_OPENED = _object(("user", _str), required=("user",))
_EVENT_CALLBACK = _object(("event", _EVENT), ("event_id", _str), required=("event",))
_URL_VERIFICATION = _object(("challenge", _str), required=("challenge",))

_BY_TYPE: dict[str, Check] = {"block_actions": _BLOCK_ACTIONS, "view_submission": _VIEW_SUBMISSION,
                              "view_closed": _VIEW_CLOSED, "event_callback": _EVENT_CALLBACK,
                              "url_verification": _URL_VERIFICATION}


def _body(body: Any) -> None:
    obj = _dict(body, "(body)")
    if not obj:
        return  # Bolt answers an empty body itself
    _object(*_COMMON)(obj, "")
    if "command" in obj:
        _COMMAND(obj, "")
        return
    kind = obj.get("type")
    check = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if check is not None:
        check(obj, "")
    if kind == "block_actions" and not obj["actions"]:
        raise _Wrong("actions")
    if kind == "event_callback" and obj["event"].get("type") == "app_home_opened":
        _APP_HOME_OPENED(obj["event"], "event")
