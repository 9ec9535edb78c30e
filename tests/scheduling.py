"""Helpers for scheduler tests: convene cases without HTTP, and tick the scheduler at chosen times."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.config import load_settings
from bot.domain import convening, roster
from bot.domain.convening import Convened
from bot.domain.reminders import TickReport, send_due
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from handlers.slack.app import make_client
from handlers.slack.workspace import SlackWorkspace
from storage.db import SessionFactory
from storage.tables import Case, ScheduledMessage
from tests.factories import HERE, LONDON, form


def workspace_for(fake: FakeSlack) -> SlackWorkspace:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake.url}, dotenv=False)
    return SlackWorkspace(make_client(settings))


def convene_at(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack, now: datetime,
               call: datetime, *, key: str = "V1", **overrides: Any) -> Convened:
    """Convene a case at `now` for a call at `call` (aware), through the domain and the fake Slack."""
    local = call.astimezone(LONDON)
    f = form(now, submission_key=key, call_date=local.date(), call_time=time(local.hour, local.minute),
             **overrides)
    with sessions() as session:
        entries = roster.entries_for(session, [u for u in f.seats.values() if u])
    request = convening.validate(f, terms, entries, (), now, LONDON, people=HERE)
    return convening.convene(sessions, engine, request, terms, workspace_for(fake), now, LONDON)


def tick(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack, now: datetime,
         worker: str = "w1", batch: int = 100) -> TickReport:
    return send_due(sessions, engine, workspace_for(fake), terms, LONDON, now, worker=worker, batch=batch)


def rows(sessions: SessionFactory, kind: str | None = None) -> list[ScheduledMessage]:
    with sessions() as session:
        query = select(ScheduledMessage).order_by(ScheduledMessage.due_at, ScheduledMessage.id)
        if kind:
            query = query.where(ScheduledMessage.kind == kind)
        return list(session.exec(query))


def case(sessions: SessionFactory, reference: str) -> Case:
    with sessions() as session:
        return session.exec(select(Case).where(Case.reference == reference)).one()


def dms(fake: FakeSlack, text: str = "") -> list[Any]:
    """Delivered direct messages (to user ids), optionally only those whose text has `text`."""
    return [c for c in fake.delivered("chat.postMessage")
            if str(c.params.get("channel", "")).startswith("U") and text in str(c.params.get("text", ""))]
