"""Adaptive Cards as Teams takes them from a bot: schema 1.5 with Teams' own additions, its size limit, safe text.

What is checked, and where each rule comes from (Microsoft Learn pages, read in stored copies in 2026;
handlers/teams/schemas/README.md has the detail and the vendored files' provenance):

- The card validates against Microsoft's published Adaptive Cards 1.5 JSON schema, vendored unchanged.
  Teams renders cards up to 1.5 ("Teams is also limited to version 1.5": Copilot Studio, "Adaptive
  Cards overview"), and Universal Actions want the card's version set to 1.5 (Teams, "Work with
  Universal Actions for Adaptive Cards"). A card declaring a higher version, or using an element or
  property the 1.5 schema does not have (Carousel, Icon, `metadata`, ...), is refused; so is a
  feature newer than the version the card itself declares (the schema's per-feature `version`).
- Teams' documented additions are allowed on top of the schema (`_teams_schema`): `msteams.width`
  and `msteams.entities` mentions on the card, `msTeams.allowExpand` on images ("Format cards in
  Microsoft Teams"), `choices.data` (Data.Query) and the `filtered` style on Input.ChoiceSet
  ("Typeahead search in Adaptive Cards").
- Media elements are refused: "Media elements are currently not supported in Adaptive Cards on Teams
  platform" ("Format cards in Microsoft Teams").
- Every `msteams` mention entity's `<at>…</at>` text must appear in a TextBlock or Fact, and every
  `<at>` tag there needs an entity: mentions live only in TextBlock and FactSet text, with the entity
  in `msteams.entities` ("Format cards in Microsoft Teams", "Mention support within Adaptive Cards").
- Size: a bot message may be about 100 KB, counted as UTF-16 without base64 images; Microsoft
  recommends keeping it within 80 KB, and an oversized one is answered 413 `MessageSizeTooBig`
  ("Format your bot messages"; "Status codes from bot conversational APIs"). The 28 KB figure often
  quoted is the incoming-webhook / Workflows limit ("Create an Incoming Webhook"), not the bot's.
  Our own cards are held to the 80 KB recommendation; the sandbox refuses above 100 KB.
- Our rule, not Teams': every Action.Execute carries a non-empty `verb`, because the front end routes
  `adaptiveCard/action` invokes by verb (the schema leaves `verb` optional).

Typed text goes into TextBlock and Fact text through `escape_text`, so that it shows as typed and
cannot become formatting, a link, a mention, a `{{DATE()}}` function or a `${...}` template binding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match, by_relevance

SCHEMA_DIR = Path(__file__).resolve().with_name("schemas")
CARD_SCHEMA_PATH = SCHEMA_DIR / "adaptive-card-1.5.schema.json"

# The highest Adaptive Cards version Teams renders, and the one the vendored schema describes.
TEAMS_CARD_VERSION = "1.5"
# Bot messages: about 100 KB counted as UTF-16; keep within 80 KB to be sure of delivery.
MESSAGE_SIZE_LIMIT = 100 * 1024
RECOMMENDED_MESSAGE_SIZE = 80 * 1024
# Incoming webhooks and Workflows only (not bots): kept to explain the figure, used by nothing here.
WEBHOOK_MESSAGE_SIZE_LIMIT = 28 * 1024

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

# Elements the 1.5 schema has but Teams does not show.
TEAMS_UNSUPPORTED = {"Media": "Teams does not show Media elements in Adaptive Cards"}
# Properties newer than 1.5 whose version Microsoft's schema explorer states (AdaptiveCard page).
LATER_PROPERTIES = {("AdaptiveCard", "metadata"): "1.6"}

_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_AT_TAG = re.compile(r"<at>.*?</at>", re.DOTALL)
_REQUIRED = re.compile(r"^'(.+)' is a required property$")
# Which of several failed alternatives to report: "not an object" from the element list is the weakest.
_RELEVANCE = by_relevance(weak=frozenset({"anyOf", "oneOf", "by_type"}))


@dataclass(frozen=True)
class CardProblem:
    """One reason a card would be refused: a JSON pointer into the card and a sentence."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class CardRefused(ValueError):
    """A card that Teams would not show as intended; `problems` says where and why."""

    def __init__(self, problems: Sequence[CardProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(map(str, self.problems)))


def parse_version(text: Any) -> tuple[int, int] | None:
    match = _VERSION.match(text) if isinstance(text, str) else None
    return (int(match[1]), int(match[2])) if match else None


def payload_size(payload: Any) -> int:
    """Bytes of the payload's compact JSON encoded as UTF-16, the way Teams counts a message."""
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


@cache
def _teams_schema() -> dict[str, Any]:
    """The vendored 1.5 schema plus Teams' documented additions, two repairs and our verb rule."""
    schema = json.loads(CARD_SCHEMA_PATH.read_text(encoding="utf-8"))
    defs = schema["definitions"]
    # The published 1.5 schema spells Container's and TableCell's `rtl` as "rtl?" (a generator slip;
    # the schema explorer documents `rtl`), which would refuse a valid card.
    for name in ("Container", "TableCell"):
        props = defs[name]["properties"]
        if "rtl?" in props:
            props["rtl"] = props.pop("rtl?")
    defs["Teams.Mention"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "text", "mentioned"],
        "properties": {
            "type": {"enum": ["mention"]},
            "text": {"type": "string", "pattern": "^<at>.+</at>$"},
            "mentioned": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name"],
                "properties": {"id": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1}},
            },
        },
    }
    defs["AdaptiveCard"]["properties"]["msteams"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "width": {"enum": ["Full"]},
            "entities": {"type": "array", "items": {"$ref": "#/definitions/Teams.Mention"}},
        },
    }
    defs["Image"]["properties"]["msTeams"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"allowExpand": {"type": "boolean"}},
    }
    defs["Teams.DataQuery"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "dataset"],
        "properties": {
            "type": {"enum": ["Data.Query"]},
            "dataset": {"type": "string", "minLength": 1},
            "value": {"type": "string"},
            "count": {"type": "number"},
            "skip": {"type": "number"},
            "associatedInputs": {"enum": ["auto", "none"]},
        },
    }
    defs["Input.ChoiceSet"]["properties"]["choices.data"] = {"$ref": "#/definitions/Teams.DataQuery"}
    defs["ChoiceInputStyle"]["anyOf"].append({"pattern": "^[fF][iI][lL][tT][eE][rR][eE][dD]$"})
    execute = defs["Action.Execute"]
    execute["required"] = [*execute.get("required", []), "verb"]
    execute["properties"]["verb"] = {**execute["properties"]["verb"], "minLength": 1}
    # The element and action lists are a 15-way anyOf tried at every node; dispatch on `type` instead
    # (the `by_type` keyword in `_validator`): linear time, and errors from the one element named.
    for name in ("ImplementationsOf.Element", "ImplementationsOf.Action", "ImplementationsOf.ISelectAction"):
        targets = [ref for branch in defs[name]["anyOf"] for ref in _refs(branch)]
        defs[name] = {"by_type": {defs[t]["properties"]["type"]["enum"][0]: f"#/definitions/{t}"
                                  for t in targets if t not in TEAMS_UNSUPPORTED}}
    return schema


