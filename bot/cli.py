"""`pmccg` command line: serve (HTTP), socket (Socket Mode), teams, db upgrade, roster import/list/history."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot import clock, logs
from bot.config import ConfigError, Settings, load_settings
from bot.domain.terms import TermsError, load_terms

log = logging.getLogger("pmccg")


class UsageError(Exception):
    """A problem the person running the command can fix; printed without a traceback."""


def _engine(settings: Settings) -> Any:
    from storage.db import make_engine

    return make_engine(settings.database_url)


def _prepare(settings: Settings, *, migrate: bool) -> tuple[Any, Any]:
    from storage.db import upgrade

    terms = load_terms(settings.config_path)
    engine = _engine(settings)
    if migrate:
        upgrade(engine)
    return terms, engine


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from gunicorn.app.base import BaseApplication

    from bot.web import create_web_app
    from handlers.slack.app import create_app

    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    # On SQLite the server migrates at start; on PostgreSQL run `pmccg db upgrade` once per deploy.
    terms, engine = _prepare(settings, migrate=settings.is_sqlite)
    bot = create_app(settings, terms=terms, engine=engine)
    web = create_web_app(bot, engine)
    # SQLite has one writer: one worker process (with threads) serves it. PostgreSQL scales out.
    workers = 1 if settings.is_sqlite else int(os.environ.get("WEB_CONCURRENCY", "2"))
    options: dict[str, Any] = {
        "bind": f"{args.host}:{settings.port}", "workers": workers, "worker_class": "gthread",
        "threads": int(os.environ.get("PMCCG_THREADS", "8")), "timeout": 30,
        # No access log (request lines say who used the bot when); gunicorn's own lines (listening,
        # workers booted) at the level of our own events.
        "accesslog": None, "loglevel": logging.getLevelName(getattr(args, "log_level", logging.INFO)).lower(),
        # Per-process control socket: two servers on one host must not share gunicorn's default path.
        "control_socket": str(Path(os.environ.get("TMPDIR", "/tmp")) / f"pmccg-gunicorn-{os.getpid()}.ctl")}
    if settings.run_scheduler:
        # In-process scheduler: every worker starts one, but only the worker holding this server's
        # leadership lock (named after the gunicorn master) ticks, so one `pmccg serve` runs one
        # scheduler however many workers it has. PMCCG_RUN_SCHEDULER=false when `pmccg worker` runs.
        master = os.getpid()

        def post_worker_init(_worker: Any) -> None:
            _scheduler(settings, bot.services.terms, bot.services.engine, blocking=False,
                       leader=f"serve-{socket.gethostname()}-{master}").start()

        options["post_worker_init"] = post_worker_init

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return web

    log.info("serving", extra={"event": "serving", "port": settings.port, "workers": workers,
                               "group": terms.short_name})
    Server().run()
    return 0


def _scheduler(settings: Settings, terms: Any, engine: Any, *, blocking: bool, leader: str | None = None,
               workspace: Any = None) -> Any:
    """The scheduler sending through `workspace` (default: the deployment platform's, bot/platforms.py)."""
    from bot import scheduler
    from bot.platforms import workspace_for
    from storage.db import session_factory

    sessions = session_factory(engine)
    # The deployment's platform (PMCCG_PLATFORM): on Teams the workspace runs on a loop thread of its own,
    # unless `pmccg teams` gives the one sending on its serving loop.
    ticker = scheduler.Ticker(sessions=sessions, engine=engine,
                              workspace=workspace if workspace is not None else workspace_for(settings, sessions),
                              terms=terms, zone=settings.zone,
                              clock=clock.now, reporting=settings.reporting,
                              orphan_after=timedelta(seconds=settings.convene_orphan_seconds))
    if leader is not None:
        return scheduler.build(scheduler.LedTicker(ticker, scheduler.Leadership(leader)), settings.tick_seconds,
                               blocking=blocking)
    return scheduler.build(ticker, settings.tick_seconds, blocking=blocking)


def cmd_teams(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.config import TEAMS_REQUIRED, TEAMS_SENDING

    # Named before the Teams SDK is imported (seconds), so a missing setting is said at once.
    settings.require(*TEAMS_REQUIRED, *TEAMS_SENDING)
    import warnings

    # The SDK warns at import about a preview feature the bot does not use: not an operator's business.
    warnings.filterwarnings("ignore", message="HtmlWidgetSecurityPolicy is in preview")
    from handlers.teams.app import create_teams_app, serve

    # On SQLite the server migrates at start; on PostgreSQL run `pmccg db upgrade` once per deploy.
    terms, engine = _prepare(settings, migrate=settings.is_sqlite)
    bot = create_teams_app(settings, terms=terms, engine=engine)

    def ready() -> None:
        # After initialize(): the workspace sends on the serving loop, from the scheduler's own thread.
        if settings.run_scheduler:
            _scheduler(settings, terms, engine, blocking=False, workspace=bot.workspace()).start()

    log.info("serving", extra={"event": "serving", "platform": "teams", "port": settings.port,
                               "group": terms.short_name})
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops cleanly on SIGTERM/SIGINT
        asyncio.run(serve(bot, args.host, settings.port, log_level=args.log_level, on_ready=ready))
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from bot.config import TEAMS_REQUIRED, TEAMS_SENDING

    if settings.platform == "teams":  # named before anything starts; the workspace gets a loop thread
        settings.require(*TEAMS_REQUIRED, *TEAMS_SENDING)
    else:
        settings.require("SLACK_BOT_TOKEN")
    terms, engine = _prepare(settings, migrate=settings.is_sqlite)
    log.info("worker", extra={"event": "worker", "tick_seconds": settings.tick_seconds, "group": terms.short_name})
    with contextlib.suppress(KeyboardInterrupt, SystemExit):  # Ctrl-C or SIGTERM: a clean stop
        _scheduler(settings, terms, engine, blocking=True).start()
    return 0


def cmd_socket(args: argparse.Namespace, settings: Settings) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from handlers.slack.app import create_app

    settings.require("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
    if not settings.slack_signing_secret:
        # Socket Mode requests are not signed; Bolt still wants a value.
        settings = _with(settings, slack_signing_secret="socket-mode")
    terms, engine = _prepare(settings, migrate=settings.is_sqlite)
    bot = create_app(settings, terms=terms, engine=engine)
    log.info("socket_mode", extra={"event": "socket_mode", "group": terms.short_name})
    if settings.run_scheduler:
        _scheduler(settings, terms, engine, blocking=False).start()
    SocketModeHandler(bot.app, settings.slack_app_token).start()
    return 0


def _with(settings: Settings, **changes: Any) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    # No Slack or Teams settings needed: the sandbox brings its own stand-in, database and secrets.
    from bot.sandbox.serve import run

    return run(Path(args.data), args.port, platform=args.platform)


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import upgrade

    upgrade(_engine(settings))
    print("Database is up to date.")
    return 0


def _directory(settings: Settings) -> Any:
    """The deployment's directory of people (bot/domain/people.py's People), for its platform (PMCCG_PLATFORM).

    On Slack handlers/slack/directory.py, loaded in full so each person is one lookup away."""
    if settings.platform == "teams":
        return _teams_directory(settings)
    from handlers.slack.app import make_client
    from handlers.slack.directory import Directory

    settings.require("SLACK_BOT_TOKEN")
    directory = Directory(make_client(settings), lookup_seconds=10.0)
    directory.refresh_in_background()
    directory.names(wait_seconds=60.0)  # users.list answers for everyone at once; users.info fills any gap
    return directory


def _teams_directory(settings: Settings) -> Any:
    """Microsoft Graph's users (handlers/teams/directory.py), built as bot/platforms.py builds the Teams workspace.

    Only the identity is needed (TEAMS_APP_ID is for sending); ConfigError names a missing setting, never a value.
    Each id is one `GET /users/{id}`, in parallel: no full listing of a large organisation for a short roster."""
    import asyncio

    from handlers.teams.auth import ClientCredentialsTokens, TeamsAuthError
    from handlers.teams.directory import TeamsDirectory
    from handlers.teams.settings import teams_credentials, teams_endpoints

    credentials, endpoints = teams_credentials(settings), teams_endpoints(settings)
    tokens = ClientCredentialsTokens(credentials, endpoints.login_url)
    try:
        # Sign in first (the token is cached for the lookups): a wrong secret is then said once, not as
        # "could not be confirmed" at every line.
        asyncio.run(tokens(endpoints.graph_scope))
    except TeamsAuthError as exc:
        raise UsageError(f"{exc} Check TEAMS_CLIENT_ID, TEAMS_TENANT_ID and TEAMS_CLIENT_SECRET.") from None
    return TeamsDirectory(endpoints, tokens, lookup_seconds=30.0)  # a person at a time is slower than a form


def cmd_roster_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.domain import roster
    from storage.db import session_factory, upgrade

    terms = load_terms(settings.config_path)
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: is not UTF-8 text. Save it as 'CSV UTF-8' and import it again.") from exc
    # Everyone on the roster must be an active person of the workspace: ask its platform, as the server would.
    directory = _directory(settings)
    engine = _engine(settings)
    upgrade(engine)
    try:
        count = roster.import_csv(session_factory(engine), text, terms, directory, "cli", clock.now())
    except roster.RosterImportError as exc:
        print(f"{path}: nothing was imported:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"Imported {count} people into the roster.")
    return 0


def cmd_roster_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.domain import roster
    from storage.db import session_factory, upgrade

    engine = _engine(settings)
    upgrade(engine)
    with session_factory(engine)() as session:
        entries = roster.all_entries(session)
    print("user_id,roles,professions")
    for e in entries:
        print(f"{e.user_id},{';'.join(sorted(e.roles))},{';'.join(sorted(e.professions))}")
    return 0


HISTORY_HEADER = "at,by,source,user_id,roles_added,roles_removed,professions_added,professions_removed"


def cmd_roster_history(args: argparse.Namespace, settings: Settings) -> int:
    from bot.domain import roster
    from storage.db import session_factory, upgrade

    engine = _engine(settings)
    upgrade(engine)
    with session_factory(engine)() as session:
        changes = list(reversed(roster.history(session)))
    print(HISTORY_HEADER)
    for c in changes:
        at = c.at.astimezone(settings.zone).isoformat(timespec="seconds")
        print(",".join([at, c.actor_id, c.source, c.user_id, c.roles_added, c.roles_removed, c.professions_added,
                        c.professions_removed]))
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.domain import cases
    from bot.domain.errors import NotFound
    from bot.domain.history import record_event
    from bot.records import case_file
    from storage.db import session_factory, transaction, upgrade

    terms, engine = load_terms(settings.config_path), _engine(settings)
    upgrade(engine)
    out = Path(args.out)
    if not out.is_dir():
        raise UsageError(f"{out}: is not a folder. Create it, or give another with --out.")
    now = clock.now()
    try:
        with transaction(session_factory(engine)) as session:
            data = case_file.build_case_file(session, terms, args.reference, settings.zone, now)
            files = case_file.render_case_file(data)
            for f in files:
                (out / f.filename).write_bytes(f.content)
            case = cases.case_named(session, data.reference)
            record_event(session, case.id or 0, "cli", "case_file_exported", now, files=len(files))
    except NotFound as exc:
        raise UsageError(exc.message) from exc
    for f in files:
        print(out / f.filename)
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from bot.records import retention
    from storage.db import session_factory, upgrade

    terms, engine = load_terms(settings.config_path), _engine(settings)
    upgrade(engine)
    workspace = None
    if settings.slack_bot_token and not args.dry_run:
        from handlers.slack.app import make_client
        from handlers.slack.workspace import SlackWorkspace

        workspace = SlackWorkspace(make_client(settings))
    run = retention.run(session_factory(engine), engine, workspace, terms, settings.zone, clock.now(),
                        dry_run=args.dry_run)
    for line in purge_lines(run, terms, settings.zone):
        print(line)
    return 0


def purge_lines(run: Any, terms: Any, zone: Any) -> list[str]:
    """What `pmccg purge` prints: the cases purged, the messages deleted in Slack (and those that could
    not be, with why), and whether the database's files were rewritten. No free text, no names."""
    from bot.records import retention
    from handlers.slack.workspace import DELETE_REASONS

    dry = run.dry_run
    records = terms.records
    lines = [f"Retention: free text is purged {records.retention_days} days after a case is closed or cancelled, "
             f"and {records.open_case_retention_days} days after the call of a case never closed."]
    if not run.purged:
        lines.append("No case is past its retention period with free text left.")
    verb = "would purge" if dry else "purged"
    for item in run.purged:
        ended = item.ended_at.astimezone(zone)
        how = "never closed, call" if item.ended == retention.NEVER_CLOSED else item.ended
        lines.append(f"{item.reference}  {how} {ended:%Y-%m-%d}  {verb} {item.fields} free-text fields")
    if run.purged:
        n = len(run.purged)
        lines.append(("Dry run: nothing was changed. " if dry else "")
                     + f"{n} case{'s' if n != 1 else ''}; dates, counts and categories are kept.")
    if run.deleted:
        lines.append(f"In Slack, {'would delete' if dry else 'deleted'} {len(run.deleted)} of the bot's messages "
                     "and files about purged cases:")
        for reference, kinds in retention.summary_counts(run.deleted).items():
            lines.append(f"  {reference}  " + ", ".join(f"{what} ({n})" for what, n in sorted(kinds.items())))
    if run.not_deleted:
        n = len(run.not_deleted)
        verb = ("cannot be deleted" if dry
                else f"{'was' if n == 1 else 'were'} not deleted (tried again at the next purge)")
        lines.append(f"Still in Slack, {n} of the bot's messages and files about purged cases {verb}:")
        for r in run.not_deleted:
            # A direct message's recipient is the person (a user id), a post's is its room.
            where = f"to {r.recipient}" if r.recipient[:1] in ("U", "W") else f"in {r.room or r.recipient}"
            lines.append(f"  {r.reference}  {r.what} {where}: {retention.reason_words(r.error, DELETE_REASONS)}")
    if not run.deleted and not run.not_deleted:
        lines.append("In Slack, no message or file of a purged case is left to delete.")
    if run.erased is True:
        lines.append("Database: the purged text " + ("would be erased from its files." if dry
                                                     else "was erased from its files."))
    elif run.erased is False:
        lines.append("Database: the purged text could not be erased from its files now (in use); "
                     "tried again at the next purge.")
    return lines


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.domain.errors import InvalidInput
    from bot.records import annual_report, attendance_matrix, report_files
    from bot.records.period import parse_year
    from storage.db import session_factory, upgrade

    terms, engine = load_terms(settings.config_path), _engine(settings)
    now = clock.now()
    try:
        year = parse_year(args.year, now, settings.zone)
    except InvalidInput as exc:
        raise UsageError(f"--year: {exc.fields['year']}") from exc
    upgrade(engine)
    with session_factory(engine)() as session:
        if args.report_command == "attendance":
            files = report_files.attendance_files(attendance_matrix.build(session, terms, year, settings.zone, now))
        else:
            files = report_files.annual_files(annual_report.build(session, terms, year, settings.zone, now))
    for path in report_files.write(files, Path(args.out)):
        print(path)
    return 0


def cmd_teams_package(args: argparse.Namespace, settings: Settings) -> int:
    # Reads the environment (after .env) itself: only this command needs the package's settings.
    from handlers.teams.manifest import PackageSettings, PackageSettingsError, app_package, build_manifest

    try:
        package = PackageSettings.from_env(os.environ)
    except PackageSettingsError as exc:
        raise UsageError(f"{exc}\nExport it, or put it in a .env file in the working directory.") from exc
    terms = load_terms(settings.config_path)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: is not a folder. Create it, or give another file with --out.")
    out.write_bytes(app_package(build_manifest(package, name=terms.name, short_name=terms.short_name)))
    if package.placeholders:
        print(f"pmccg: not set, so the app's page in Teams shows a placeholder: {', '.join(package.placeholders)}. "
              "Set them before publishing the app to everyone (README, Install into Microsoft Teams).",
              file=sys.stderr)
    print(out)
    print(f"Manifest id {package.manifest_id}, version {package.version}. Upload it in the Teams admin centre "
          "(Teams apps, Manage apps, Upload new app).")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pmccg",
        description="PMCCG bot: runs a Performance Management Conference Call Group in Slack. Settings come "
        "from the environment or a .env file (see the README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="HTTP mode: serve Slack's requests on $PORT (production)",
                           description="Serve POST /slack/events and GET /healthz with gunicorn on $PORT "
                           "(default 3000). Needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET.")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.set_defaults(run=cmd_serve)
    socket = sub.add_parser("socket", help="Socket Mode: for a laptop or a locked-down network",
                            description="Connect to Slack over a WebSocket: no public URL needed. Needs "
                            "SLACK_BOT_TOKEN and SLACK_APP_TOKEN, and Socket Mode turned on in the app.")
    socket.set_defaults(run=cmd_socket)
    worker = sub.add_parser("worker", help="run the scheduler alone: reminders, agenda, roll-call",
                            description="Tick every PMCCG_TICK_SECONDS and send what is due. Run several on one "
                            "PostgreSQL database for scale-out (each message is sent once); on SQLite run one. "
                            "Needs SLACK_BOT_TOKEN.")
    worker.set_defaults(run=cmd_worker)
    sandbox = sub.add_parser("sandbox", help="try it without Slack: a local workspace in the browser",
                             description="Start the bot with a local stand-in for Slack and a web page at "
                             "http://127.0.0.1:PORT (default 8080): a fictional roster, a movable clock, the "
                             "whole case from convening to closure. Needs no Slack settings.")
    sandbox.add_argument("--platform", choices=("slack", "teams"), default="slack",
                         help="which chat platform the sandbox stands in for (default slack)")
    sandbox.add_argument("--port", type=int, default=8080, help="port of the page on 127.0.0.1 (default 8080)")
    sandbox.add_argument("--data", default="pmccg-sandbox",
                         help="folder for the sandbox's own database (default ./pmccg-sandbox; reset at each start)")
    sandbox.set_defaults(run=cmd_sandbox)
    db = sub.add_parser("db", help="database tasks").add_subparsers(dest="db_command", required=True,
                                                                  metavar="TASK")
    db.add_parser("upgrade", help="apply the migrations to DATABASE_URL",
                  description="Apply the database migrations to DATABASE_URL. The servers do this at start on "
                  "SQLite; on PostgreSQL run it once per deploy.").set_defaults(run=cmd_db_upgrade)
    rost = sub.add_parser("roster", help="who holds which role").add_subparsers(dest="roster_command",
                                                                               required=True, metavar="TASK")
    imp = rost.add_parser("import", help="replace the roster from a CSV (user_id,roles,professions)",
                          description="Replace the roster from a CSV with the header user_id,roles,professions. "
                          "roles and professions are ';'-separated. All or nothing: any bad line imports nothing. "
                          "Each person is checked with the deployment's platform (an active person of the "
                          "workspace, not an app): on Slack it needs SLACK_BOT_TOKEN (and SLACK_API_URL for "
                          "GovSlack), like serve; with PMCCG_PLATFORM=teams, user_id is the Entra object ID, "
                          "checked with Microsoft Graph (TEAMS_CLIENT_ID, TEAMS_TENANT_ID, TEAMS_CLIENT_SECRET).")
    imp.add_argument("file", help="the CSV file")
    imp.set_defaults(run=cmd_roster_import)
    rost.add_parser("list", help="print the roster as CSV",
                    description="Print the roster as CSV, in the format `pmccg roster import` reads."
                    ).set_defaults(run=cmd_roster_list)
    rost.add_parser("history", help="print every roster change as CSV (who, when, which roles)",
                    description="Print the roster history, oldest first, as CSV: when (in PMCCG_TIMEZONE), who "
                    "made the change (a Slack user id, or cli), how (import or chat), whose roles and professions "
                    "were added or removed. It is append-only: a role granted and later removed shows twice."
                    ).set_defaults(run=cmd_roster_history)
    export = sub.add_parser("export", help="write a case's case file (HTML, Markdown, JSON)",
                            description="Write the case file of REFERENCE (e.g. PMCCG-2026-007) as "
                            "case-file-REFERENCE.html (to print and file) with its .md and .json sources.")
    export.add_argument("reference", help="the case reference")
    export.add_argument("--out", default=".", help="folder to write the files to (default: the current folder)")
    export.set_defaults(run=cmd_export)
    purge = sub.add_parser("purge", help="purge the free text of cases past the retention period",
                           description="Replace the free text of cases closed (or cancelled) longer ago than the "
                           "terms' records.retention_days, or never closed records.open_case_retention_days after "
                           "their call, with a dated marker (dates, counts and categories stay); delete the bot's "
                           "messages and files about them in Slack (needs SLACK_BOT_TOKEN); erase the text from "
                           "the database's files. Lists what could not be deleted, and why.")
    purge.add_argument("--dry-run", action="store_true",
                       help="list what would be purged and deleted, and change nothing")
    purge.set_defaults(run=cmd_purge)
    report = sub.add_parser("report", help="the year's attendance matrix or annual summary report").add_subparsers(
        dest="report_command", required=True, metavar="REPORT")
    for name, help_text, description in (
        ("attendance", "members x meetings for a year, with each member's rate (CSV and HTML)",
         "Write the attendance matrix of the calls held in YEAR: each member's cell per meeting, their rate and "
         "whether it is under the terms' target, as CSV and printable HTML."),
        ("annual", "the year's anonymised activity and outcomes (HTML, Markdown, JSON)",
         "Write the annual summary report of the cases convened in YEAR, anonymised (counts under the terms' "
         "small-number threshold are hidden), as printable HTML with its Markdown and JSON sources."),
    ):
        one = report.add_parser(name, help=help_text, description=description)
        one.add_argument("--year", default=None, help="the year (default: this year in PMCCG_TIMEZONE)")
        one.add_argument("--out", default=".", help="folder to write the files to (default: the current folder)")
        one.set_defaults(run=cmd_report)
    teams_parser = sub.add_parser("teams", help="Microsoft Teams: serve the Bot Framework's requests on $PORT; "
                                  "`teams package`: the app package to upload",
                                  description="Without a task: serve POST /api/messages (Teams activities, their "
                                  "tokens checked) and GET /healthz with uvicorn on $PORT (default 3000), with the "
                                  "in-process scheduler unless PMCCG_RUN_SCHEDULER=false. Needs TEAMS_CLIENT_ID, "
                                  "TEAMS_TENANT_ID and TEAMS_CLIENT_SECRET (see the README, 'Running on Microsoft "
                                  "Teams').")
    teams_parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    teams_parser.set_defaults(run=cmd_teams)
    teams = teams_parser.add_subparsers(dest="teams_command", required=False, metavar="[TASK]")
    package = teams.add_parser("package", help="write the Teams app package (zip) to upload",
                               description="Write the Teams app package: manifest.json, color.png and outline.png "
                               "in a zip, to upload in the Teams admin centre. Needs TEAMS_CLIENT_ID and "
                               "PMCCG_PUBLIC_HOST (README, Install into Microsoft Teams).")
    package.add_argument("--out", default="pmccg-teams-app.zip",
                         help="the zip file to write (default: pmccg-teams-app.zip in the current folder)")
    package.set_defaults(run=cmd_teams_package)
    return parser


# Long-running commands: their log is what the operator watches, so our own events show at INFO.
SERVERS = frozenset({"serve", "socket", "teams", "worker", "sandbox"})


def _add_verbose(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-v/--verbose on `pmccg` itself and on every command (`pmccg -v roster list`, `pmccg roster list -v`)."""
    parser.add_argument("-v", "--verbose", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="also log what the bot and its libraries do (migrations, requests) at INFO, on stderr")
    for action in parser._actions:  # noqa: SLF001  (argparse offers no public walk of its subcommands)
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in dict.fromkeys(action.choices.values()):
                _add_verbose(sub, top=False)


def log_levels(command: str, verbose: bool, env_level: str | None) -> tuple[int, int]:
    """(our level, the libraries' level). A command prints only what was asked for: migrations and
    libraries log at INFO only with -v or PMCCG_LOG_LEVEL; errors always."""
    if env_level and env_level.strip():
        try:
            chosen = logs.parse_level(env_level)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if verbose:
            chosen = min(chosen, logging.INFO)
        return chosen, chosen
    if verbose:
        return logging.INFO, logging.INFO
    return (logging.INFO if command in SERVERS else logging.WARNING), logging.WARNING


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _add_verbose(parser, top=True)
    args = parser.parse_args(argv)
    logs.configure(logging.WARNING)  # until the settings (and .env) say otherwise
    try:
        settings = load_settings()
        command = args.command if getattr(args, "teams_command", None) is None else f"teams {args.teams_command}"
        args.log_level, args.library_log_level = log_levels(command, args.verbose,
                                                            os.environ.get("PMCCG_LOG_LEVEL"))
        logs.configure(args.log_level, libraries=args.library_log_level)
        return int(args.run(args, settings))
    except (ConfigError, TermsError, UsageError) as exc:
        print(f"pmccg: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from storage.db import is_unavailable

        if not is_unavailable(exc):
            raise
        # What failed where, for -v; the person is told in plain words below.
        log.info("database_unavailable", exc_info=exc, extra={"event": "database_unavailable",
                                                              "error": type(exc).__name__})
        print(f"pmccg: the database could not be used just now ({type(exc).__name__}): it may be down, locked by "
              "another process or read-only. Check DATABASE_URL, then run the command again.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
