"""`pmccg sandbox --platform teams`'s moving parts: the Teams stand-in, the real Teams app behind HTTP, the
scheduler, the movable clock, and what a Teams client keeps for the person using it.

Everything a person does on the page reaches the bot as the activity Teams would send: built by the
stand-in (bot/sandbox/teams_api.py), signed with its channel key and POSTed to the app's /api/messages,
so the production code path runs, token checks included. What Teams itself would refuse is refused
here too: a card the checks refuse (bot/sandbox/teams_checks.py) on the Bot Connector or in an invoke's
answer, a proactive message to someone without the app, a Graph call the manifest's permissions do not
cover (both by the stand-in's own state). Each refusal is kept and shown on the page.

Only the clock is the sandbox's own: a `bot.clock.MovableClock`, handed to the app and the scheduler.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import MovableClock
from bot.domain import roster
from bot.sandbox.runtime import DEMO_PEOPLE, TICK_SECONDS, ZONE, ClockControls
from bot.sandbox.teams_api import CLIENT_ID, DEFAULT_GRANTED, TeamsStandIn
from bot.sandbox.teams_checks import (
    activity_refusal,
    invoke_response_refusal,
    resource_specific_permissions,
)

log = logging.getLogger(__name__)

# The demo roster under Entra object ids: stable across starts, derived from the Slack sandbox's ids.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/pmccg-bot/sandbox/teams")
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE_ANSWER = "application/vnd.microsoft.activity.message"
FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
INVOKE_TIMEOUT = 15.0  # Teams gives an invoke about 5 s; the sandbox waits longer and says when it was slow
SLOW_INVOKE = 5.0
REFRESH_EVERY = 60.0  # seconds between automatic refreshes of one card for one person


class RecordedClock(MovableClock):
    """The sandbox's clock, remembering each move: the Bot Connector stamps activities with real time, and the page
    shows each at the sandbox's time it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.moves: list[tuple[float, timedelta]] = [(0.0, timedelta(0))]  # (real time, offset from then on)
        self._moves_lock = threading.Lock()

    def advance(self, by: timedelta) -> datetime:
        moved = super().advance(by)
        with self._moves_lock:
            self.moves.append((time.time(), moved - datetime.now(UTC)))
        return moved

    def at(self, real: float) -> datetime:
        """The sandbox's time when the real clock read `real`."""
        with self._moves_lock:
            offset = next(o for t, o in reversed(self.moves) if t <= real)
        return datetime.fromtimestamp(real, UTC) + offset


def entra_id(slack_id: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, slack_id))


def granted_permissions() -> frozenset[str]:
    """What a tenant following the README grants: its four application permissions (Entra's admin consent)
    and the resource-specific ones the manifest asks for; nothing more, so a Graph call beyond them is refused."""
    from handlers.teams.manifest import PackageSettings, build_manifest

    application = {p for p in DEFAULT_GRANTED if not p.endswith(".Chat")}
    package = PackageSettings.from_env({"TEAMS_CLIENT_ID": CLIENT_ID, "PMCCG_PUBLIC_HOST": "pmccg.example.org"})
    manifest = build_manifest(package, name="PMCCG", short_name="PMCCG")
    return frozenset(application | resource_specific_permissions(manifest))


@dataclass
class Said:
    """A message a person typed in a chat: the Bot Connector keeps only the bot's, the client shows both."""

    id: str
    conversation_id: str
    user_id: str
    text: str
    at: float  # real time, to order it among the bot's activities
    clock: datetime  # the sandbox's time when it was typed


@dataclass
class Dialog:
    """An open dialog (task module): the card the bot answered with, where it was opened from."""

    title: str
    card: dict[str, Any]
    conversation_id: str
    width: Any = None
    error: str = ""


@dataclass
class Problem:
    """Something Teams refused, shown on the page: to one person (an invoke's answer) or to all (the bot's calls)."""

    at: float
    text: str
    user_id: str | None = None


@dataclass
class Answer:
    """What came of a person's action: an error to show, a notice (a dialog closed with a message)."""

    error: str = ""
    notice: str = ""