def _refs(branch: Mapping[str, Any]) -> list[str]:
    refs = [branch.get("$ref")] + [a.get("$ref") for a in branch.get("allOf", []) if isinstance(a, Mapping)]
    return [ref.rsplit("/", 1)[-1] for ref in refs if isinstance(ref, str)]


@cache
def _known_types() -> frozenset[str]:
    defs = _teams_schema()["definitions"]
    return frozenset(t for d in defs.values() for t in d.get("properties", {}).get("type", {}).get("enum", []))


def _accepted_types(branch: Mapping[str, Any]) -> frozenset[str]:
    """The `type` values an anyOf branch accepts: one element's, or a whole ImplementationsOf.* list."""
    defs = _teams_schema()["definitions"]
    names: set[str] = set()
    for name in _refs(branch):
        definition = defs.get(name, {})
        enum = definition.get("properties", {}).get("type", {}).get("enum")
        if enum:
            names.update(enum)
        names.update(definition.get("by_type", {}))
        for sub in definition.get("anyOf", []) if name.startswith("ImplementationsOf.") else []:
            names |= _accepted_types(sub)
    return frozenset(names)


@cache
def _validator(declared: tuple[int, int]) -> Any:
    """A draft-06 validator that also reads the schema's per-feature `version` against the card's."""

    def version(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        needed = parse_version(value)
        if needed and needed > declared:
            kind = schema.get("properties", {}).get("type", {}).get("enum", [None])[0]
            subject = kind or "this property"
            yield ValidationError(f"{subject} needs Adaptive Cards {value}, but the card declares version "
                                  f"{declared[0]}.{declared[1]}")

    def by_type(validator: Any, targets: Mapping[str, str], instance: Any,
                schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if not isinstance(instance, Mapping):
            yield ValidationError(f"{instance!r} is not an object", validator="by_type")
        elif "type" not in instance:
            yield ValidationError("'type' is a required property", validator="required")
        elif instance["type"] not in targets:
            yield ValidationError(_unknown_type(instance["type"], frozenset(targets)), path=["type"])
        else:
            # The definition itself rather than a {"$ref"}: same result, without a lookup per element.
            yield from validator.descend(instance, definitions[targets[instance["type"]].rsplit("/", 1)[-1]])

    definitions = _teams_schema()["definitions"]
    cls = jsonschema.validators.extend(jsonschema.Draft6Validator, {"version": version, "by_type": by_type})
    return cls(_teams_schema())


def _pointer(path: Sequence[Any]) -> str:
    return "".join(f"/{part}" for part in path)


def _kind(schema: Mapping[str, Any], instance: Any) -> str:
    enum = schema.get("properties", {}).get("type", {}).get("enum")
    if enum:
        return str(enum[0])
    return str(instance.get("type")) if isinstance(instance, Mapping) and instance.get("type") else "this object"


def _explain(error: ValidationError) -> list[CardProblem]:
    """Readable problems for one schema error: into the branch the element's `type` names, not all 16."""
    where = _pointer(error.absolute_path)
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches = [_accepted_types(b) for b in error.validator_value]
        kind = error.instance.get("type") if isinstance(error.instance, Mapping) else None
        if isinstance(kind, str) and any(branches):
            for index, accepted in enumerate(branches):
                if kind in accepted:
                    inner = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == index]
                    return [p for e in inner for p in _explain(e)] or [CardProblem(where, error.message)]
            return [CardProblem(f"{where}/type", _unknown_type(kind, frozenset().union(*branches)))]
        # An optional value is `anyOf: [<its type>, {"type": "null"}]`: for a non-null value the null
        # branch's complaint says nothing useful.
        relevant = [e for e in error.context if error.instance is None or not _is_null_branch(error, e)]
        relevant = [e for e in relevant if e.validator != "by_type"] or relevant
        return _explain(best_match(relevant or error.context, key=_RELEVANCE))
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        kind = _kind(error.schema, error.instance)
        extras = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return [CardProblem(f"{where}/{name}", _unknown_property(kind, name)) for name in extras]
    if error.validator == "required" and (match := _REQUIRED.match(error.message)):
        name = match[1]
        kind = _kind(error.schema, error.instance)
        routed = (kind, name) == ("Action.Execute", "verb")
        why = " (the bot routes Action.Execute clicks by their verb)" if routed else ""
        return [CardProblem(where, f"{kind} needs '{name}'{why}")]
    if error.validator == "minLength" and where.endswith("/verb"):
        return [CardProblem(where, "Action.Execute needs a non-empty verb (the bot routes clicks by their verb)")]
    return [CardProblem(where, brief_message(error))]


def brief_message(error: ValidationError) -> str:
    """jsonschema's sentence, without quoting a whole long value back (it repeats the instance)."""
    value, limit = error.instance, error.validator_value
    sized = isinstance(value, (str, list)) and not isinstance(limit, bool)
    unit = "characters" if isinstance(value, str) else "items"
    if sized and error.validator in ("maxLength", "maxItems"):
        return f"is too long: {len(value)} {unit}, at most {limit}"
    if sized and error.validator in ("minLength", "minItems"):
        return f"is too short: {len(value)} {unit}, at least {limit}"
    if len(error.message) <= 300:
        return error.message
    shown = repr(value)
    return error.message.replace(shown, shown[:60] + "…") if shown in error.message else error.message[:297] + "..."


def _is_null_branch(error: ValidationError, inner: ValidationError) -> bool:
    index = inner.relative_schema_path[0] if inner.relative_schema_path else None
    return isinstance(index, int) and error.validator_value[index] == {"type": "null"}


def _outermost(problems: list[CardProblem]) -> list[CardProblem]:
    """Drop 'needs version' problems inside an element already reported as needing that version."""
    needs = [p.pointer for p in problems if " needs Adaptive Cards " in p.message]
    return [p for p in problems
            if not (" needs Adaptive Cards " in p.message and any(p.pointer.startswith(n + "/") for n in needs))]


def _unknown_type(kind: str, allowed: frozenset[str]) -> str:
    if kind in TEAMS_UNSUPPORTED:
        return TEAMS_UNSUPPORTED[kind]
    if kind in _known_types():
        return f"'{kind}' is not allowed here (expected one of: {', '.join(sorted(allowed))})"
    return (f"'{kind}' is not part of Adaptive Cards {TEAMS_CARD_VERSION}, the version Teams renders "
            f"(expected one of: {', '.join(sorted(allowed))})")


def _unknown_property(kind: str, name: str) -> str:
    later = LATER_PROPERTIES.get((kind, name))
    since = f" (it was introduced in {later})" if later else ""
    return f"'{name}' is not a property of {kind} in Adaptive Cards {TEAMS_CARD_VERSION}{since}"


def _markdown_texts(node: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(pointer, text) of every TextBlock text and Fact title/value: where Teams reads Markdown and mentions."""
    if isinstance(node, Mapping):
        if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
            yield f"{pointer}/text", node["text"]
        if node.get("type") == "FactSet" and isinstance(node.get("facts"), list):
            for i, fact in enumerate(node["facts"]):
                for key in ("title", "value"):
                    if isinstance(fact, Mapping) and isinstance(fact.get(key), str):
                        yield f"{pointer}/facts/{i}/{key}", fact[key]
        for key, value in node.items():
            if key not in ("msteams", "data"):
                yield from _markdown_texts(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _markdown_texts(value, f"{pointer}/{i}")


def _mention_problems(card: Mapping[str, Any]) -> list[CardProblem]:
    msteams = card.get("msteams")
    entities = msteams.get("entities") if isinstance(msteams, Mapping) else None
    entities = entities if isinstance(entities, list) else []
    texts = list(_markdown_texts(card))
    declared = {e.get("text") for e in entities if isinstance(e, Mapping) and e.get("type") == "mention"}
    problems = []
    for i, entity in enumerate(entities):
        tag = entity.get("text") if isinstance(entity, Mapping) else None
        if isinstance(tag, str) and not any(tag in text for _, text in texts):
            problems.append(CardProblem(f"/msteams/entities/{i}/text", "this mention appears in no TextBlock or "
                                                                     "Fact text, so Teams would not show it"))
    for pointer, text in texts:
        if any(tag not in declared for tag in _AT_TAG.findall(text)):
            problems.append(CardProblem(pointer, "an <at>…</at> tag here has no mention entity in msteams.entities, "
                                                 "so Teams would show it as plain text and notify nobody"))
    return problems


def card_problems(card: Any, *, target_version: str = TEAMS_CARD_VERSION,
                  size_limit: int = RECOMMENDED_MESSAGE_SIZE) -> list[CardProblem]:
    """Every reason Teams would refuse or mis-show this Adaptive Card (an empty list: it is fine).

    `target_version` may be lower than 1.5 (a stricter host), never higher: only 1.5 is vendored.
    """
    target = parse_version(target_version)
    if target is None or target > parse_version(TEAMS_CARD_VERSION):  # type: ignore[operator]
        raise ValueError(f"target_version must be a version no higher than {TEAMS_CARD_VERSION}")
    if not isinstance(card, Mapping):
        return [CardProblem("", "an Adaptive Card must be a JSON object")]
    problems: list[CardProblem] = []
    if card.get("type") != "AdaptiveCard":
        problems.append(CardProblem("/type", "the card's type must be 'AdaptiveCard'"))
    declared_text = card.get("version")
    declared = parse_version(declared_text)
    if declared_text is None:
        problems.append(CardProblem("/version", f"the card must declare its version (Teams renders up to "
                                                f"{TEAMS_CARD_VERSION})"))
    elif declared is None:
        problems.append(CardProblem("/version", f"{declared_text!r} is not a version such as '{TEAMS_CARD_VERSION}'"))
    elif declared > target:
        problems.append(CardProblem("/version", f"the card declares version {declared_text}, but Teams renders "
                                                f"Adaptive Cards up to {target_version}"))
    effective = min(declared or target, target)
    errors = sorted(_validator(effective).iter_errors(card), key=lambda e: _pointer(e.absolute_path))
    for error in errors:
        problems.extend(_explain(error))
    problems.extend(_mention_problems(card))
    size = payload_size(card)
    if size > size_limit:
        problems.append(CardProblem("", f"the card is {size:,} bytes counted as UTF-16 (as Teams counts), over the "
                                        f"{size_limit:,}-byte limit"))
    return _outermost(list(dict.fromkeys(problems)))


def check_card(card: Any, **limits: Any) -> None:
    """Raise CardRefused with every problem if Teams would refuse or mis-show the card."""
    if problems := card_problems(card, **limits):
        raise CardRefused(problems)


# Characters escaped wherever they appear. `\` first so the escapes added are not doubled; `*` and `_`
# (emphasis), `` ` `` (code), `[` `]` (links, images), `<` `>` (mentions `<at>`, autolinks, HTML,
# block quotes), `&` (entities such as `&lt;at&gt;`), `{` `}` (`{{DATE(...)}}` functions and `${...}`
# template bindings), `|` and `~` (tables and strikethrough, on in markdown-it's default preset).
_ALWAYS = frozenset("\\*_`[]<>&{}|~")
_LINE_START = frozenset("#+-=")  # headings, list items, setext underlines
_ORDERED = re.compile(r"^(\d+)([.)])")


def escape_text(text: str) -> str:
    """Typed text made safe for a TextBlock's or Fact's text: it shows as typed and does nothing else.

    Teams reads a CommonMark subset there (bold, italic, lists, links: "Format cards in Microsoft
    Teams"), `<at>…</at>` mentions, and `{{DATE()}}`/`{{TIME()}}` functions; templating reads
    `${...}`. Markdown characters get CommonMark backslash escapes, which the renderer removes; a `.`
    between letters or digits (`nhs.uk`, `a@b.net`) and a `:` between a word and more text (`https:`,
    `mailto:`) are escaped too, so a linkifier finds no address. Leading spaces go (four would start
    a code block); newlines stay. Input values are plain text (no Markdown, mentions or functions):
    put typed text there unescaped. A RichTextBlock's TextRun reads no Markdown, so these
    backslashes would show there, yet date functions still apply: keep typed text in TextBlocks.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(_escape_line(line.lstrip(" \t")) for line in lines)


def _escape_line(line: str) -> str:
    out = []
    ordered = _ORDERED.match(line)
    for i, ch in enumerate(line):
        before, after = line[i - 1] if i else "", line[i + 1] if i + 1 < len(line) else ""
        escape = (ch in _ALWAYS
                  or (i == 0 and ch in _LINE_START)
                  or (ordered is not None and i == len(ordered[1]))
                  or (ch == "." and before.isalnum() and after.isalnum())
                  or (ch == ":" and before.isalnum() and after != "" and not after.isspace()))
        out.append("\\" + ch if escape else ch)
    return "".join(out)
