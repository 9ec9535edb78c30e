"""A real crash: `pmccg serve` killed (SIGKILL) in the middle of convening, then started again.

The stand-in holds back its answer to the attendance board's post, so the server is killed with the room made,
the members invited and the header posted. Started again, it must clean up the orphan within a bounded time,
give the next case the next clean reference and channel name, and ignore a click on the orphan's header.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import now
from bot.domain.convene_recovery import NOT_COMPLETED
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from storage.db import SessionFactory
from storage.tables import Case, Convening, ConveningState
from tests.factories import convene_state, load_roster
from tests.test_serve_process import REPO, Served, _free_port, _stop, _wait_healthy

CLEANUP_WITHIN = 30.0  # seconds from the restart being healthy; the orphan time is set to 1 s below


def _poll(what: str, predicate: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


@contextmanager
def _serve(engine: Engine, fake: FakeSlack, log_dir: Path, secret: str) -> Iterator[Served]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PMCCG_", "DATABASE_URL"))}
    env.update({"PORT": str(port), "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                "WEB_CONCURRENCY": "2", "PMCCG_TICK_SECONDS": "1", "PMCCG_CONVENE_ORPHAN_SECONDS": "1",
                "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": secret, "SLACK_API_URL": fake.url,
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))})
    log_dir.mkdir()
    with open(log_dir / "stdout.log", "wb") as out, open(log_dir / "stderr.log", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"],
                                cwd=log_dir, env=env, stdout=out, stderr=err, start_new_session=True)
        served = Served(proc, f"http://127.0.0.1:{port}", secret, "xoxb-test", log_dir)
        try:
            _wait_healthy(served)
            yield served
        finally:
            _stop(proc)


def _post(served: Served, payload: dict[str, Any]) -> requests.Response:
    body = urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()))
    signature = SignatureVerifier(served.secret).generate_signature(timestamp=ts, body=body)
    return requests.post(f"{served.url}/slack/events", data=body.encode(), timeout=10, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature})


def _submit(served: Served, view_id: str) -> requests.Response:
    return _post(served, {
        "type": "view_submission", "team": {"id": "T0001", "domain": "nhs-test"},
        "user": {"id": "U0MANAGER", "team_id": "T0001"}, "api_app_id": "A0001", "trigger_id": "t-1",
        "view": {"id": view_id, "type": "modal", "callback_id": "convene", "private_metadata": "", "hash": "h",
                 "state": {"values": convene_state(now())}}})


def _click(served: Served, fake: FakeSlack, action: str, value: str, room: str, ts: str) -> requests.Response:
    return _post(served, {
        "type": "block_actions", "team": {"id": "T0001", "domain": "nhs-test"},
        "user": {"id": "U0MANAGER", "team_id": "T0001"}, "api_app_id": "A0001", "trigger_id": "t-2",
        "response_url": fake.url + "response", "channel": {"id": room},
        "container": {"type": "message", "channel_id": room, "message_ts": ts}, "message": {"ts": ts, "text": ""},
        "actions": [{"action_id": action, "block_id": "case_admin", "type": "button", "value": value,
                     "action_ts": str(time.time())}]})


def _convenings(sessions: SessionFactory) -> list[Convening]:
    with sessions() as session:
        return list(session.exec(select(Convening).order_by(Convening.id)))


def _cases(sessions: SessionFactory) -> list[Case]:
    with sessions() as session:
        return list(session.exec(select(Case)))


def test_serve_killed_mid_convene_cleans_up_the_orphan_after_restart_and_the_next_case_is_clean(
        engine: Engine, sessions: SessionFactory, terms: Terms, directory: FakeSlack, tmp_path: Path) -> None:
    fake = directory
    with sessions() as session:
        load_roster(session, terms)
    secret = f"secret-{uuid.uuid4().hex}"
    year = now().year

    # The header is answered at once; the board's post is held back far longer than the test.
    fake.delay_next("chat.postMessage", 0)
    fake.delay_next("chat.postMessage", 120)
    with _serve(engine, fake, tmp_path / "first", secret) as first:
        assert _submit(first, "VCRASH1").json()["response_action"] == "update"
        _poll("the board's post held back by the stand-in", lambda: fake.in_flight("chat.postMessage"), 20)
        orphan = _poll("the header recorded on the convening", lambda: next(
            (c for c in _convenings(sessions) if c.header_ref), None), 5)
        os.killpg(first.proc.pid, signal.SIGKILL)  # the master and its workers, mid-convene
        first.proc.wait(timeout=10)
        killed = time.monotonic()
    assert orphan.state == ConveningState.PENDING and orphan.room_id and _cases(sessions) == []
    assert not fake.channels[orphan.room_id]["is_archived"]

    with _serve(engine, fake, tmp_path / "second", secret) as second:
        done = _poll("the orphan rolled back", lambda: next(
            (c for c in _convenings(sessions) if c.state == ConveningState.ROLLED_BACK), None), CLEANUP_WITHIN)
        cleaned = time.monotonic() - killed
        assert done.id == orphan.id
        # The bot's message in the orphan room is deleted, the room renamed (its name is free) and archived.
        assert [(c.params["channel"], c.params["ts"]) for c in fake.delivered("chat.delete")] == \
            [(orphan.room_id, orphan.header_ref)]
        room = fake.channels[orphan.room_id]
        assert room["is_archived"] and room["name"] == f"void-{orphan.id}-pmccg-{year}-001"
        # The convener hears that nothing was kept.
        told = fake.wait_for("chat.postMessage", lambda c: "did not complete" in str(c.params.get("text")))
        assert [c.params["channel"] for c in told] == ["U0MANAGER"]

        # The next case: the next clean reference and channel name, not "-2".
        _submit(second, "VNEXT1")
        (case,) = _poll("the next case", lambda: _cases(sessions), 20)
        assert case.reference == f"PMCCG-{year}-001" and case.room_name == f"pmccg-{year}-001"
        assert case.room_id != orphan.room_id

        # A click on the orphan header's button changes nothing, and says so.
        fake.clear()
        assert _click(second, fake, "case_cancel", case.reference, orphan.room_id, orphan.header_ref or "").ok
        (reply,) = fake.wait_for("response", timeout=10)
        assert reply.params["text"] == NOT_COMPLETED and reply.params["response_type"] == "ephemeral"
        time.sleep(0.5)  # anything the click would have done (a modal opened) has had time to happen
        assert fake.calls_to("views.open") == []
        with sessions() as session:
            assert session.get(Case, case.id).status == "convened"  # type: ignore[union-attr]
    assert cleaned < CLEANUP_WITHIN + 10, cleaned
