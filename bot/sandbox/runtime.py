"""The sandbox's moving parts: the stand-in Slack, the real bot behind HTTP, the scheduler, the movable clock.

Everything a person does on the page reaches the bot as the signed HTTP request Slack would send
(slash-command form body, `payload=` for interactivity, event-callback JSON for App Home), so the
production code path runs. Only the clock is the sandbox's own: a `bot.clock.MovableClock`, handed to the
app and the scheduler as any clock is.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from slack_sdk.signature import SignatureVerifier
from sqlmodel import select
from werkzeug.serving import BaseWSGIServer, make_server

from bot.clock import MovableClock
from bot.domain import roster
from bot.sandbox.slack_api import APP_ID, TEAM_ID
from bot.sandbox.workspace import Rejection, SandboxSlack

log = logging.getLogger(__name__)

ZONE = "Europe/London"
GENERAL = "general"
TICK_SECONDS = 5.0

# A fictional demo roster covering every role of the built-in terms (and a lead for every profession).
DEMO_PEOPLE: dict[str, tuple[str, str, str]] = {
    # user id: (name, roles, professions)
    "UDCHAIR01": ("Harriet Pemberton", "chair", ""),
    "UDDEPUTY1": ("Julian Featherstone", "deputy_chair", ""),
    "UDMANAGER": ("Nadia Brightwater", "manager", ""),
    "UDSERVICE": ("Felix Ravensworth", "service_lead", ""),
    "UDPEOPLE1": ("Anjali Desborough", "people_team", ""),
    "UDGOVERN1": ("Rupert Hollingsworth", "governance", ""),
    "UDCLINDIR": ("Eleanor Whitlock", "clinical_director", ""),
    "UDNURSELD": ("Tomasz Kowalczyk", "professional_lead", "nursing;pharmacy"),
    "UDDOCLEAD": ("Beatrix Underhill", "professional_lead", "doctor;acp"),
    "UDPARALED": ("Samuel Oyelaran", "professional_lead", "paramedic;call_handling;operational"),
    "UDMEDDIR1": ("Margot Ellery", "medical_director", ""),
    "UDMEMBER1": ("Kit Ashdown", "member", ""),
}


# What each scheduled message is, in words for the clock panel (never who it names): kind -> (what, noun
# for its recipients when they are people, whether a "room" recipient is the case channel itself, and
# the condition under which a check sends anything at all).
_DUE_WORDS: dict[str, tuple[str, str, bool, str]] = {
    "reply_chase": ("chase", "member", True, ""),
    "pre_call_check": ("quorum check before the call", "person", False, ""),
    "agenda": ("agenda", "person", True, ""),
    "roll_call": ("roll-call", "person", True, ""),
    "roll_call_close": ("roll-call closes", "person", True, ""),
    "calendar": ("calendar file", "person", True, ""),
    "circulation": ("outcome and action points circulated", "person", False, ""),
    "circulation_chase": ("reminder to the chair and governance", "person", False, "if the outcome is not circulated"),
    "circulation_escalate": ("governance told", "person", False, "if the outcome is not circulated"),
    "action_digest": ("action point reminder", "owner", True, ""),
    "overdue_escalation": ("overdue action points", "person", True, "if any"),
    "delivery_failed": ("report of undelivered messages", "person", True, ""),
}


@dataclass(frozen=True)
class Due:
    """Scheduled messages of one kind due together: to how many people, in how many case channels."""

    kind: str
    people: int
    rooms: int

    def words(self) -> str:
        what, noun, in_room, condition = _DUE_WORDS.get(self.kind, (self.kind.replace("_", " "), "person", True, ""))
        if not self.people and not self.rooms:  # every one of them will be dropped (say, all have answered)
            return f"{what}, not needed"
        parts = [what]
        if self.people and not condition:
            plural = {"person": "people"}.get(noun, noun + "s") if self.people != 1 else noun
            parts.append(f"to {self.people} {plural}")
        if self.rooms and in_room:
            parts.append("in the case channel" if self.rooms == 1 else f"in {self.rooms} case channels")
        return " ".join([*parts, condition]).strip()


@dataclass(frozen=True)
class Upcoming:
    """What the scheduler sends next, and when: for the clock panel's "Next: …"."""

    at: datetime
    due: tuple[Due, ...]

    def describe(self, zone: ZoneInfo) -> str:
        """E.g. "chase to 2 members, Wed 02 Dec 14:00" (kinds due together joined by "and")."""
        return f"{' and '.join(d.words() for d in self.due)}, {self.at.astimezone(zone):%a %d %b %H:%M}"


