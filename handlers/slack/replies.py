"""Wording shared by listeners for refusals and private replies (Slack mrkdwn)."""

from __future__ import annotations

from bot.domain.errors import NotAllowed
from handlers.slack.render import slack_escape


def not_allowed_text(exc: NotAllowed) -> str:
    text = slack_escape(exc.message)
    if exc.contacts:
        text += " (" + ", ".join(f"<@{c}>" for c in exc.contacts) + ")"
    return text
