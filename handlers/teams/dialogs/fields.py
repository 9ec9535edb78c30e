"""The pieces every Teams dialog is made of: a card with its inputs, field errors under them, a reader of the
submitted data, and the dialog response envelopes.

A dialog (task module) is an Adaptive Card 1.5 whose inputs have the ids Slack's blocks have (the domain's
field names), so an InvalidInput's `fields` map straight onto the card, as they do onto Slack's blocks.
Teams has no field errors of its own: the card is built again with what was typed and an attention-coloured
TextBlock directly under each bad field. Inputs are never `isRequired`: Teams would then refuse to send an
in-dialog button ("Add another action point") until every required field is filled, and the rules are
the domain's, checked on the server.

What Teams sends back on `task/submit` is the Action.Submit's `data` with each input's value merged in by
input id: text as a string, a multi-select as one comma-separated string, a date as `YYYY-MM-DD`, a time as
`HH:MM`, a people picker as Entra object ids. A client can send anything instead, so `Reader` checks every
value's type and shape and turns anything else into an error at that field, never an exception. Keys that
are not the form's fields are not read, and never reach a card built again.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any, Generic, TypeVar

from bot.domain.people import MANY, ONE, Standing
from handlers.teams.cards import CARD_CONTENT_TYPE, TEAMS_CARD_VERSION, escape_text

T = TypeVar("T")
Element = dict[str, Any]

# Where an error about the form as a whole shows (above its first field): rows it never had, a broken
# value that belongs to no field.
FORM_FIELD = "form"
# Graph's people picker (Teams' "typeahead search"): the organisation's directory, by Entra object id.
USERS_DATASET = "graph.microsoft.com/users"
ENTRA_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIME = re.compile(r"^[0-9]{2}:[0-9]{2}(:[0-9]{2})?$")
_NUMBER = re.compile(r"^[0-9]{1,4}$")  # ASCII digits only: int() would take any script's

NOT_SENT_AS_TEXT = "This came back in a form the bot did not send. Fill it in again."
NOT_AN_OPTION = "Choose one of the options."
NOT_A_DATE = "Choose a date with the date picker."
NOT_A_TIME = "Choose a time with the time picker."
ONE_PERSON = "Choose one person."
YES_NO_FLAG = ("yes", "no")  # an Input.Toggle's valueOn / valueOff


# --- response envelopes -----------------------------------------------------------------------------------


def dialog_continue(title: str, card: Mapping[str, Any], *, width: str | int | None = None,
                    height: str | int | None = None) -> dict[str, Any]:
    """The answer to `task/fetch` or `task/submit` that shows `card` in the dialog (opening it, or building
    it again with errors). `width` / `height`: "small", "medium", "large" or pixels; Teams sizes it if omitted."""
    value: dict[str, Any] = {"title": title, "card": {"contentType": CARD_CONTENT_TYPE, "content": dict(card)}}
    if width is not None:
        value["width"] = width
    if height is not None:
        value["height"] = height
    return {"task": {"type": "continue", "value": value}}


def dialog_message(text: str) -> dict[str, Any]:
    """The answer to `task/submit` that closes the dialog and shows `text` (plain text, not a card)."""
    return {"task": {"type": "message", "value": text}}


# --- building -------------------------------------------------------------------------------------------


def submit_data(action: str, nonce: str, **extra: str) -> dict[str, str]:
    """An Action.Submit's data: `action` routes it (the SDK's on_dialog_submit), `nonce` names the form record."""
    return {"action": action, "nonce": nonce, **extra}


def adaptive_card(body: list[Element], *, submit_title: str, action: str, nonce: str,
                  **extra: str) -> dict[str, Any]:
    """A dialog card: `body`, and one Action.Submit sending {"action": action, "nonce": nonce, **extra}."""
    return {"type": "AdaptiveCard", "version": TEAMS_CARD_VERSION, "body": body,
            "actions": [{"type": "Action.Submit", "title": submit_title, "data": submit_data(action, nonce, **extra)}]}


def text_value(values: Mapping[str, Any], name: str, initial: str = "") -> str:
    """What a text input starts from: what was sent for it if that is text, else `initial` when nothing was."""
    if name in values:
        sent = values[name]
        return sent if isinstance(sent, str) else ""
    return initial


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


class CardForm:
    """The body of a dialog card built field by field. Each input takes what was typed (`values`, the last
    submission) when there is some, else its starting value; each is followed by its error (from `errors`,
    keyed by field id) and then its hint, as Slack shows them."""

    def __init__(self, values: Mapping[str, Any] | None, errors: Mapping[str, str] | None) -> None:
        self.values: Mapping[str, Any] = values if isinstance(values, Mapping) else {}
        self.errors: Mapping[str, str] = errors if isinstance(errors, Mapping) else {}
        self.body: list[Element] = []
        self.shown: list[str] = []  # the fields in the card, in order
        if self.errors.get(FORM_FIELD):
            self.body.append(error_block(str(self.errors[FORM_FIELD])))

    # Text the bot writes (its wording, references, configured labels). Typed text goes through escape_text.
    def note(self, text: str, *, subtle: bool = False) -> None:
        block: Element = {"type": "TextBlock", "text": text, "wrap": True}
        if subtle:
            block |= {"isSubtle": True, "size": "Small"}
        self.body.append(block)

    def heading(self, text: str) -> None:
        self.body.append({"type": "TextBlock", "text": text, "wrap": True, "weight": "Bolder", "size": "Medium",
                          "separator": True, "spacing": "Large"})

    def warning(self, text: str) -> None:
        self.body.append({"type": "TextBlock", "text": text, "wrap": True, "color": "Warning", "weight": "Bolder"})

    def _add(self, name: str, element: Element, hint: str | None) -> None:
        self.body.append(element)
        self.shown.append(name)
        message = self.errors.get(name)
        if message:
            self.body.append(error_block(str(message)))
        if hint:
            self.note(hint, subtle=True)

    @staticmethod
    def _label(label: str, optional: bool) -> str:
        return f"{label} (optional)" if optional else label

    def text(self, name: str, label: str, *, limit: int, multiline: bool = False, optional: bool = False,
             hint: str | None = None, placeholder: str | None = None, initial: str = "") -> None:
        element: Element = {"type": "Input.Text", "id": name, "label": self._label(label, optional),
                            "maxLength": limit, "isMultiline": multiline}
        if placeholder:
            element["placeholder"] = placeholder
        value = text_value(self.values, name, initial)
        if value:
            element["value"] = value  # an input's value is plain text: shown as typed, nothing to escape
        self._add(name, element, hint)

    def _chosen(self, name: str, allowed: Collection[str], initial: Sequence[str]) -> list[str]:
        sent = self.values.get(name) if name in self.values else ",".join(initial)
        return [v for v in _split(sent) if v in allowed] if isinstance(sent, str) else []

    def choice(self, name: str, label: str, options: Sequence[tuple[str, str]], *, expanded: bool = False,
               optional: bool = False, hint: str | None = None, initial: str | None = None,
               multi: bool = False) -> None:
        """A select (`expanded`: radio buttons or, with `multi`, checkboxes) of (value, title) options."""
        element: Element = {"type": "Input.ChoiceSet", "id": name, "label": self._label(label, optional),
                            "style": "expanded" if expanded else "compact", "isMultiSelect": multi,
                            "choices": [{"title": title, "value": value} for value, title in options]}
        if not expanded:
            element["placeholder"] = "Choose"
        chosen = self._chosen(name, {v for v, _ in options}, [initial] if initial else [])
        if chosen:
            element["value"] = ",".join(chosen if multi else chosen[:1])
        self._add(name, element, hint)

    def people(self, name: str, label: str, *, multi: bool = False, optional: bool = False, hint: str | None = None,
               initial: Sequence[str] = (), names: Mapping[str, str] | None = None,
               placeholder: str = "Choose a person") -> None:
        """A people picker over the organisation's directory. People already chosen are listed as static
        choices, with their display name from `names` (the directory, in memory), so Teams shows who they are."""
        sent = self.values.get(name) if name in self.values else ",".join(initial)
        chosen = [v.lower() for v in _split(sent) if ENTRA_ID.match(v)] if isinstance(sent, str) else []
        chosen = list(dict.fromkeys(chosen)) if multi else chosen[:1]
        known = names or {}
        element: Element = {"type": "Input.ChoiceSet", "id": name, "label": self._label(label, optional),
                            "isMultiSelect": multi, "placeholder": placeholder,
                            "choices": [{"title": known[u], "value": u} for u in chosen if known.get(u)],
                            "choices.data": {"type": "Data.Query", "dataset": USERS_DATASET}}
        if chosen:
            element["value"] = ",".join(chosen)
        self._add(name, element, hint)

    def date(self, name: str, label: str, *, optional: bool = False, hint: str | None = None,
             initial: date | None = None) -> None:
        element: Element = {"type": "Input.Date", "id": name, "label": self._label(label, optional)}
        sent = self.values.get(name) if name in self.values else (initial.isoformat() if initial else "")
        if isinstance(sent, str) and _parse_date(sent) is not None:
            element["value"] = sent
        self._add(name, element, hint)

    def time(self, name: str, label: str, *, optional: bool = False, hint: str | None = None,
             initial: time | None = None) -> None:
        element: Element = {"type": "Input.Time", "id": name, "label": self._label(label, optional)}
        sent = self.values.get(name) if name in self.values else (f"{initial:%H:%M}" if initial else "")
        parsed = _parse_time(sent) if isinstance(sent, str) else None
        if parsed is not None:
            element["value"] = f"{parsed:%H:%M}"
        self._add(name, element, hint)

    def toggle(self, name: str, label: str, title: str, *, hint: str | None = None) -> None:
        """A tick box (Slack's one checkbox): sends "yes" when ticked, "no" when not."""
        on, off = YES_NO_FLAG
        element: Element = {"type": "Input.Toggle", "id": name, "label": self._label(label, True), "title": title,
                            "valueOn": on, "valueOff": off, "value": on if self.values.get(name) == on else off}
        self._add(name, element, hint)

    def button(self, title: str, action: str, nonce: str, **extra: str) -> None:
        """A button inside the form that sends it (with everything typed) without submitting it."""
        self.body.append({"type": "ActionSet", "actions": [
            {"type": "Action.Submit", "title": title, "data": submit_data(action, nonce, **extra)}]})


def error_block(message: str) -> Element:
    """A field's error, directly under it. The domain's sentence may quote what was typed: escaped."""
    return {"type": "TextBlock", "text": escape_text(message), "wrap": True, "color": "Attention", "spacing": "Small"}


# --- reading --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading(Generic[T]):
    """What a submission holds, as the Slack listener builds it for the domain (`value`), and the fields whose
    value came back in a shape the card never sends (`errors`, field id -> sentence). A field with an error is
    read as empty in `value`. A listener answers errors by building the dialog again with them (the domain's
    errors may be added: `{**domain_errors, **reading.errors}`) rather than calling the domain."""

    value: T
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if _DATE.match(raw) else None
    except ValueError:
        return None


def _parse_time(raw: str) -> time | None:
    try:
        return time.fromisoformat(raw).replace(second=0, microsecond=0) if _TIME.match(raw) else None
    except ValueError:
        return None


class Reader:
    """Reads one submission's fields, each by the type its input sends; collects an error per bad field."""

    def __init__(self, data: Any) -> None:
        self.data: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        self.errors: dict[str, str] = {}
        if not isinstance(data, Mapping):
            self.errors[FORM_FIELD] = NOT_SENT_AS_TEXT

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raw(self, name: str) -> str | None:
        """The field's text, or None when it is missing or empty; anything but a string is an error."""
        sent = self.data.get(name)
        if sent is None:
            return None
        if not isinstance(sent, str):
            self.fail(name, NOT_SENT_AS_TEXT)
            return None
        return sent if sent.strip() else None

    def text(self, name: str) -> str:
        """Typed text as sent (the domain trims and checks it); "" when empty."""
        return self.raw(name) or ""

    def choice(self, name: str, allowed: Iterable[str]) -> str | None:
        raw = self.raw(name)
        if raw is None:
            return None
        if raw not in set(allowed):
            self.fail(name, NOT_AN_OPTION)
            return None
        return raw

    def choices(self, name: str, allowed: Iterable[str]) -> list[str]:
        raw = self.raw(name)
        if raw is None:
            return []
        picked = list(dict.fromkeys(_split(raw)))
        if any(v not in set(allowed) for v in picked):
            self.fail(name, NOT_AN_OPTION)
            return []
        return picked

    def person(self, name: str) -> str | None:
        """One Entra object id (lower case, as Graph and the activities give it)."""
        raw = self.raw(name)
        if raw is None:
            return None
        parts = _split(raw)
        if len(parts) > 1:
            self.fail(name, ONE_PERSON)
            return None
        if not parts or not ENTRA_ID.match(parts[0]):
            self.fail(name, ONE[Standing.MALFORMED])
            return None
        return parts[0].lower()

    def people(self, name: str, most: int, too_many: str) -> tuple[str, ...]:
        """Entra object ids, each once; at most `most` (the picker has no limit of its own: Teams')."""
        raw = self.raw(name)
        if raw is None:
            return ()
        parts = _split(raw)
        if any(not ENTRA_ID.match(p) for p in parts):
            self.fail(name, MANY[Standing.MALFORMED])
            return ()
        chosen = tuple(dict.fromkeys(p.lower() for p in parts))
        if len(chosen) > most:
            self.fail(name, too_many)
            return ()
        return chosen

    def date(self, name: str) -> date | None:
        raw = self.raw(name)
        if raw is None:
            return None
        parsed = _parse_date(raw.strip())
        if parsed is None:
            self.fail(name, NOT_A_DATE)
        return parsed

    def time(self, name: str) -> time | None:
        raw = self.raw(name)
        if raw is None:
            return None
        parsed = _parse_time(raw.strip())
        if parsed is None:
            self.fail(name, NOT_A_TIME)
        return parsed

    def number(self, name: str, allowed: Collection[int] | None = None) -> int | None:
        raw = self.raw(name)
        if raw is None:
            return None
        if not _NUMBER.match(raw) or (allowed is not None and int(raw) not in allowed):
            self.fail(name, NOT_AN_OPTION)
            return None
        return int(raw)

    def flag(self, name: str) -> bool:
        raw = self.raw(name)
        if raw is None or raw == YES_NO_FLAG[1]:
            return False
        if raw != YES_NO_FLAG[0]:
            self.fail(name, NOT_AN_OPTION)
            return False
        return True

    def reading(self, value: T) -> Reading[T]:
        return Reading(value, dict(self.errors))
