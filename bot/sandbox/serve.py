"""`pmccg sandbox`: start the stand-in, the bot and the page on loopback, and say where to look."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from werkzeug.serving import make_server

from bot.sandbox.page import create_page
from bot.sandbox.runtime import Sandbox


def run(data_dir: Path, port: int, platform: str = "slack") -> int:
    # The scheduler's and the inner servers' per-request lines would drown what the sandbox says.
    for noisy in ("apscheduler", "werkzeug", "alembic", "uvicorn", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if platform == "teams":
        return run_teams(data_dir, port)
    sandbox = Sandbox(data_dir).start()
    try:
        server = make_server("127.0.0.1", port, create_page(sandbox), threaded=True)
    except OSError as exc:
        sandbox.stop()
        print(f"pmccg: port {port} on 127.0.0.1 is not free ({exc.strerror}). Try --port 8081.")
        return 2
    print(f"PMCCG sandbox: open http://127.0.0.1:{server.server_port} in your browser "
          "(a local stand-in for Slack; everyone in it is fictional). Ctrl-C stops it.", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    server.server_close()
    sandbox.stop()
    return 0


def run_teams(data_dir: Path, port: int) -> int:
    """The Teams twin: the Teams stand-in, `pmccg teams`' app and scheduler, and a Teams-like page."""
    from bot.sandbox.teams_page import create_teams_page
    from bot.sandbox.teams_runtime import TeamsSandbox

    print("PMCCG Teams sandbox: starting (the Teams SDK takes a few seconds)...", flush=True)
    sandbox = TeamsSandbox(data_dir).start()
    try:
        server = make_server("127.0.0.1", port, create_teams_page(sandbox), threaded=True)
    except OSError as exc:
        sandbox.stop()
        print(f"pmccg: port {port} on 127.0.0.1 is not free ({exc.strerror}). Try --port 8081.")
        return 2
    print(f"PMCCG Teams sandbox: open http://127.0.0.1:{server.server_port} in your browser "
          "(a local stand-in for Microsoft Teams; everyone in it is fictional). Ctrl-C stops it.", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    server.server_close()
    sandbox.stop()
    return 0
