"""Start `pmccg serve` and the bare Bolt baseline as gunicorn processes, and talk to them as Slack does."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import requests
from slack_sdk.signature import SignatureVerifier

from bench.people import roster_csv

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0
TEAM = {"id": "T0001", "domain": "nhs-bench"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _base_env(port: int, slack_url: str, workdir: Path, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PMCCG_", "DATABASE_URL"))}
    env.update({"PORT": str(port), "DATABASE_URL": f"sqlite:///{workdir / 'pmccg.db'}",
                "SLACK_BOT_TOKEN": f"xoxb-bench-{uuid.uuid4().hex}", "SLACK_SIGNING_SECRET": secret,
                "SLACK_API_URL": slack_url, "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))})
    return env


class Server:
    """A gunicorn process group we started (pmccg serve, or the bare Bolt app) on 127.0.0.1."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path, secret: str) -> None:
        self.name, self.workdir, self.secret = name, workdir, secret
        # Replies to response_url go to the stand-in, as they would go to Slack.
        self.response_url = env["SLACK_API_URL"] + "response"
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self._log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._local = threading.local()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-2000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} was not healthy within {STARTUP_TIMEOUT}s:\n{self.log()[-2000:]}")

    def log(self) -> str:
        return (self.workdir / f"{self.name}.log").read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """SIGTERM to the gunicorn master we started; kill its own process group if it hangs."""
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._log.close()

    def kill(self) -> None:
        """SIGKILL to the process group we started, when what it still has to do does not matter."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.stop()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- memory ---------------------------------------------------------------------------------

    def pids(self) -> list[int]:
        """The master and its workers (children of the master)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        found = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [self.proc.pid, *found]

    def rss_kib(self) -> dict[str, int]:
        """Resident memory (VmRSS, KiB) of the master and each worker, read from /proc."""
        out: dict[str, int] = {}
        for index, pid in enumerate(self.pids()):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out["master" if index == 0 else f"worker{index}"] = int(line.split()[1])
        return out

    # --- requests, signed as Slack signs them -------------------------------------------------------

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def post(self, body: str) -> requests.Response:
        ts = str(int(time.time()))
        signature = SignatureVerifier(self.secret).generate_signature(timestamp=ts, body=body)
        return self._session().post(f"{self.url}/slack/events", data=body.encode(), timeout=10, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature})

    def command(self, user: str, text: str) -> requests.Response:
        return self.post(urlencode({
            "token": "legacy", "team_id": TEAM["id"], "team_domain": TEAM["domain"], "channel_id": "C0GENERAL",
            "user_id": user, "command": "/pmccg", "text": text, "response_url": self.response_url,
            "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}"}))

    def click(self, user: str, action_id: str, value: str) -> requests.Response:
        payload = {"type": "block_actions", "team": TEAM, "user": {"id": user, "team_id": TEAM["id"]},
                   "api_app_id": "A0001", "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
                   "response_url": self.response_url, "channel": {"id": "C0GENERAL"},
                   "container": {"type": "message", "channel_id": "C0GENERAL", "message_ts": "1.0"},
                   "message": {"ts": "1.0", "text": ""},
                   "actions": [{"action_id": action_id, "block_id": "attendance", "type": "button",
                                "value": value, "action_ts": str(time.time())}]}
        return self.post(urlencode({"payload": json.dumps(payload)}))

    def submit(self, user: str, callback_id: str, values: dict[str, Any], view_id: str) -> requests.Response:
        payload = {"type": "view_submission", "team": TEAM, "user": {"id": user, "team_id": TEAM["id"]},
                   "api_app_id": "A0001", "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
                   "view": {"id": view_id, "type": "modal", "callback_id": callback_id, "private_metadata": "",
                            "hash": "h", "state": {"values": values}}}
        return self.post(urlencode({"payload": json.dumps(payload)}))


def start_pmccg(workdir: Path, slack_url: str, extra_env: dict[str, str] | None = None) -> Server:
    """`pmccg serve` (gunicorn, its production settings, plus `extra_env`) on SQLite in `workdir`, roster imported
    first."""
    secret = f"bench-{uuid.uuid4().hex}"
    env = _base_env(free_port(), slack_url, workdir, secret)
    env.update(extra_env or {})
    roster = workdir / "roster.csv"
    roster.write_text(roster_csv(), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bot.cli", "roster", "import", str(roster)], cwd=workdir, env=env,
                   check=True, capture_output=True)
    return Server("pmccg", [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"], env, workdir, secret)


def start_bare(workdir: Path, slack_url: str) -> Server:
    """The baseline: a Bolt app that only acknowledges, under the same gunicorn settings."""
    secret = f"bench-{uuid.uuid4().hex}"
    env = _base_env(free_port(), slack_url, workdir, secret)
    return Server("bare", [sys.executable, "-m", "bench.bare_app"], env, workdir, secret)
