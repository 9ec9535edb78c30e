"""Commands typed to the bot: the words of bot/domain/commands.py's table, routed to the listener of each.

In the 1:1 chat a command is typed without a prefix; in a case chat after an @mention of the bot
(parse_command strips both, and a habitual `/pmccg`). Each listener module claims its words with
`@command("word")`; this module's message listener parses the text and calls the one claimed. A word of
the table no module claims yet gets a plain "not available on Teams yet" reply, so help never promises
what nothing answers without saying so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from microsoft_teams.api import MessageActivity
from microsoft_teams.apps import ActivityContext, App

from bot.domain.commands import COMMANDS, command_word, parse_command
from handlers.teams.cards import escape_text
from handlers.teams.context import TeamsContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Typed:
    """One typed command: who (the signed Entra object id), where, and the rest of the text."""

    user_id: str
    conversation_id: str
    conversation_type: str  # "personal" (the 1:1 chat) or "groupChat" (a case chat)
    args: str


CommandHandler = Callable[[ActivityContext[MessageActivity], TeamsContext, Typed], Awaitable[None]]
HANDLERS: dict[str, CommandHandler] = {}


def command(word: str) -> Callable[[CommandHandler], CommandHandler]:
    """Claim a word of the command table for the decorated handler (one handler per word)."""
    if word not in {c.word for c in COMMANDS}:
        raise ValueError(f"{word!r} is not in bot/domain/commands.py's table")

    def claim(handler: CommandHandler) -> CommandHandler:
        if word in HANDLERS and HANDLERS[word] is not handler:
            raise ValueError(f"the command {word!r} is claimed twice")
        HANDLERS[word] = handler
        return handler

    return claim


def help_text(name: str) -> str:
    """Help, from the table (Markdown: the bot's name and each command with who may use it)."""
    lines = [f"**{escape_text(name)}** bot. Staff are referred to by case number only.", ""]
    lines += [f"- **{c.usage}**: {c.description}" for c in COMMANDS]
    return "\n".join(lines)


def register(app: App, ctx: TeamsContext) -> None:
    name = ctx.services.terms.name

    @app.on_message
    async def typed_command(turn: ActivityContext[MessageActivity]) -> None:
        await answer(turn)
        await turn.next()  # observers registered later (a test's probe) see every message too

    async def answer(turn: ActivityContext[MessageActivity]) -> None:
        activity = turn.activity
        if activity.value is not None:  # an Action.Submit's data, not typed text
            return
        text = (activity.strip_mentions_text().text or "") if activity.text else ""
        parsed = parse_command(text)
        if parsed is None:
            word = command_word(text)[:40]
            await turn.send(f"I don't know **{escape_text(word)}**.\n\n{help_text(name)}")
            return
        handler = HANDLERS.get(parsed.command.word)
        if parsed.command.word == "help" and handler is None:
            await turn.send(help_text(name))
            return
        if handler is None:
            await turn.send(f"**{parsed.command.word}** is not available on Teams yet.\n\n{help_text(name)}")
            return
        sender, conversation = activity.from_, activity.conversation
        if sender is None or not sender.aad_object_id or conversation is None:
            log.warning("teams_command_without_person", extra={"event": "teams_command_without_person"})
            return
        typed = Typed(user_id=sender.aad_object_id, conversation_id=conversation.id,
                      conversation_type=conversation.conversation_type or "", args=parsed.args)
        log.info("teams_command", extra={"event": "teams_command", "command": parsed.command.word})
        await handler(turn, ctx, typed)
