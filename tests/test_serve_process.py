"""`pmccg serve` for real: a gunicorn process on a free port, answering Slack and the health check."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from slack_sdk.signature import SignatureVerifier

from bot.clock import now
from bot.sandbox.slack_api import FakeSlack
from tests.factories import convene_state

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, secret: str, token: str, log_dir: Path) -> None:
        self.proc, self.url, self.secret, self.token, self.log_dir = proc, url, secret, token, log_dir

    def stderr(self) -> str:
        return (self.log_dir / "stderr.log").read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        return (self.log_dir / "stdout.log").read_text(encoding="utf-8", errors="replace")

    def command(self, text: str, response_url: str) -> requests.Response:
        body = urlencode({"token": "legacy", "team_id": "T0001", "team_domain": "nhs-test",
                          "channel_id": "C0GENERAL", "user_id": "U0MANAGER", "command": "/pmccg", "text": text,
                          "response_url": response_url, "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}"})
        ts = str(int(time.time()))
        signature = SignatureVerifier(self.secret).generate_signature(timestamp=ts, body=body)
        return requests.post(f"{self.url}/slack/events", data=body.encode(), timeout=10, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature})


def _wait_healthy(served: Served) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last: Any = None
    while time.monotonic() < deadline:
        if served.proc.poll() is not None:
            pytest.fail(f"pmccg serve exited with {served.proc.returncode}:\n{served.stderr()[-3000:]}")
        try:
            response = requests.get(f"{served.url}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = response.status_code
        except requests.ConnectionError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    pytest.fail(f"/healthz not 200 within {STARTUP_TIMEOUT}s (last: {last}):\n{served.stderr()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> int | None:
    """Graceful stop (SIGTERM to the gunicorn master we started); kill its process group if it hangs."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # the group of the process started below, and only it
        proc.wait(timeout=10)
    return proc.returncode


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, FakeSlack]]:
    token = f"xoxb-test-{uuid.uuid4().hex}"
    secret = f"secret-{uuid.uuid4().hex}"
    port = _free_port()
    with FakeSlack() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PMCCG_", "DATABASE_URL"))}
        env.update({"PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'pmccg.db'}",
                    "SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": secret, "SLACK_API_URL": fake.url,
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                    "PYTHONUNBUFFERED": "1"})
        log_dir = tmp_path / "logs"
        log_dir.mkdir()
        with open(log_dir / "stdout.log", "wb") as out, open(log_dir / "stderr.log", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"],
                                    cwd=tmp_path, env=env, stdout=out, stderr=err, start_new_session=True)
            try:
                yield Served(proc, f"http://127.0.0.1:{port}", secret, token, log_dir), fake
            finally:
                _stop(proc)


def test_pmccg_serve_runs_gunicorn_answers_slack_and_keeps_secrets_out_of_the_log(
        served: tuple[Served, FakeSlack]) -> None:
    server, fake = served
    _wait_healthy(server)

    health = requests.get(f"{server.url}/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert server.proc.poll() is None

    # It is gunicorn serving, not a development server.
    startup = server.stderr()
    assert "gunicorn" in startup.lower()
    assert "Booting worker" in startup
    assert "WARNING: This is a development server" not in startup
    # The migrations it ran at start are not in its log unless -v or PMCCG_LOG_LEVEL asks for them.
    assert "alembic" not in startup and "Running upgrade" not in startup

    # `/pmccg` on its own: the help comes straight back in the HTTP answer, only to the person who asked.
    response = server.command("", fake.url + "response")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "`/pmccg convene`" in body["text"] and "`/pmccg help`" in body["text"]

    # `/pmccg help`: acknowledged at once (empty 200), and the same help reaches the person privately
    # through the response_url.
    response = server.command("help", fake.url + "response")
    assert response.status_code == 200
    (reply,) = fake.wait_for("response", timeout=10)
    assert reply.params["response_type"] == "ephemeral"
    assert "`/pmccg convene`" in reply.params["text"] and "`/pmccg help`" in reply.params["text"]

    # An unsigned request is still refused behind gunicorn.
    unsigned = requests.post(f"{server.url}/slack/events", data=b"command=%2Fpmccg&text=", timeout=10,
                             headers={"Content-Type": "application/x-www-form-urlencoded",
                                      "X-Slack-Request-Timestamp": str(int(time.time()))})
    assert unsigned.status_code == 401

    # A graceful stop: SIGTERM ends the master and its worker promptly.
    returncode = _stop(server.proc)
    assert returncode == 0, server.stderr()[-3000:]
    assert "Shutting down" in server.stderr() or "Handling signal: term" in server.stderr()

    everything = server.stderr() + server.stdout()
    assert server.token not in everything
    assert server.secret not in everything


def test_a_rejected_request_does_not_write_what_was_typed_into_the_log(served: tuple[Served, FakeSlack]) -> None:
    """A convene form submission that arrives late (stale timestamp) is refused: its text must not be logged."""
    server, _fake = served
    _wait_healthy(server)
    canary = f"canary-{uuid.uuid4().hex[:12]}"
    payload = {"type": "view_submission", "team": {"id": "T0001", "domain": "nhs-test"},
               "user": {"id": "U0MANAGER", "team_id": "T0001"}, "api_app_id": "A0001", "trigger_id": "t-1",
               "view": {"id": "VSTALE1", "type": "modal", "callback_id": "convene", "private_metadata": "",
                        "hash": "h", "state": {"values": convene_state(
                            now(), concern=f"Two drug errors on ward 7 ({canary}); second one harmed a patient.")}}}
    body = urlencode({"payload": json.dumps(payload)})
    stale = str(int(time.time()) - 600)
    signature = SignatureVerifier(server.secret).generate_signature(timestamp=stale, body=body)
    response = requests.post(f"{server.url}/slack/events", data=body.encode(), timeout=10, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stale,
        "X-Slack-Signature": signature})
    assert response.status_code == 401
    _stop(server.proc)
    log = server.stderr() + server.stdout()
    # Bolt logs rejected request bodies at INFO; handlers/slack/app.py gives it a logger held at WARNING.
    assert canary not in log


