"""The WSGI app: Slack's one URL (POST /slack/events) and a health check for the load balancer.

At the door, in this order: a body over MAX_BODY_BYTES is refused (413) before it is read in full;
a request not signed with the signing secret, or stamped more than MAX_CLOCK_SKEW_SECONDS from now
either way (a replay, or one prepared in advance), is refused (401); a signed body that is not
Slack's shape (handlers/slack/payloads.py) is refused (400). Only then does Bolt see it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Mapping
from typing import IO

from flask import Flask, Response, jsonify, request
from slack_bolt.adapter.flask.handler import to_flask_response
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import parse_body
from sqlalchemy.engine import Engine

from handlers.slack import payloads
from handlers.slack.app import Bot
from storage.db import is_reachable, is_writable

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Slack's own payloads are a few KiB; a full modal's state well under 100 KiB
MAX_CLOCK_SKEW_SECONDS = 5 * 60  # Slack's documented window for X-Slack-Request-Timestamp
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_READ_CHUNK = 64 * 1024


def read_body(stream: IO[bytes], limit: int) -> bytes | None:
    """The body, or None as soon as more than `limit` bytes have arrived (the rest is never read).

    Covers a chunked body without Content-Length too: the server (gunicorn, werkzeug) de-chunks the
    stream and ends it, and this stops reading one byte past the limit.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


def is_signed(secret: str, raw: bytes, headers: Mapping[str, str], now: float) -> bool:
    """Slack's v0 signature over the raw bytes, with a timestamp no more than five minutes off.

    slack_sdk's SignatureVerifier (3.48) also refuses stamps five minutes ahead (abs()), but raises
    on a timestamp that is not a number and on a body that is not UTF-8; this never raises, and
    states the window itself rather than relying on a library's reading of it.
    """
    timestamp = headers.get("X-Slack-Request-Timestamp") or ""
    signature = headers.get("X-Slack-Signature") or ""
    if not secret or not _TIMESTAMP.fullmatch(timestamp) or not signature:
        return False
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return False
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def _refused(status: int, error: str) -> tuple[Response, int]:
    response = jsonify(error=error)
    if status == 413:
        # The rest of the body is never read: the connection cannot carry another request.
        response.headers["Connection"] = "close"
    return response, status


def create_web_app(bot: Bot, engine: Engine) -> Flask:
    web = Flask("pmccg")
    secret = bot.services.settings.slack_signing_secret or ""

    @web.post("/slack/events")
    def slack_events() -> Response | tuple[Response, int]:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            log.warning("request_too_large", extra={"event": "request_too_large", "declared": request.content_length})
            return _refused(413, "request body too large")
        raw = read_body(request.stream, MAX_BODY_BYTES)
        if raw is None:
            log.warning("request_too_large", extra={"event": "request_too_large", "declared": "chunked"})
            return _refused(413, "request body too large")
        # Wall-clock time, as Slack signs with it (the sandbox moves only the bot's clock).
        if not is_signed(secret, raw, request.headers, time.time()):
            return _refused(401, "invalid request signature")
        # Parsed here, before Bolt: a signed body that is not Slack's shape is a 400 with a log line
        # naming the field (never its value), not a 500 or a listener failing half way.
        content_type = (request.content_type or "").split(";")[0].strip() or None
        try:
            text = raw.decode("utf-8")
            body = parse_body(text, content_type)
        except (UnicodeDecodeError, ValueError, RecursionError):
            log.warning("malformed_slack_request", extra={"event": "malformed_slack_request", "kind": "unknown",
                                                          "field": "(body)"})
            return _refused(400, "malformed request")
        wrong = payloads.problem(body)
        if wrong is not None:
            log.warning("malformed_slack_request", extra={"event": "malformed_slack_request",
                                                          "kind": payloads.kind_of(body), "field": wrong})
            return _refused(400, "malformed request")
        try:
            return to_flask_response(bot.app.dispatch(BoltRequest(
                body=text, query=request.query_string.decode("latin-1"), headers=request.headers)))  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001  (a signed body Bolt cannot take: say so, keep the body out of logs)
            log.warning("bad_slack_request", extra={"event": "bad_slack_request", "kind": payloads.kind_of(body)})
            return _refused(400, "malformed request")

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        if not is_reachable(engine):
            return jsonify(status="database unreachable"), 503
        # Answers and forms write: a database that can be read but not written (locked, read-only)
        # serves nobody, so the load balancer should send traffic elsewhere and someone should look.
        if not is_writable(engine):
            return jsonify(status="database not writable"), 503
        return jsonify(status="ok"), 200

    return web

