"""The whole Teams bot behind real HTTP, its Microsoft calls going to the stand-in: the Teams twin of `bot`.

`TeamsStandIn` (bot/sandbox/teams_api.py) plays the token issuer, the Bot Connector and Graph; the real
app from handlers/teams/app.py is served by uvicorn on 127.0.0.1 in its own thread and loop
(tests/teams_client.py's RunningTeamsApp); every activity is signed by the stand-in's channel key and
POSTed to /api/messages. The database is the one the Slack end-to-end tests use (SQLite, and PostgreSQL
when reachable), migrated, with the fictional roster of tests/factories.py under Entra object ids.

Module-scoped (a server start costs about a second); the fixtures `teams_bot` and `teams_engine` come
through tests/conftest.py, so a test module just asks for them:

    def test_x(teams_bot: TeamsBotHarness) -> None:
        chair = teams_bot.person("U0CHAIR01")         # the roster's chair, as a stand-in TeamsUser
        teams_bot.say(chair, "convene")               # 1:1 message
        teams_bot.teams.personal_messages(chair.id)   # what their 1:1 chat shows now

Each test starts from what the previous one left (one database, one stand-in per module); call
`reset()` at the start of a test that needs an empty case history.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.config import load_settings
from bot.domain import roster
from bot.domain.terms import load_terms
from bot.sandbox.teams_api import TeamsStandIn, TeamsUser
from tests.factories import DEACTIVATED, LONDON, OUTSIDER, OUTSIDER_NAME, PEOPLE, STAFF_MEMBER

User = TeamsUser | str


class TeamsBotHarness:
    """The stand-in, the running bot and its clock. `users` maps tests/factories.py's ids (U0CHAIR01, ...,
    U0OUTSIDE, U0STAFF01, U0LEFT001) to stand-in people; the roster is loaded under their Entra ids."""

    def __init__(self, engine: Engine, *, make_workspace: Any = None) -> None:
        # Here, not at the top: tests/conftest.py imports this module, and the SDK takes seconds to import.
        from handlers.teams.app import create_teams_app, teams_workspace
        from tests.conftest import MovingClock
        from tests.teams_client import RunningTeamsApp

        self.engine = engine
        self.teams = TeamsStandIn().start()
        self.clock = MovingClock()
        self.users: dict[str, TeamsUser] = {}
        try:
            for uid, (name, _, _) in PEOPLE.items():
                self.users[uid] = self.teams.add_user(name)
            # A guest from another organisation (Slack's stranger), the staff member, a leaver.
            self.users[OUTSIDER] = self.teams.add_user(OUTSIDER_NAME, user_type="Guest")
            self.users[STAFF_MEMBER[0]] = self.teams.add_user(STAFF_MEMBER[1])
            self.users[DEACTIVATED[0]] = self.teams.add_user(DEACTIVATED[1], account_enabled=False,
                                                             app_installed=False)
            env = {**self.teams.settings_env(), "TEAMS_APP_ID": self.teams.teams_app_id, "PMCCG_PLATFORM": "teams",
                   "DATABASE_URL": str(engine.url)}
            self.settings = load_settings(env, dotenv=False)
            self.terms = load_terms()
            self.bot = create_teams_app(self.settings, terms=self.terms, engine=engine, now=self.clock,
                                        make_workspace=make_workspace or teams_workspace)
            self.services = self.bot.services
            self.load_roster()
            self.running = RunningTeamsApp(self.bot, self.bot.fastapi)  # type: ignore[arg-type]  (duck: initialize())
        except BaseException:
            self.teams.stop()
            raise
        self.url = self.running.url
        self.messages_url = self.running.messages_url

    # ----------------------------------------------------------------------------- lifecycle

    def stop(self) -> None:
        self.running.stop()
        self.teams.stop()

    def load_roster(self) -> None:
        """The fictional roster (tests/factories.py) under the stand-in people's Entra ids."""
        lines = ["user_id,roles,professions"]
        lines += [f"{self.users[uid].id},{roles},{profs}" for uid, (_, roles, profs) in PEOPLE.items()]
        with self.services.sessions() as session:
            roster.replace_roster(session, roster.parse_csv("\n".join(lines) + "\n", self.terms), "test",
                                  datetime.now(LONDON))
            session.commit()

    def reset(self) -> None:
        """An empty database with the roster loaded again, the stand-in's call log cleared, the clock now."""
        from bot.clock import now
        from tests.conftest import _truncate

        if self.engine.dialect.name == "postgresql":
            _truncate(self.engine)
        else:
            from sqlmodel import SQLModel

            with self.engine.begin() as conn:
                for table in reversed(SQLModel.metadata.sorted_tables):
                    conn.execute(table.delete())
        self.load_roster()
        self.teams.clear()
        self.clock.move_to(now())

    # ----------------------------------------------------------------------------- who

    def person(self, uid: str) -> TeamsUser:
        """The stand-in person for a tests/factories.py id (U0CHAIR01, ...)."""
        return self.users[uid]

    def _user(self, user: User) -> TeamsUser:
        if isinstance(user, TeamsUser):
            return user
        return self.users.get(user) or self.teams.user(user)

    # ----------------------------------------------------------------------------- what Teams sends

    def post(self, activity: dict[str, Any], *, token: str | Literal[False] | None = None) -> httpx.Response:
        """POST an activity to /api/messages, signed for its serviceUrl (token=False: none; a string: that one)."""
        return self.teams.post_activity(self.messages_url, activity, token=token)

    def say(self, user: User, text: str, **post: Any) -> httpx.Response:
        """`user` writes `text` to the bot in their 1:1 chat."""
        return self.post(self.teams.message(self._user(user), text), **post)

    def mention(self, user: User, chat: str, text: str, **post: Any) -> httpx.Response:
        """`user` writes "@PMCCG `text`" in the group chat `chat`."""
        return self.post(self.teams.message(self._user(user), text, conversation_id=chat, mention_bot=True), **post)

    def click(self, user: User, verb: str, data: dict[str, Any] | None = None, reply_to_id: str | None = None,
              conversation: str | None = None, **post: Any) -> httpx.Response:
        """`user` presses an Action.Execute with `verb` and `data` on the card `reply_to_id` (an activity id the bot
        posted) in `conversation` (default: their 1:1 chat). The SDK routes on data["action"]: it is set to `verb`
        unless `data` names one."""
        payload = {"action": verb, **(data or {})}
        return self.post(self.teams.card_action(self._user(user), payload, verb=verb, reply_to_id=reply_to_id,
                                                conversation_id=conversation), **post)

    def open_dialog(self, user: User, data: dict[str, Any], reply_to_id: str | None = None,
                    conversation: str | None = None, **post: Any) -> httpx.Response:
        """`user` presses a dialog opener (task/fetch); `data` is the button's, e.g. {"dialog_id": "convene", ...}."""
        payload = {"msteams": {"type": "task/fetch"}, **data}
        return self.post(self.teams.dialog_open(self._user(user), payload, reply_to_id=reply_to_id,
                                                conversation_id=conversation), **post)

    def submit_dialog(self, user: User, data: dict[str, Any], conversation: str | None = None,
                      **post: Any) -> httpx.Response:
        """`user` submits a dialog (task/submit); `data` is its inputs merged with the submit action's data."""
        return self.post(self.teams.dialog_submit(self._user(user), data, conversation_id=conversation), **post)

    def install(self, user: User, **post: Any) -> httpx.Response:
        """`user` adds the app: it is installed for them in the stand-in, and Teams sends installationUpdate (add)
        in their 1:1 chat."""
        person = self._user(user)
        self.teams.install_app_for(person.id)
        return self.post(self.teams.installation_update(person, "add"), **post)


