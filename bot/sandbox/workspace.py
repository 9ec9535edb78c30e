"""The sandbox's Slack: the stand-in Web API plus what a person's screen needs (modals, private replies).

`SandboxSlack` extends the tests' `FakeSlack` without changing it: it refuses what Slack would refuse
(scopes the manifest does not grant, invalid blocks, modal limits), keeps each person's open modal
stack (found through the trigger id the page sent), and keeps ephemeral replies and response_url
replies for the one person who should see them.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from bot.clock import now
from bot.sandbox import checks
from bot.sandbox.blockkit import shown_values
from bot.sandbox.slack_api import FakeSlack, Response

log = logging.getLogger(__name__)


@dataclass
class Ephemeral:
    """A message only `user` sees, in `channel`; `source` is the response_url it may be replaced through."""

    id: int
    user: str
    channel: str
    text: str
    blocks: Any
    source: str = ""


@dataclass
class Rejection:
    """A call the stand-in refused as Slack would; shown to the person whose action caused it."""

    method: str
    error: str
    messages: tuple[str, ...]
    user: str = ""

    def describe(self) -> str:
        return f"Slack refused {self.method}: {self.error}" + (" (" + "; ".join(self.messages) + ")"
                                                               if self.messages else "")


@dataclass
class _Screens:
    modals: dict[str, list[str]] = field(default_factory=dict)  # user -> stack of view ids
    modal_errors: dict[str, dict[str, str]] = field(default_factory=dict)  # view id -> block id -> error
    # view id -> what the person entered (view.state.values): Slack's client keeps it while the modal is
    # open, through a refused submission (response_action=errors) and, field by field, through updates.
    modal_state: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    ephemerals: list[Ephemeral] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


class SandboxSlack(FakeSlack):
    def __init__(self, granted: frozenset[str] | None = None, clock: Callable[[], datetime] = now) -> None:
        super().__init__()
        self.clock = clock  # the sandbox's clock, to stamp when a message was sent
        self.granted = granted if granted is not None else checks.granted_scopes()
        self.triggers: dict[str, str] = {}  # trigger id -> the user whose click or command made it
        self.screens = _Screens()
        self._eph_ids = itertools.count(1)
        self._trigger_ids = itertools.count(1)
        self.changed = threading.Event()
        self.version = 0  # bumped on every accepted change, so the page knows when to refresh

    # --------------------------------------------------------------- what the page asks for

    def new_trigger(self, user: str) -> str:
        with self._lock:
            trigger = f"trigger-{next(self._trigger_ids)}"
            self.triggers[trigger] = user
            return trigger

    def response_url(self, user: str, channel: str, *, ts: str = "", ephemeral: int = 0) -> str:
        query = urlencode({"user": user, "channel": channel, "ts": ts, "eph": ephemeral or ""})
        return f"{self.url}response?{query}"

    def modal_stack(self, user: str) -> list[str]:
        with self._lock:
            return list(self.screens.modals.get(user, []))

    def set_modal_stack(self, user: str, stack: list[str]) -> None:
        with self._lock:
            for gone in set(self.screens.modals.get(user, [])) - set(stack):
                self.screens.modal_state.pop(gone, None)
                self.screens.modal_errors.pop(gone, None)
            self.screens.modals[user] = stack
            self.version += 1

    def keep_state(self, view_id: str, values: dict[str, dict[str, Any]]) -> None:
        """What the person entered in an open modal, as Slack's client holds it between requests."""
        with self._lock:
            self.screens.modal_state[view_id] = values

    def modal_state(self, view_id: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self.screens.modal_state.get(view_id, {}))

    def store_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        """A view the bot returned in a submission response (update / push), kept like views.update would."""
        with self._lock:
            if refused := checks.view_refusal(view):
                raise ValueError(refused.describe())
            return self._store_view(view, view_id)

    def ephemerals_for(self, user: str, channel: str) -> list[Ephemeral]:
        with self._lock:
            return [e for e in self.screens.ephemerals if e.user == user and e.channel == channel]

    def add_ephemeral(self, user: str, channel: str, text: str, blocks: Any = None) -> None:
        with self._lock:
            self.screens.ephemerals.append(Ephemeral(next(self._eph_ids), user, channel, text, blocks))
            self.version += 1

    def dismiss_ephemeral(self, user: str, eph_id: int) -> None:
        with self._lock:
            self.screens.ephemerals = [e for e in self.screens.ephemerals if not (e.id == eph_id and e.user == user)]
            self.version += 1

    def rejections_for(self, user: str) -> list[Rejection]:
        with self._lock:
            return [r for r in self.screens.rejections if r.user in ("", user)]

    def reject(self, rejection: Rejection) -> None:
        with self._lock:
            self.screens.rejections.append(rejection)
            self.version += 1
        log.warning("sandbox_refused", extra={"event": "sandbox_refused", "method": rejection.method,
                                              "error": rejection.error})

    def channels_of(self, user: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for cid, c in self.channels.items()
                    if not c.get("is_im") and user in self._members.get(cid, [])]

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for ts, m in sorted(self.messages.items()) if m["channel"] == channel]

    # --------------------------------------------------------------- the stand-in, stricter

    def _respond(self, method: str, params: dict[str, Any], token: str | None, parse_failed: bool) -> Response:
        if method == "response":  # a response_url carries no token: the URL itself is the credential
            self.version += 1
            return 200, self._api_response(params), {}
        if not parse_failed and token is not None:
            refused = checks.refusal_for(method, params, self.granted)
            if refused is not None:
                user = self.triggers.get(str(params.get("trigger_id", "")), "") or str(params.get("user_id") or "")
                self.reject(Rejection(method, refused.error, refused.messages, user))
                return 200, {"ok": False, "error": refused.error,
                             "response_metadata": {"messages": list(refused.messages)}}, {}
        status, payload, headers = super()._respond(method, params, token, parse_failed)
        if isinstance(payload, dict) and payload.get("ok"):
            self.version += 1
        return status, payload, headers

    def _open_modal(self, params: dict[str, Any], result: dict[str, Any], push: bool) -> dict[str, Any]:
        user = self.triggers.get(str(params.get("trigger_id", "")))
        if user and result.get("ok"):
            view_id = result["view"]["id"]
            stack = self.screens.modals.get(user, []) if push else []
            self.screens.modals[user] = [*stack, view_id][-3:]  # Slack keeps at most three views
        return result

    def _api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._open_modal(params, super()._api_views_open(params), push=False)

    def _api_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._open_modal(params, super()._api_views_push(params), push=True)

    def _store_view(self, view: Any, view_id: str | None = None, previous: str | None = None) -> dict[str, Any]:
        with self._lock:
            old = self.views.get(view_id) if view_id else None
            stored = super()._store_view(view, view_id, previous)
            if old is not None and stored["id"] in self.screens.modal_state:
                kept = carried_state(self.screens.modal_state[stored["id"]], old, stored)
                self.screens.modal_state[stored["id"]] = kept
            return stored

    def _api_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        result = super()._api_views_update(params)
        if result.get("ok"):
            self.screens.modal_errors.pop(result["view"]["id"], None)
        return result

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        result = super()._api_chat_postMessage(params)
        if result.get("ok"):  # when it was sent on the sandbox's clock, for the page to show
            self.messages[result["ts"]]["sent_at"] = self.clock().timestamp()
        return result

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        result = super()._api_chat_postEphemeral(params)
        if result.get("ok"):
            channel = self._resolve_channel(params["channel"])
            self.screens.ephemerals.append(Ephemeral(next(self._eph_ids), str(params["user"]), channel,
                                                     str(params.get("text") or ""), params.get("blocks")))
        return result

    def _api_response(self, params: dict[str, Any]) -> dict[str, Any]:
        """A reply through a response_url the page made: private to its user unless sent in_channel."""
        user, channel = str(params.get("user", "")), str(params.get("channel", ""))
        ts, eph = str(params.get("ts", "")), str(params.get("eph", ""))
        blocks, text = params.get("blocks"), str(params.get("text") or "")
        if params.get("delete_original"):
            self.screens.ephemerals = [e for e in self.screens.ephemerals if str(e.id) != eph]
            return {"ok": True}
        if params.get("response_type") == "in_channel":
            return self._api_chat_postMessage({"channel": channel, "text": text, "blocks": blocks})
        if params.get("replace_original") in (True, "true"):
            if eph:
                for e in self.screens.ephemerals:
                    if str(e.id) == eph:
                        e.text, e.blocks = text, blocks
                        return {"ok": True}
            elif ts and ts in self.messages:
                return self._api_chat_update({"channel": channel, "ts": ts, "text": text, "blocks": blocks})
        self.screens.ephemerals.append(Ephemeral(next(self._eph_ids), user, channel, text, blocks))
        return {"ok": True}


def _inputs(view: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(str(b.get("block_id", "")), str((b.get("element") or {}).get("action_id", ""))): b.get("element") or {}
            for b in view.get("blocks") or [] if isinstance(b, dict) and b.get("type") == "input"}


def carried_state(entered: dict[str, dict[str, Any]], old: dict[str, Any],
                  new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What stays of a person's entries when the app replaces an open view (views.update, or
    response_action=update). Slack documents that entries are kept where the new view has an input
    with the same block_id and action_id; this stand-in also lets an entry that only repeats what the
    old view proposed give way to what the new view proposes (the person did not change it)."""
    before = _inputs(old)
    kept: dict[str, dict[str, Any]] = {}
    for (block_id, action_id), element in _inputs(new).items():
        entry = (entered.get(block_id) or {}).get(action_id)
        if entry is None or entry.get("type") != element.get("type"):
            continue
        proposed = before.get((block_id, action_id))
        if proposed is not None and shown_values(proposed, entry) == shown_values(proposed):
            continue
        kept.setdefault(block_id, {})[action_id] = entry
    return kept
