"""create_app(): the Bolt app with its listeners, error handler and services; never built on import."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy.engine import Engine

import handlers.slack.listeners
from bot import clock
from bot.config import Settings
from bot.domain.terms import Terms, load_terms
from bot.services import Clock, Services, build_services
from handlers.slack import payloads
from handlers.slack.after_ack import AfterAck
from handlers.slack.directory import Directory
from handlers.slack.forms import foreign_reply_url, reply_hosts

log = logging.getLogger(__name__)


def make_client(settings: Settings) -> WebClient:
    """A Web API client that waits out 429s (Retry-After) and retries 5xx and dropped connections; each
    attempt gives up after PMCCG_SLACK_TIMEOUT_SECONDS."""
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                       timeout=int(max(1, round(settings.slack_timeout_seconds))))
    client.retry_handlers.extend([
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ])
    return client


class GatedApp(App):
    """Bolt's App whose listeners run in `after_ack`'s pool (handlers/slack/after_ack.py): Bolt acknowledges only once a
    listener has called ack(), so the work after earlier acknowledgements must never hold the threads a new
    request's listener needs."""

    def __init__(self, *, after_ack: AfterAck, **kwargs: Any) -> None:
        super().__init__(listener_executor=after_ack.executor, **kwargs)
        self.after_ack = after_ack

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        try:
            return super().dispatch(req)
        finally:
            self.after_ack.request_done()


@dataclass(frozen=True)
class Bot:
    app: App
    services: Services
    after_ack: AfterAck | None = None


def create_app(settings: Settings, *, terms: Terms | None = None, engine: Engine | None = None,
               client: WebClient | None = None, now: Clock = clock.now) -> Bot:
    """Build the Bolt app. Signature verification stays on; listeners get `services` injected."""
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    terms = terms or load_terms(settings.config_path)
    client = client or make_client(settings)
    services = build_services(settings, terms, engine, Directory(client), now)
    # Bolt copies its logger's level and logs rejected request bodies at INFO: give it a logger
    # held at WARNING, so nothing typed into a form reaches the log through it.
    bolt_logger = logging.getLogger("pmccg.bolt")
    bolt_logger.setLevel(logging.WARNING)
    after_ack = AfterAck(settings.after_ack_workers, settings.after_ack_queue,
                         timeout=settings.slack_timeout_seconds)
    app = GatedApp(client=client, signing_secret=settings.slack_signing_secret, token_verification_enabled=False,
                   request_verification_enabled=True, process_before_response=False, logger=bolt_logger,
                   after_ack=after_ack)

    @app.middleware
    def refuse_wrong_shapes(req: BoltRequest, resp: BoltResponse, next: Any) -> BoltResponse | None:
        # Over HTTP bot/web.py refuses these before Bolt; in Socket Mode this is the same check.
        wrong = payloads.problem(req.body)
        if wrong is not None:
            log.warning("malformed_slack_request", extra={"event": "malformed_slack_request",
                                                          "kind": payloads.kind_of(req.body), "field": wrong})
            return BoltResponse(status=400, body="")
        return next()  # type: ignore[no-any-return]

    @app.middleware
    def drop_slack_retries(req: BoltRequest, resp: BoltResponse, next: Any) -> BoltResponse | None:
        # Slack retries a request it thinks timed out. Commands and clicks were already handled
        # (we acknowledge at once), so a retry is answered and dropped, never run twice.
        if req.headers.get("x-slack-retry-num") and (
            req.body.get("command") or req.body.get("type") in ("block_actions", "view_submission")
        ):
            return BoltResponse(status=200, body="")
        return next()  # type: ignore[no-any-return]

    hosts = reply_hosts(settings)

    @app.middleware
    def refuse_foreign_reply_urls(req: BoltRequest, resp: BoltResponse, next: Any) -> BoltResponse | None:
        # Slack's response URLs are on Slack's hosts; one elsewhere means an edited request. Refused
        # before any listener runs, so nothing is changed and nothing (not even an error reply) is
        # sent to that address (issue 12, rule 3).
        if isinstance(req.body, dict) and foreign_reply_url(req.body, hosts):
            log.warning("reply_url_refused", extra={"event": "reply_url_refused",
                                                    "kind": payloads.kind_of(req.body)})
            return BoltResponse(status=200, body="")
        return next()  # type: ignore[no-any-return]

    @app.use
    def inject_services(context: BoltContext, next: Any) -> None:
        # A session *factory*, not an open session: Bolt's next() does not wrap the listener.
        context["services"] = services
        # When the request came in: the error handler answers a failed form in the form itself only
        # while Slack still waits (3 s), and by direct message after (handlers/slack/listeners/errors.py).
        context["received_at"] = time.monotonic()
        next()

    handlers.slack.listeners.register(app)

    @app.middleware
    def admit(req: BoltRequest, resp: BoltResponse, next: Any) -> BoltResponse | None:
        # Last, so that only a request about to reach its listener is counted: admitted (its ack() and
        # respond() are the pool's), or answered at once as busy and never run.
        busy = after_ack.admit(req)
        if busy is not None:
            return busy
        return next()  # type: ignore[no-any-return]

    return Bot(app=app, services=services, after_ack=after_ack)