@pytest.mark.pg
def test_one_serve_with_several_workers_runs_one_scheduler_and_hands_it_on_when_that_worker_dies(
        tmp_path: Path, pg_url: str) -> None:
    port = _free_port()
    with FakeSlack() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PMCCG_", "DATABASE_URL"))}
        env.update({"PORT": str(port), "DATABASE_URL": pg_url, "WEB_CONCURRENCY": "3", "PMCCG_TICK_SECONDS": "1",
                    "PMCCG_LOG_LEVEL": "INFO", "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret",
                    "SLACK_API_URL": fake.url, "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))})
        log_dir = tmp_path / "logs"
        log_dir.mkdir()
        with open(log_dir / "stdout.log", "wb") as out, open(log_dir / "stderr.log", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"],
                                    cwd=tmp_path, env=env, stdout=out, stderr=err, start_new_session=True)
            server = Served(proc, f"http://127.0.0.1:{port}", "secret", "xoxb-test", log_dir)
            try:
                _wait_healthy(server)

                def leaders() -> list[int]:
                    return [int(line.split("pid=")[1].split()[0]) for line in server.stderr().splitlines()
                            if "scheduler_leader" in line]

                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and server.stderr().count("Booting worker") < 3:
                    time.sleep(0.2)
                time.sleep(3)  # every worker has ticked (or tried to) a few times by now
                assert len(leaders()) == 1, server.stderr()[-3000:]
                os.kill(leaders()[0], signal.SIGKILL)
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and len(leaders()) < 2:
                    time.sleep(0.2)
                first, second = leaders()
                assert second != first
            finally:
                _stop(proc)


def _send_without_finishing(url: str, head: str, parts: list[bytes]) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode())
        for part in parts:
            sock.sendall(part)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received


def test_behind_gunicorn_a_body_over_1_mib_is_refused_without_being_read_in_full(
        served: tuple[Served, FakeSlack]) -> None:
    server, fake = served
    _wait_healthy(server)
    head = (f"POST /slack/events HTTP/1.1\r\nHost: {server.url.removeprefix('http://')}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nX-Slack-Request-Timestamp: {int(time.time())}\r\n"
            "X-Slack-Signature: v0=unchecked\r\n")
    declared = _send_without_finishing(server.url, head + f"Content-Length: {8 * 1024 * 1024}\r\n\r\n",
                                       [b"payload=" + b"x" * 4096])
    assert declared.startswith(b"HTTP/1.1 413"), declared[:200]
    chunk = b"x" * (64 * 1024)
    chunked = _send_without_finishing(server.url, head + "Transfer-Encoding: chunked\r\n\r\n",
                                      [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(17)])
    assert chunked.startswith(b"HTTP/1.1 413"), chunked[:200]
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200  # and the server carries on
    assert [c for c in fake.calls if c.method != "auth.test"] == []