# ----------------------------------------------------------------------------- fixtures


# The Slack tests' two databases (tests/conftest.py's BACKENDS), here without importing conftest at import time.
BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql", marks=pytest.mark.pg)]


@pytest.fixture(scope="module", params=BACKENDS)
def teams_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database for the module: SQLite in a temporary folder, or the run's PostgreSQL (emptied)."""
    from storage.db import make_engine, upgrade
    from tests.conftest import _truncate

    if request.param == "sqlite":
        folder: Path = tmp_path_factory.mktemp(f"teams-{uuid.uuid4().hex[:6]}")
        engine = make_engine(f"sqlite:///{folder / 'pmccg.db'}")
        upgrade(engine)
    else:
        engine = make_engine(request.getfixturevalue("pg_url"))
        _truncate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def teams_bot(teams_engine: Engine) -> Iterator[TeamsBotHarness]:
    """The Teams bot behind real HTTP, once per module (and database)."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("CLIENT_SECRET", "CLIENT_ID", "TENANT_ID", "SERVICE_URL", "CLOUD"):
            # The SDK reads these itself (docs/teams-sdk-notes.md §1): a developer's shell must not change the test.
            env.delenv(name, raising=False)
        harness = TeamsBotHarness(teams_engine)
        yield harness
        harness.stop()
