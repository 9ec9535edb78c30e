"""The Teams app manifest checked against Microsoft's published schema (v1.29, vendored unchanged).

1.29 is the newest version Microsoft's manifest reference lists as generally available (June 2026);
`@microsoft/app-manifest` 1.1.2 also carries 1.30, which that reference did not yet list, so it is
not used (handlers/teams/schemas/README.md). The file declares draft-04 but uses `const` (for
`manifestVersion`) and `if`/`then`, which only draft-06/07 define, so it is read as draft-07:
draft-04 validators would skip them silently. `manifestVersion` is also checked here by name, so a
manifest written for another version gets one clear sentence rather than a list of unrelated errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from handlers.teams.cards import SCHEMA_DIR, brief_message

MANIFEST_VERSION = "1.29"
MANIFEST_SCHEMA_PATH = SCHEMA_DIR / f"MicrosoftTeams-{MANIFEST_VERSION}.schema.json"
MANIFEST_SCHEMA_URL = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"


@dataclass(frozen=True)
class ManifestProblem:
    """One reason Teams would refuse the manifest: a JSON pointer into it and a sentence."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


# ECMAScript-only regular expressions in the schema, with the Python equivalent used instead. `\p{L}`
# (any letter) has no `re` spelling; `[^\W\d_]` is a word character that is neither a digit nor `_`.
# The one such pattern names Office add-in functions (`extensions`), which a bot's manifest never has.
_PATTERNS = {r"^[\p{L}][\p{L}0-9._]*$": r"^[^\W\d_](?:[^\W\d_]|[0-9._])*$"}


def _python_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _python_pattern(v) if k == "pattern" and isinstance(v, str) else _python_patterns(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_python_patterns(v) for v in node]
    return node


def _python_pattern(pattern: str) -> str:
    if "\\p{" not in pattern:
        return pattern
    if pattern not in _PATTERNS:
        raise ValueError(f"the manifest schema has an ECMAScript pattern with no Python translation: {pattern}")
    return _PATTERNS[pattern]


@cache
def manifest_schema() -> dict[str, Any]:
    """The vendored schema, its one ECMAScript-only pattern translated for Python's `re`."""
    return _python_patterns(json.loads(MANIFEST_SCHEMA_PATH.read_text(encoding="utf-8")))


@cache
def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(manifest_schema())


def _pointer(path: Sequence[Any]) -> str:
    return "".join(f"/{part}" for part in path)


def _explain(error: ValidationError) -> ManifestProblem:
    if error.validator in ("anyOf", "oneOf") and error.context:
        return _explain(best_match(error.context))
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        extras = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return ManifestProblem(_pointer(error.absolute_path),
                               f"{', '.join(map(repr, extras))} not allowed here by the {MANIFEST_VERSION} schema")
    return ManifestProblem(_pointer(error.absolute_path), brief_message(error))


def manifest_problems(manifest: Any) -> list[ManifestProblem]:
    """Every reason the manifest fails Microsoft's v1.29 schema (an empty list: it validates)."""
    if not isinstance(manifest, Mapping):
        return [ManifestProblem("", "a manifest must be a JSON object")]
    version = manifest.get("manifestVersion")
    if version != MANIFEST_VERSION:
        return [ManifestProblem("/manifestVersion", f"must be {MANIFEST_VERSION!r}, the schema version vendored "
                                                    f"here (found {version!r})")]
    errors = sorted(_validator().iter_errors(manifest), key=lambda e: _pointer(e.absolute_path))
    return list(dict.fromkeys(_explain(e) for e in errors))