def demo_roster_csv() -> str:
    return "user_id,roles,professions\n" + "".join(f"{u},{r},{p}\n" for u, (_, r, p) in DEMO_PEOPLE.items())


@dataclass
class Reply:
    """What the bot answered over HTTP (the ack): status and JSON body, if any."""

    status: int
    body: dict[str, Any] | None
    text: str


class ClockControls:
    """The clock panel's moves, shared by the Slack and Teams sandboxes: needs `sessions`, `clock`, `settings`
    and a `tick()` that runs the scheduler once and makes the page redraw."""

    sessions: Any
    clock: MovableClock
    settings: Any

    def tick(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ the clock

    def next_due(self) -> datetime | None:
        from storage.tables import MessageState, ScheduledMessage

        with self.sessions() as session:
            row = session.exec(select(ScheduledMessage.due_at).where(ScheduledMessage.state == MessageState.PENDING)
                               .order_by(ScheduledMessage.due_at).limit(1)).first()
        return row

    def upcoming(self) -> Upcoming | None:
        """The next scheduled messages (all due within a minute of the first), counted by kind. A chase
        to someone who has answered is not counted: the scheduler drops it (bot.chasing)."""
        from storage.tables import Invitee, MessageState, Reply, ScheduledMessage

        first = self.next_due()
        if first is None:
            return None
        with self.sessions() as session:
            rows = session.exec(select(ScheduledMessage.kind, ScheduledMessage.recipient, ScheduledMessage.case_id)
                                .where(ScheduledMessage.state == MessageState.PENDING,
                                       ScheduledMessage.due_at < first + timedelta(minutes=1))
                                .order_by(ScheduledMessage.due_at, ScheduledMessage.id)).all()
            waiting = {(i.case_id, i.user_id) for i in session.exec(select(Invitee).where(
                Invitee.reply == Reply.NO_REPLY, Invitee.case_id.in_({c for _, _, c in rows if c is not None})))}
        people: dict[str, set[str]] = {}
        rooms: dict[str, set[int | None]] = {}
        for kind, recipient, case_id in rows:
            people.setdefault(kind, set())
            rooms.setdefault(kind, set())
            if recipient == "room":
                rooms[kind].add(case_id)
            elif kind != "reply_chase" or (case_id, recipient) in waiting:
                people[kind].add(recipient)
        return Upcoming(first, tuple(Due(k, len(people[k]), len(rooms[k])) for k in people))

    def advance(self, step: str) -> str:
        """Move the bot's clock (+1 hour, +1 day, or to the next scheduled message) and tick at once."""
        steps = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
        if step in steps:
            self._run_until(self.clock() + steps[step])
        elif step == "next":
            due = self.next_due()
            if due is None:
                return "Nothing is scheduled."
            gap = due - self.clock()
            if gap > timedelta(0):
                self.clock.advance(gap + timedelta(seconds=1))
        else:
            raise ValueError(f"unknown clock step {step!r}")
        self.tick()
        return f"The time is now {self.clock().astimezone(self.settings.zone):%A %d %B %Y, %H:%M}."

    def _run_until(self, target: datetime) -> None:
        # As a running scheduler would: stop at each due time on the way, so nothing is "late".
        for _ in range(1000):
            due = self.next_due()
            if due is None or due > target:
                break
            gap = due - self.clock()
            if gap > timedelta(0):
                self.clock.advance(gap + timedelta(seconds=1))
            self.tick()
        gap = target - self.clock()
        if gap > timedelta(0):
            self.clock.advance(gap)


class Sandbox(ClockControls):
    """Start with `start()`; every method is safe to call from the page's request threads."""

    def __init__(self, data_dir: Path, *, tick_seconds: float = TICK_SECONDS) -> None:
        self.data_dir = data_dir
        self.tick_seconds = tick_seconds
        self.secret = secrets.token_hex(16)
        self.clock = MovableClock()
        self.slack = SandboxSlack(clock=self.clock)
        self.bot_url = ""
        self._server: BaseWSGIServer | None = None
        self._scheduler: Any = None
        self._tick_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Sandbox:
        from bot.config import load_settings
        from bot.domain.terms import load_terms
        from bot.scheduler import Ticker, build
        from bot.web import create_web_app
        from handlers.slack.app import create_app, make_client
        from handlers.slack.workspace import SlackWorkspace
        from storage.db import make_engine, session_factory, transaction, upgrade

        self.slack.start()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        db = self.data_dir / "sandbox.db"
        # The stand-in's channels and messages live in memory, so each start is a fresh workspace.
        db.unlink(missing_ok=True)
        settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-sandbox", "SLACK_SIGNING_SECRET": self.secret,
                                  "SLACK_API_URL": self.slack.url, "DATABASE_URL": f"sqlite:///{db}",
                                  "PMCCG_TIMEZONE": ZONE}, dotenv=False)
        self.settings = settings
        terms = load_terms(None)
        self.engine = make_engine(settings.database_url)
        upgrade(self.engine)
        self.sessions = session_factory(self.engine)
        self._seed(terms, transaction)
        bot = create_app(settings, terms=terms, engine=self.engine, now=self.clock)
        self._server = make_server("127.0.0.1", 0, create_web_app(bot, self.engine), threaded=True)
        self.bot_url = f"http://127.0.0.1:{self._server.server_port}/slack/events"
        threading.Thread(target=self._server.serve_forever, name="sandbox-bot", daemon=True).start()
        self.ticker = Ticker(sessions=self.sessions, engine=self.engine,
                             workspace=SlackWorkspace(make_client(settings)), terms=terms, zone=settings.zone,
                             clock=self.clock, worker="sandbox", reporting=settings.reporting)
        self._scheduler = build(self.ticker, self.tick_seconds, blocking=False)
        self._scheduler.start()
        return self

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.slack.stop()
        self.engine.dispose()

    def _seed(self, terms: Any, transaction: Any) -> None:
        for uid, (name, _, _) in DEMO_PEOPLE.items():
            self.slack.add_user(uid, name, display_name=name.split()[0], tz=ZONE)
        self.slack.add_user("UBOT", "pmccg", is_bot=True)
        self.slack.add_channel(GENERAL, members=list(DEMO_PEOPLE))
        with transaction(self.sessions) as session:
            roster.replace_roster(session, roster.parse_csv(demo_roster_csv(), terms), "sandbox", self.clock())

    # ------------------------------------------------------------------ signed requests, as Slack sends them

    def _post(self, body: bytes, content_type: str) -> Reply:
        ts = str(int(time.time()))  # Slack signs with real time; only the bot's "now" is moved
        signature = SignatureVerifier(self.secret).generate_signature(timestamp=ts, body=body.decode("utf-8"))
        request = urllib.request.Request(self.bot_url, data=body, method="POST", headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                status, raw = response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read().decode("utf-8", "replace")
        try:
            parsed = json.loads(raw) if raw.strip().startswith("{") else None
        except json.JSONDecodeError:
            parsed = None
        return Reply(status, parsed, raw)

    def _payload(self, payload: dict[str, Any]) -> Reply:
        return self._post(urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded")

    def command(self, user: str, channel: str, text: str) -> Reply:
        command, _, rest = text.strip().partition(" ")
        body = urlencode({"token": "sandbox", "team_id": TEAM_ID, "team_domain": "sandbox", "channel_id": channel,
                          "user_id": user, "user_name": self.slack.users[user]["name"], "command": command,
                          "text": rest.strip(), "api_app_id": APP_ID,
                          "response_url": self.slack.response_url(user, channel),
                          "trigger_id": self.slack.new_trigger(user)})
        reply = self._post(body.encode(), "application/x-www-form-urlencoded")
        if reply.status == 200 and reply.text.strip():
            # An immediate answer in the ack (help, unknown subcommand): only the typist sees it.
            answer = reply.body or {"text": reply.text}
            self.slack.add_ephemeral(user, channel, str(answer.get("text", "")), answer.get("blocks"))
        return reply

    def _base(self, kind: str, user: str) -> dict[str, Any]:
        return {"type": kind, "team": {"id": TEAM_ID, "domain": "sandbox"}, "user": {"id": user, "team_id": TEAM_ID},
                "api_app_id": APP_ID, "token": "sandbox", "trigger_id": self.slack.new_trigger(user)}

    def message_action(self, user: str, action: dict[str, Any], *, channel: str, ts: str = "",
                       ephemeral: int = 0) -> Reply:
        payload = self._base("block_actions", user)
        payload["actions"] = [{**action, "action_ts": str(time.time())}]
        payload["channel"] = {"id": channel}
        payload["response_url"] = self.slack.response_url(user, channel, ts=ts, ephemeral=ephemeral)
        if ephemeral:
            payload["container"] = {"type": "message", "channel_id": channel, "message_ts": ts or "0",
                                    "is_ephemeral": True}
        else:
            message = dict(self.slack.messages.get(ts, {}))
            message.pop("channel", None)
            payload["container"] = {"type": "message", "channel_id": channel, "message_ts": ts}
            payload["message"] = message
        return self._payload(payload)

    def view_payload(self, view_id: str, values: dict[str, Any]) -> dict[str, Any]:
        view = dict(self.slack.views[view_id])
        view["state"] = {"values": values}
        return view

    def view_action(self, user: str, action: dict[str, Any], view_id: str, values: dict[str, Any]) -> Reply:
        self.slack.keep_state(view_id, values)  # Slack's client keeps what was typed unless the app replaces it
        view = self.view_payload(view_id, values)
        payload = self._base("block_actions", user)
        payload["actions"] = [{**action, "action_ts": str(time.time())}]
        payload["view"] = view
        payload["container"] = {"type": "view", "view_id": view_id}
        return self._payload(payload)

    def home_action(self, user: str, action: dict[str, Any]) -> Reply:
        view = self.slack.home_views.get(user) or {}
        payload = self._base("block_actions", user)
        payload["actions"] = [{**action, "action_ts": str(time.time())}]
        payload["view"] = {**view, "state": {"values": {}}}
        payload["container"] = {"type": "view", "view_id": view.get("id", "")}
        return self._payload(payload)

    def submit(self, user: str, view_id: str, values: dict[str, Any]) -> str | None:
        """Send view_submission and apply Slack's rules for the answer; returns an error to show, if any.

        What the person entered stays with the view, as in Slack: refused with errors, the form comes
        back exactly as submitted; replaced (update), entries carry over field by field; closed, gone."""
        self.slack.keep_state(view_id, values)
        payload = self._base("view_submission", user)
        payload["view"] = self.view_payload(view_id, values)
        reply = self._payload(payload)
        stack = self.slack.modal_stack(user)
        if reply.status != 200:
            return f"The app did not accept the form (HTTP {reply.status})."
        answer = reply.body or {}
        action = answer.get("response_action")
        self.slack.screens.modal_errors.pop(view_id, None)
        try:
            if action == "errors":
                self.slack.screens.modal_errors[view_id] = {str(k): str(v) for k, v in answer["errors"].items()}
            elif action == "update":
                self.slack.store_view(answer["view"], view_id)
            elif action == "push":
                new = self.slack.store_view(answer["view"])
                self.slack.set_modal_stack(user, [*stack, new["id"]])
            else:  # "clear", or an empty 200: the modal closes
                self.slack.set_modal_stack(user, [])
        except ValueError as exc:
            # The app answered with a view Slack would refuse: Slack shows an error in the modal.
            self.slack.reject(Rejection("view_submission", "invalid_arguments", (str(exc),), user))
            return f"We had some trouble connecting. Try again? ({exc})"
        self.slack.version += 1
        return None

    def close_modal(self, user: str) -> None:
        self.slack.set_modal_stack(user, [])

    def open_home(self, user: str) -> Reply:
        event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home",
                 "event_ts": str(time.time())}
        body = {"token": "sandbox", "team_id": TEAM_ID, "api_app_id": APP_ID, "event": event,
                "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(time.time()), "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT",
                                                                    "is_bot": True}]}
        return self._post(json.dumps(body).encode(), "application/json")

    def tick(self) -> None:
        with self._tick_lock:
            self.ticker.tick()
        self.slack.version += 1
