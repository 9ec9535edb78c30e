"""Keep the case header's counts and buttons current after a change made in Slack."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.domain.case_header import refresh_header
from bot.domain.errors import PlatformFailure
from bot.services import Services
from handlers.slack.workspace import SlackWorkspace

log = logging.getLogger(__name__)


def refresh_case_header(services: Services, client: WebClient, case_id: int) -> None:
    """Best effort: the change is saved; a header that could not be updated is logged, not raised."""
    try:
        refresh_header(services.sessions, services.terms, case_id, SlackWorkspace(client), services.zone,
                       services.clock().astimezone(services.zone).date())
    except PlatformFailure as exc:
        log.warning("header_update_failed", extra={"event": "header_update_failed", "error": exc.error})
