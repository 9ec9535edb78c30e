"""After the acknowledgement: a bounded pool for the work a listener does once Slack has its answer.

Bolt answers Slack as soon as a listener calls ack(); the listener then goes on (records, redraws the
board, replies), and that part waits on Slack: respond() to a response_url, chat.* and views.* calls.
When Slack is slow or unreachable, that work piles up, and once it holds every listener thread a new
request's listener cannot start, so its ack() is late. Here, for every request that reaches a listener:

- it is admitted only while fewer than `workers + queue` admitted requests are unfinished. Otherwise it is
  answered at once and never run: a command is told the bot is busy and nothing was done, a form is kept
  open with that said at its first field, a click gets a plain acknowledgement (Slack shows nothing for a
  click); each one is logged as `after_ack_dropped` with its kind only;
- after its ack() at most `workers` listeners go on at once; the others (at most `queue`) wait their turn,
  already answered. A listener acknowledged before it started (events) waits the same way before it runs;
- Bolt's listener threads are one per request that can be admitted (`workers + queue`, and a few spare): an
  admitted request's listener always finds a thread at once and runs up to its ack(), so acknowledgements
  never wait behind Slack;
- every call after the ack() has a timeout: respond() here (`TimedRespond`), the Web API client where it
  is built (handlers/slack/app.py `make_client`), so a turn is held for a bounded time. A reply to a response_url that
  cannot be delivered is logged (`reply_failed`, the error's type) and dropped, not retried: whatever the
  listener recorded stays recorded, and the failure is contained to that reply.

The pool is Bolt's listener executor (`app.listener_runner.listener_executor`): the tests' RunningBot.stop
waits for it, so none of a test's work runs against the next test's stand-in.
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from ssl import SSLContext
from typing import Any, TypeVar

from slack_bolt import Ack, BoltRequest, BoltResponse
from slack_bolt.context.respond import Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook import WebhookClient, WebhookResponse

from handlers.slack.listeners.errors import _first_input as first_input
from handlers.slack.modals import message_modal
from handlers.slack.payloads import kind_of

log = logging.getLogger(__name__)

T = TypeVar("T")

# Threads beyond one per admitted request, for what Bolt runs in its listener executor unadmitted (lazy
# listeners, which this app does not use).
SPARE_THREADS = 4

BUSY_COMMAND = (":hourglass: The bot is too busy to take this just now (Slack is slow to answer it). "
                "Nothing was done: please try again in a minute.")
BUSY_AT_FIELD = "Not saved: the bot is too busy just now. Nothing was changed; submit again in a minute."
BUSY_FORM = ("The bot is too busy to take this form just now (Slack is slow to answer it). Nothing was saved: "
             "please fill it in again in a minute.")


@dataclass(eq=False)
class _Ticket:
    """One admitted request: counted from admission until its listener (or the request) is finished."""

    gate: AfterAck
    acked: bool = False
    handed_over: bool = False
    working: bool = False
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self) -> None:
        """Wait for a turn to do the work after the acknowledgement (on the listener's own thread)."""
        if self.working or self.done:
            return
        self.gate._turns.acquire()
        self.working = True

    def finish(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
        if self.working:
            self.gate._turns.release()
        self.gate._admitted_finished()


class GatedAck(Ack):
    """Bolt's ack(): answers Slack, then, on the listener's thread, waits for a turn in the pool."""

    def __init__(self, ticket: _Ticket) -> None:
        super().__init__()
        self._ticket = ticket

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        response = super().__call__(*args, **kwargs)
        self._ticket.acked = True
        if self._ticket.gate._running_ticket() is self._ticket:
            self._ticket.begin()
        return response


class TimedRespond(Respond):
    """Bolt's respond() with a timeout, no retries, and a failed delivery logged rather than raised."""

    def __init__(self, *, response_url: str | None, timeout: float, proxy: str | None = None,
                 ssl: SSLContext | None = None) -> None:
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self.timeout = timeout

    def __call__(self, text: str | dict[str, Any] = "", **fields: Any) -> WebhookResponse:  # type: ignore[override]
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        message = _build_message(**text) if isinstance(text, dict) else _build_message(text=text, **fields)
        client = WebhookClient(url=self.response_url, timeout=int(max(1, round(self.timeout))), proxy=self.proxy,
                               ssl=self.ssl, retry_handlers=[])
        try:
            return client.send_dict(message)
        except (OSError, http.client.HTTPException, SlackClientError) as exc:
            log.warning("reply_failed", extra={"event": "reply_failed", "error": type(exc).__name__})
            return WebhookResponse(url=self.response_url, status_code=0, body="", headers={})


class _ListenerExecutor(ThreadPoolExecutor):
    """Bolt's listener executor: runs a request's listener under the ticket its request was admitted with."""

    def __init__(self, gate: AfterAck, max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="listener")
        self.gate = gate

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        ticket = self.gate._take_pending()
        if ticket is None:  # not a request's listener (Bolt's lazy listeners): run as it is
            return super().submit(fn, *args, **kwargs)
        return super().submit(self.gate._run, ticket, fn, *args, **kwargs)


class AfterAck:
    """The admission count, the turns after ack(), and Bolt's listener executor (see the module's note)."""

    def __init__(self, workers: int, queue: int, *, timeout: float, spare_threads: int = SPARE_THREADS) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("after-ack pool: workers must be at least 1 and the queue at least 0")
        self.workers, self.queue, self.timeout = workers, queue, timeout
        self._turns = threading.Semaphore(workers)
        self._lock = threading.Lock()
        self._admitted = 0
        self._idle = threading.Condition(self._lock)
        self._request = threading.local()  # the request thread's ticket, until its listener is submitted
        self._listener = threading.local()  # the listener thread's ticket
        self.executor = _ListenerExecutor(self, workers + queue + spare_threads)

    def admit(self, req: BoltRequest) -> BoltResponse | None:
        """Admit `req` (its ack() and respond() are ours from now on), or the busy answer to return instead."""
        with self._lock:
            full = self._admitted >= self.workers + self.queue
            if not full:
                self._admitted += 1
        if full:
            kind = kind_of(req.body)
            log.warning("after_ack_dropped", extra={"event": "after_ack_dropped", "request": kind})
            return busy_answer(req.body)
        ticket = _Ticket(self)
        self._request.ticket = ticket
        req.context["ack"] = GatedAck(ticket)
        url = req.context.response_url
        if url:
            req.context["respond"] = TimedRespond(response_url=url, timeout=self.timeout,
                                                  proxy=req.context.client.proxy, ssl=req.context.client.ssl)
        return None

    def request_done(self) -> None:
        """The request thread is done with its request: a ticket no listener took is finished here."""
        ticket: _Ticket | None = getattr(self._request, "ticket", None)
        self._request.ticket = None
        if ticket is not None and not ticket.handed_over:
            ticket.finish()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing admitted is unfinished; False if that took longer than `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._admitted == 0, timeout)

    # --- for the executor and the tickets -------------------------------------------------------------------

    def _take_pending(self) -> _Ticket | None:
        ticket: _Ticket | None = getattr(self._request, "ticket", None)
        if ticket is not None:
            ticket.handed_over = True
            self._request.ticket = None
        return ticket

    def _running_ticket(self) -> _Ticket | None:
        return getattr(self._listener, "ticket", None)

    def _run(self, ticket: _Ticket, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self._listener.ticket = ticket
        try:
            if ticket.acked:  # acknowledged before the listener started: all of it comes after the ack
                ticket.begin()
            return fn(*args, **kwargs)
        finally:
            self._listener.ticket = None
            ticket.finish()

    def _admitted_finished(self) -> None:
        with self._idle:
            self._admitted -= 1
            self._idle.notify_all()


def busy_answer(body: dict[str, Any]) -> BoltResponse:
    """What Slack is answered with when a request is turned away: nothing was done, and where Slack can
    show it, the person is told so."""
    kind = kind_of(body)
    if kind == "command":
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": BUSY_COMMAND})
    if kind == "view_submission":
        view = body.get("view") if isinstance(body.get("view"), dict) else {}
        field_id = first_input(view)
        if field_id:
            return BoltResponse(status=200, body={"response_action": "errors", "errors": {field_id: BUSY_AT_FIELD}})
        return BoltResponse(status=200, body={"response_action": "update", "view": message_modal("Not saved",
                                                                                              BUSY_FORM)})
    return BoltResponse(status=200, body="")
