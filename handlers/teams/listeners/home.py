"""Home in Teams: the person's action points and cases (bot/domain/home.py) as a card in their 1:1 chat.

Slack publishes an App Home tab when it is opened; Teams has no such tab for a bot, so the home card is sent
when the person installs the app (installationUpdate add, after handlers/teams/listeners/direct_rooms.py has
kept the chat) and refreshes itself: the card's `refresh` (verb home_refresh, for the person's own id only)
makes Teams ask again whenever they open the chat, as its Refresh button does; `home` typed sends it anew.
The answer is built for the signed presser from the database now, so a card forwarded or pressed by someone
else shows only their own.
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_teams.apps import ActivityContext, App

from bot.domain import home
from bot.domain.errors import PlatformFailure
from bot.domain.notify import Message, MessageKind
from handlers.teams.context import TeamsContext
from handlers.teams.invoke import Turn, card_answer, message_answer, off_loop, on_verbs, turn_of
from handlers.teams.listeners.commands import Typed, command
from handlers.teams.render import render_activity

log = logging.getLogger(__name__)

REFRESH = "home_refresh"
ELSEWHERE = "Your home is in your 1:1 chat with me."


def home_message(ctx: TeamsContext, user_id: str) -> Message:
    services = ctx.services
    with services.sessions() as session:
        view = home.home_view(session, services.terms, user_id, services.zone, services.clock(),
                              ctx.workspace().budget)
    return Message(MessageKind.HOME, view)


def send_home(ctx: TeamsContext, user_id: str) -> None:
    """The home card to the person's 1:1 chat (a courtesy: failures are logged). Synchronous: off the loop."""
    try:
        ctx.workspace().send_direct(user_id, home_message(ctx, user_id))
    except PlatformFailure as exc:
        log.warning("home_send_failed", extra={"event": "home_send_failed", "error": exc.error})


def register(app: App, ctx: TeamsContext) -> None:
    @app.on_install_add
    async def installed(turn: ActivityContext[Any]) -> None:
        who = turn_of(turn.activity)
        if who is not None and who.personal:
            await off_loop(lambda: send_home(ctx, who.user_id))
        await turn.next()

    def refreshed(who: Turn) -> dict[str, Any]:
        if not who.personal:
            return message_answer(ELSEWHERE)
        activity = render_activity(home_message(ctx, who.user_id), names=ctx.directory.display_name)
        return card_answer(activity["attachments"][0]["content"])

    async def pressed(_turn: ActivityContext[Any], who: Turn, _verb: str, _data: Any) -> Any:
        return await off_loop(lambda: refreshed(who))

    on_verbs(app, (REFRESH,), pressed)


@command("home")
async def typed_home(turn: ActivityContext[Any], ctx: TeamsContext, typed: Typed) -> None:
    """`home` typed, in the 1:1 chat or a case chat: the home card goes to the 1:1 chat, never to a group."""
    await off_loop(lambda: send_home(ctx, typed.user_id))
    if typed.conversation_type != "personal":
        await turn.send(ELSEWHERE)
