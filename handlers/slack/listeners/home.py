"""App Home: when someone opens the bot's Home tab, publish their action points and cases (bot/domain/home.py)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.domain import home
from bot.domain.notify import Message, MessageKind
from bot.services import Services
from handlers.slack.workspace import SLACK_BUDGET, rendered

log = logging.getLogger(__name__)


def publish_home(client: WebClient, services: Services, user_id: str) -> None:
    """Build the person's Home from the database now and publish it (a courtesy: failures are logged)."""
    with services.sessions() as session:
        view = home.home_view(session, services.terms, user_id, services.zone, services.clock(), SLACK_BUDGET)
    try:
        client.views_publish(user_id=user_id, view=rendered(Message(MessageKind.HOME, view)))
    except (SlackApiError, SlackClientError, OSError) as exc:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.warning("home_publish_failed", extra={"event": "home_publish_failed", "error": error})


def register(app: App) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], client: WebClient, services: Services) -> None:
        # The Messages tab opens this event too; only the Home tab has anything to show.
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        publish_home(client, services, str(event["user"]))