@dataclass
class ClientState:
    """What the Teams client keeps per person: an invoke's refreshed card (for the clicker only, until the
    message changes for everyone), the open dialog, notices."""

    said: list[Said] = field(default_factory=list)
    refreshed: dict[tuple[str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    dialogs: dict[str, Dialog] = field(default_factory=dict)
    notices: dict[str, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    dismissed: dict[str, float] = field(default_factory=dict)  # person -> when they last dismissed the errors


def _fingerprint(activity: Mapping[str, Any]) -> str:
    stable = {k: v for k, v in activity.items() if k not in ("timestamp",)}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()


class TeamsSandbox(ClockControls):
    """Start with `start()`; every method is safe to call from the page's request threads."""

    def __init__(self, data_dir: Path, *, tick_seconds: float = TICK_SECONDS) -> None:
        self.data_dir = data_dir
        self.tick_seconds = tick_seconds
        self.clock = RecordedClock()
        self.teams = TeamsStandIn(granted=granted_permissions(), check_activity=activity_refusal)
        self.people: dict[str, str] = {}  # Entra object id -> name, in the demo roster's order
        self.state = ClientState()
        self.version = 0
        self.messages_url = ""
        self._lock = threading.RLock()
        self._seen_calls = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._scheduler: Any = None
        self._tick_lock = threading.Lock()
        self._refreshed_at: dict[tuple[str, str], tuple[str, float]] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> TeamsSandbox:
        import warnings

        warnings.filterwarnings("ignore", message="HtmlWidgetSecurityPolicy is in preview")
        from bot.config import load_settings
        from bot.domain.terms import load_terms
        from bot.scheduler import Ticker, build
        from handlers.teams.app import create_teams_app
        from storage.db import make_engine, session_factory, upgrade

        self.teams.start()
        try:
            for slack_id, (name, _, _) in DEMO_PEOPLE.items():
                person = self.teams.add_user(name, object_id=entra_id(slack_id))
                self.people[person.id] = name
            self.data_dir.mkdir(parents=True, exist_ok=True)
            db = self.data_dir / "teams-sandbox.db"
            # The stand-in's chats live in memory, so each start is a fresh tenant and a fresh database.
            db.unlink(missing_ok=True)
            env = {**self.teams.settings_env(), "PMCCG_PLATFORM": "teams", "DATABASE_URL": f"sqlite:///{db}",
                   "PMCCG_TIMEZONE": ZONE}
            self.settings = load_settings(env, dotenv=False)
            terms = load_terms(None)
            self.engine = make_engine(self.settings.database_url)
            upgrade(self.engine)
            self.sessions = session_factory(self.engine)
            self._load_roster(terms)
            self.bot = create_teams_app(self.settings, terms=terms, engine=self.engine, now=self.clock)
            self._serve()
            # The app installed for everyone (an administrator's policy): Teams tells the bot of each install.
            for oid in self.people:
                self.teams.post_activity(self.messages_url, self.teams.installation_update(oid, "add"))
            self.ticker = Ticker(sessions=self.sessions, engine=self.engine, workspace=self.bot.workspace(),
                                 terms=terms, zone=self.settings.zone, clock=self.clock, worker="sandbox",
                                 reporting=self.settings.reporting)
            self._scheduler = build(self.ticker, self.tick_seconds, blocking=False)
            self._scheduler.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _serve(self) -> None:
        import uvicorn

        # The Teams SDK is async and its HTTP clients belong to the loop that serves it: uvicorn runs in a thread
        # of its own on that loop; the scheduler's workspace sends on it from the ticking thread.
        self._loop = asyncio.new_event_loop()
        config = uvicorn.Config(self.bot.fastapi, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                                lifespan="on", log_config=None)
        self._server = uvicorn.Server(config)
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self.bot.initialize())
                self._loop.run_until_complete(self._server.serve())
            except BaseException as exc:  # noqa: BLE001  (reported to the starting thread)
                failure.append(exc)

        self._thread = threading.Thread(target=run, name="sandbox-teams-app", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if failure or not self._thread.is_alive():
                raise RuntimeError("the Teams app did not start") from (failure[0] if failure else None)
            if time.monotonic() > deadline:
                raise TimeoutError("the Teams app did not start in time")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.messages_url = f"http://127.0.0.1:{port}/api/messages"

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.teams.stop()
        if getattr(self, "engine", None) is not None:
            self.engine.dispose()

    def _load_roster(self, terms: Any) -> None:
        from storage.db import transaction

        lines = ["user_id,roles,professions"]
        lines += [f"{entra_id(u)},{roles},{profs}" for u, (_, roles, profs) in DEMO_PEOPLE.items()]
        with transaction(self.sessions) as session:
            roster.replace_roster(session, roster.parse_csv("\n".join(lines) + "\n", terms), "sandbox", self.clock())

    # ------------------------------------------------------------------ what a person sees

    def chats_of(self, oid: str) -> list[dict[str, Any]]:
        """Their 1:1 chat with the bot first, then the group chats they are in (newest first), as Teams lists them."""
        chats: list[dict[str, Any]] = []
        personal = self.teams.personal_conversation_id(oid)
        if personal and self.teams.conversation(personal).app_installed:  # removed: Teams offers to add it again
            chats.append({"id": personal, "kind": "personal", "title": self.teams.bot_name})
        groups = [c for c in self.teams.conversations if c.kind == "groupChat" and not c.deleted and oid in c.members]
        for chat in reversed(groups):
            chats.append({"id": chat.id, "kind": "groupChat", "title": chat.topic or "Group chat",
                          "members": len(chat.members)})
        return chats

    def may_see(self, oid: str, conversation_id: str) -> bool:
        return any(c["id"] == conversation_id for c in self.chats_of(oid))

    def messages_for(self, oid: str, conversation_id: str) -> list[dict[str, Any]]:
        """What the chat shows `oid`: the bot's activities as now (an invoke's refreshed card for the clicker,
        while the message is unchanged for everyone) and what people typed, in order."""
        shown: list[tuple[float, dict[str, Any]]] = []
        view = self.teams.conversation(conversation_id)
        with self._lock:
            for activity in view.messages:
                aid = str(activity.get("id"))
                refreshed = self.state.refreshed.get((oid, aid))
                card = None
                if refreshed is not None and refreshed[0] == _fingerprint(activity):
                    card = refreshed[1]
                shown.append((_stamp(activity.get("timestamp")), {
                    "id": aid, "bot": True, "author": self.teams.bot_name, "text": activity.get("text") or "",
                    "cards": [card] if card is not None else _cards(activity),
                    "consents": _consents(activity), "files": _files(activity),
                    "edited": bool(activity.get("lastModified")), "when": self._when(activity.get("timestamp"))}))
            for said in self.state.said:
                if said.conversation_id == conversation_id:
                    shown.append((said.at, {"id": said.id, "bot": False, "author": self.people.get(said.user_id, ""),
                                            "mine": said.user_id == oid, "text": said.text, "cards": [],
                                            "consents": [], "files": [],
                                            "edited": False,
                                            "when": f"{said.clock.astimezone(self.settings.zone):%a %d %b, %H:%M}"}))
        shown.sort(key=lambda pair: pair[0])
        return [m for _, m in shown]

    def _when(self, stamp: Any) -> str:
        # The Bot Connector stamps real time; the page shows the sandbox's clock, moved by its offset now.
        at = _stamp(stamp)
        if not at:
            return ""
        return f"{self.clock.at(at).astimezone(self.settings.zone):%a %d %b, %H:%M}"

    def problems_for(self, oid: str) -> list[str]:
        """What Teams refused lately: the bot's own calls (to everyone: no person is named) and this person's."""
        self._collect_refusals()
        with self._lock:
            since = self.state.dismissed.get(oid, 0.0)
            return [p.text for p in self.state.problems if p.user_id in (None, oid) and p.at > since][-6:]

    def _collect_refusals(self) -> None:
        calls = self.teams.calls
        with self._lock:
            fresh, self._seen_calls = calls[self._seen_calls:], len(calls)
            for call in fresh:
                if call.ok or call.route.startswith(("GET /v1/", "POST /{tenant}")) or call.status == 401:
                    continue
                error = (call.answer or {}).get("error") if isinstance(call.answer, dict) else None
                code = (error or {}).get("code", "") if isinstance(error, dict) else ""
                message = (error or {}).get("message", "") if isinstance(error, dict) else ""
                what = "Graph" if call.route.split()[1].startswith("/v1.0") else "The Bot Connector"
                self.state.problems.append(Problem(call.at, f"{what} refused {call.route} ({call.status} {code}): "
                                                   f"{message}"))

    def dialog_of(self, oid: str) -> Dialog | None:
        with self._lock:
            return self.state.dialogs.get(oid)

    def notices_for(self, oid: str, *, shown: bool = False) -> list[str]:
        """The person's notices; `shown`: the page draws them now, and a notice is shown once, as Teams' are."""
        with self._lock:
            return list(self.state.notices.pop(oid, []) if shown else self.state.notices.get(oid, []))

    def clear_notices(self, oid: str) -> None:
        """A notice (an invoke's message) lasts until the person does something else, as Teams' banner does."""
        with self._lock:
            self.state.notices.pop(oid, None)

    def dismiss(self, oid: str) -> None:
        with self._lock:
            self.state.notices.pop(oid, None)
            self.state.dismissed[oid] = time.time()
            self.version += 1

    # ------------------------------------------------------------------ what Teams sends the bot

    def _post(self, activity: dict[str, Any]) -> tuple[int, Any, float]:
        started = time.monotonic()
        try:
            response = self.teams.post_activity(self.messages_url, activity, timeout=INVOKE_TIMEOUT)
        except Exception as exc:  # noqa: BLE001  (a timeout or a dropped connection: Teams shows an error)
            log.info("sandbox_post_failed", extra={"event": "sandbox_post_failed", "error": type(exc).__name__})
            return 0, None, time.monotonic() - started
        try:
            body = response.json() if response.content.strip() else None
        except ValueError:
            body = None
        self.version += 1
        return response.status_code, body, time.monotonic() - started

    def say(self, oid: str, conversation_id: str, text: str) -> Answer:
        """`oid` types `text` in a chat. In a group chat the bot hears only a message that @mentions it."""
        text = text.strip()
        if not text:
            return Answer()
        view = self.teams.conversation(conversation_id)
        mention = view.kind == "groupChat"
        words = text
        if mention:
            lowered = text.lower()
            prefix = "@" + self.teams.bot_name.lower()
            if not lowered.startswith(prefix):
                self._record_said(oid, conversation_id, text)
                return Answer()  # a message to the chat's people: the bot is not told of it
            words = text[len(prefix):].strip()
        self._record_said(oid, conversation_id, text)
        activity = self.teams.message(oid, words, conversation_id=conversation_id, mention_bot=mention)
        status, _, _ = self._post(activity)
        if status != 200:
            return self._failed(oid, status)
        return Answer()

    def _record_said(self, oid: str, conversation_id: str, text: str) -> None:
        with self._lock:
            self.state.said.append(Said(f"said-{len(self.state.said) + 1}", conversation_id, oid, text, time.time(),
                                        self.clock()))
            self.version += 1

    def _failed(self, oid: str, status: int, what: str = "the message") -> Answer:
        text = (f"The bot did not answer {what} in time." if status == 0 else
                f"The bot answered {what} with HTTP {status}: Teams shows “Something went wrong”.")
        self._problem(oid, text)
        return Answer(error=text)

    def _problem(self, oid: str, text: str) -> None:
        with self._lock:
            self.state.problems.append(Problem(time.time(), text, oid))
            self.version += 1

    def auto_refresh(self, oid: str, conversation_id: str) -> None:
        """What Teams does when someone opens a chat: each card whose `refresh` names them (Universal Actions'
        userIds) is asked for afresh with its refresh action (trigger "automatic"), at most once a minute."""
        for activity in self.teams.messages(conversation_id):
            aid = str(activity.get("id"))
            for card in _cards(activity):
                refresh = card.get("refresh") if isinstance(card.get("refresh"), Mapping) else None
                action = refresh.get("action") if refresh else None
                users = refresh.get("userIds") if refresh else None
                if not isinstance(action, Mapping) or action.get("type") != "Action.Execute":
                    continue
                if isinstance(users, list) and oid not in users:
                    continue
                key = (oid, aid)
                with self._lock:
                    last = self._refreshed_at.get(key)
                    if last and last[0] == _fingerprint(activity) and time.monotonic() - last[1] < REFRESH_EVERY:
                        continue
                    self._refreshed_at[key] = (_fingerprint(activity), time.monotonic())
                data = action.get("data") if isinstance(action.get("data"), Mapping) else {}
                self.execute(oid, conversation_id, aid, str(action.get("verb") or ""), data, trigger="automatic")

    def execute(self, oid: str, conversation_id: str, activity_id: str, verb: str, data: Mapping[str, Any], *,
                trigger: str = "manual") -> Answer:
        """An Action.Execute pressed on the card `activity_id`: the `adaptiveCard/action` invoke. A card in the
        answer replaces the card for the clicker; a message in the answer is shown to them."""
        activity = self.teams.card_action(oid, dict(data), verb=verb, reply_to_id=activity_id,
                                          conversation_id=conversation_id)
        activity["value"]["trigger"] = trigger
        status, body, took = self._post(activity)
        if status != 200:
            what = f"the action “{verb}”" if trigger == "manual" else f"the automatic refresh “{verb}” of a card"
            return self._failed(oid, status, what)
        refusal = invoke_response_refusal(body)
        if refusal is not None:
            return self._refused(oid, refusal.describe())
        slow = self._slow(oid, took)
        if not isinstance(body, Mapping):
            # Teams wants a card or a message for every Action.Execute; nothing (no listener for the verb, say)
            # is an error on the card.
            return self._refused(oid, f"no answer to the action “{verb}”: Teams shows “Something went wrong”")
        kind, value = body.get("type"), body.get("value")
        code = body.get("statusCode", 200)
        if isinstance(code, int) and code >= 400:
            text = value.get("message") if isinstance(value, Mapping) else str(value or "")
            return self._refused(oid, f"The action failed ({code}): {text}")
        if kind == ADAPTIVE_CARD and isinstance(value, Mapping):
            current = next((a for a in self.teams.messages(conversation_id) if str(a.get("id")) == activity_id), None)
            if current is not None:
                with self._lock:
                    self.state.refreshed[(oid, activity_id)] = (_fingerprint(current), dict(value))
                    self._refreshed_at[(oid, activity_id)] = (_fingerprint(current), time.monotonic())
        elif kind == MESSAGE_ANSWER and value:
            self._notice(oid, str(value))
        return Answer(error=slow)

    def _slow(self, oid: str, took: float) -> str:
        if took <= SLOW_INVOKE:
            return ""
        text = f"The bot took {took:.1f} s to answer: Teams gives up after about 5 s and shows an error."
        self._problem(oid, text)
        return text

    def _refused(self, oid: str, text: str) -> Answer:
        self._problem(oid, "Teams refused the bot's answer: " + text)
        return Answer(error="Teams refused the bot's answer: " + text)

    def _notice(self, oid: str, text: str) -> None:
        with self._lock:
            self.state.notices.setdefault(oid, []).append(text)
            self.version += 1

    def submit_message(self, oid: str, conversation_id: str, data: Any) -> Answer:
        """An Action.Submit that opens no dialog: Teams sends a message activity carrying its data as `value`."""
        activity = self.teams.message(oid, conversation_id=conversation_id,
                                      value=data if isinstance(data, dict) else {"value": data})
        status, _, _ = self._post(activity)
        return self._failed(oid, status) if status != 200 else Answer()

    def open_dialog(self, oid: str, conversation_id: str, activity_id: str, data: Mapping[str, Any]) -> Answer:
        """A dialog opener (Action.Submit with msteams.type task/fetch): the `task/fetch` invoke."""
        activity = self.teams.dialog_open(oid, dict(data), reply_to_id=activity_id or None,
                                          conversation_id=conversation_id)
        return self._task(oid, conversation_id, activity)

    def submit_dialog(self, oid: str, data: Mapping[str, Any]) -> Answer:
        """The open dialog's Action.Submit: the `task/submit` invoke, its inputs merged into the action's data."""
        dialog = self.dialog_of(oid)
        if dialog is None:
            return Answer(error="No dialog is open.")
        activity = self.teams.dialog_submit(oid, dict(data), conversation_id=dialog.conversation_id)
        return self._task(oid, dialog.conversation_id, activity)

    def close_dialog(self, oid: str) -> None:
        with self._lock:
            self.state.dialogs.pop(oid, None)
            self.version += 1

    def _task(self, oid: str, conversation_id: str, activity: dict[str, Any]) -> Answer:
        status, body, took = self._post(activity)
        if status != 200:
            return self._dialog_error(oid, self._failed(oid, status, str(activity.get("name"))).error)
        refusal = invoke_response_refusal(body)
        if refusal is not None:
            return self._dialog_error(oid, self._refused(oid, refusal.describe()).error)
        slow = self._slow(oid, took)
        task = body.get("task") if isinstance(body, Mapping) else None
        kind = task.get("type") if isinstance(task, Mapping) else None
        value = task.get("value") if isinstance(task, Mapping) else None
        if kind == "continue" and isinstance(value, Mapping) and isinstance(value.get("card"), Mapping):
            card = value["card"].get("content")
            if not isinstance(card, Mapping):
                return self._dialog_error(oid, self._refused(oid, "the dialog's card has no content").error)
            with self._lock:
                self.state.dialogs[oid] = Dialog(str(value.get("title") or ""), dict(card), conversation_id,
                                                 value.get("width"), slow)
                self.version += 1
            return Answer(error=slow)
        self.close_dialog(oid)
        if kind == "message" and value:
            self._notice(oid, str(value))
            return Answer(notice=str(value), error=slow)
        if (body is None or task is None) and activity.get("name") == "task/submit":
            return Answer(error=slow)  # an empty answer to a submit: Teams closes the dialog
        if body is None or task is None:
            return Answer(error=self._refused(oid, "no dialog in the answer: Teams shows “Unable to reach app”").error)
        return Answer(error=self._refused(oid, "a dialog answer Teams does not know").error)

    def _dialog_error(self, oid: str, text: str) -> Answer:
        with self._lock:
            dialog = self.state.dialogs.get(oid)
            if dialog is not None:
                dialog.error = text
        return Answer(error=text)

    def consent(self, oid: str, activity_id: str, accept: bool) -> Answer:
        """Allow or Decline on a file consent card in the person's 1:1 chat: the `fileConsent/invoke` Teams sends
        (on Allow, with an upload session in their OneDrive, which the bot fills and then replaces the card)."""
        try:
            activity = self.teams.file_consent(oid, activity_id, "accept" if accept else "decline")
        except ValueError:
            return Answer(error="That is no file consent card in your chat with the bot.")
        status, _, _ = self._post(activity)
        return self._failed(oid, status, "the file consent") if status != 200 else Answer()

    def file_of(self, oid: str, name: str) -> bytes | None:
        """A file the bot put in the person's OneDrive (what a file card's link opens)."""
        return self.teams.files_of(oid).get(name)

    def set_app(self, oid: str, installed: bool) -> Answer:
        """The person adds or removes the app for themselves; Teams tells the bot."""
        if installed:
            self.teams.install_app_for(oid)
            self._post(self.teams.installation_update(oid, "add"))
        else:
            self.teams.uninstall_app_for(oid)
            self._post(self.teams.installation_update(oid, "remove"))
        self.version += 1
        return Answer()

    def app_installed(self, oid: str) -> bool:
        conv = self.teams.personal_conversation_id(oid)
        return bool(conv and self.teams.conversation(conv).app_installed)

    # ------------------------------------------------------------------ the clock and the redraw

    def tick(self) -> None:
        with self._tick_lock:
            self.ticker.tick()
        self.version += 1

    def changes(self) -> int:
        """A number that grows whenever something the page shows may have changed."""
        # The bot's writes only: its background reads (the directory, tokens) change nothing on screen.
        writes = sum(1 for c in self.teams.calls if c.method != "GET" and not c.route.startswith("POST /{"))
        return self.version + writes

    def settle(self, quiet: float = 0.35, limit: float = 8.0) -> None:
        """Wait until the bot has finished what an action started (slow work runs after the answer, in a thread),
        then tick once, so what it made due shows at once."""
        deadline = time.monotonic() + limit
        seen, since = self.changes(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.changes()
            if now != seen:
                seen, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        self.tick()


def _stamp(raw: Any) -> float:
    if not isinstance(raw, str) or not raw:
        return 0.0
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _consents(activity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """File consent cards, as Teams draws them: the file's name, what it is, its size."""
    found = []
    for a in activity.get("attachments") or []:
        if isinstance(a, Mapping) and a.get("contentType") == FILE_CONSENT:
            content = a.get("content") if isinstance(a.get("content"), Mapping) else {}
            found.append({"name": str(a.get("name") or "file"), "description": str(content.get("description") or ""),
                          "size": int(content.get("sizeInBytes") or 0)})
    return found


def _files(activity: Mapping[str, Any]) -> list[str]:
    """The names of the files a file info card shows (uploaded to the person's OneDrive)."""
    return [str(a.get("name") or "file") for a in activity.get("attachments") or []
            if isinstance(a, Mapping) and a.get("contentType") == FILE_INFO]


def _cards(activity: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(a["content"]) for a in activity.get("attachments") or []
            if isinstance(a, Mapping) and a.get("contentType") == ADAPTIVE_CARD
            and isinstance(a.get("content"), Mapping)]
