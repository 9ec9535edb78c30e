"""Wording shared by listeners for refusals and private replies (Slack mrkdwn)."""

from __future__ import annotations

from bot.domain.errors import DomainError, NotAllowed
from handlers.slack.render import slack_escape


def refusal_text(exc: DomainError) -> str:
    """The private reply to a refused click, command or form: the message, and for a refusal (NotAllowed)
    who to ask; the one wording every listener uses (issue 15: it was four copies)."""
    if not isinstance(exc, NotAllowed):
        return exc.message
    text = slack_escape(exc.message)
    if exc.contacts:
        text += " (" + ", ".join(f"<@{c}>" for c in exc.contacts) + ")"
    return text
