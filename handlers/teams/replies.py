"""Wording shared by Teams listeners for refusals and private replies: the twin of handlers/slack/replies.py.

The words are the domain's (the exception's message); who to ask is named by display name, resolved at the
time of the reply from the directory (kept in memory only), because a dialog's closing message and an
invoke's answer are plain text, where a mention cannot be made.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.errors import DomainError, NotAllowed
from handlers.teams.cards import escape_text

Names = Callable[[str], str | None]
SOMEONE = "a member"


def refusal_text(exc: DomainError, names: Names | None = None, *, markdown: bool = True) -> str:
    """The private reply to a refused click, command or form: the message, and for a refusal (NotAllowed)
    who to ask, as Slack's refusal_text says it. `markdown=False` for plain text (a dialog's closing
    message, an invoke's message answer), where escapes would show."""
    plain = (lambda s: s) if not markdown else escape_text
    text = plain(exc.message)
    if isinstance(exc, NotAllowed) and exc.contacts:
        named = [(names(c) if names else None) or SOMEONE for c in exc.contacts]
        text += " (" + ", ".join(plain(n) for n in dict.fromkeys(named)) + ")"
    return text
