"""Local stand-in for the Slack Web API: records calls and answers like Slack does (tests, sandbox, benchmark)."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"
APP_ID = "A0001"
TEAM_URL = "https://pmccg-test.slack.com/"

# slack_sdk sends these as JSON-encoded strings in form bodies; decode them so tests
# can assert on Python structures whichever encoding the client happened to use.
_JSON_PARAM_KEYS = ("blocks", "view", "attachments", "metadata")

# Slack's rule for channel names (conversations.create / conversations.rename).
_CHANNEL_NAME_RE = re.compile(r"^[a-z0-9_-]+$")
_CHANNEL_NAME_MAX = 80

# Base for generated message timestamps: fixed so test output is reproducible.
_TS_BASE_MICROS = 1_700_000_000_000_000

Response = tuple[int, dict[str, Any] | str, dict[str, str]]


@dataclass(frozen=True)
class Call:
    """One request received by the fake, in arrival order."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    # "ok", the Slack error string, or the HTTP status ("429", "500") for injected faults.
    answered_with: str = "ok"

    @property
    def ok(self) -> bool:
        return self.answered_with == "ok"


@dataclass(frozen=True)
class _Fault:
    kind: str  # "error" | "ratelimit" | "server" | "delay"
    error: str = ""
    retry_after: int = 0
    status: int = 500
    seconds: float = 0.0


@dataclass(frozen=True)
class _Refusal:
    """A standing refusal: every call to `method` whose params match `match` answers `error`."""

    method: str
    error: str
    match: tuple[tuple[str, str], ...]

    def applies(self, method: str, params: dict[str, Any]) -> bool:
        return method == self.method and all(str(params.get(k, "")) == v for k, v in self.match)


def _truthy(value: Any) -> bool:
    # Form bodies carry "1"/"true"; JSON bodies carry real booleans.
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _split_ids(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _tz_offset(tz: str) -> int:
    try:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset else 0


def _channel_name_error(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return "invalid_name_required"
    if len(name) > _CHANNEL_NAME_MAX:
        return "invalid_name_maxlength"
    if not _CHANNEL_NAME_RE.match(name):
        return "invalid_name_specials"
    return None


def _err(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops connections when the bot looks several people up at
    # once (a SYN retried after a second), which Slack never does: queue them like a real server.
    request_queue_size = 128

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        # Keep pytest output clean; the call log is the record.
        return

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        fake = cast(_Server, self.server).fake
        parts = urlsplit(self.path)
        if parts.path.startswith("/api/") and fake._resets(parts.path[len("/api/") :]):
            # Slack unreachable: no answer, and the connection reset (RST) as soon as the request is in.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if parts.path.startswith("/api/"):
            status, payload, headers = fake._handle_api(
                method=parts.path[len("/api/") :],
                query=parts.query,
                body=body,
                content_type=self.headers.get("Content-Type", ""),
                authorization=self.headers.get("Authorization", ""),
            )
        elif parts.path.startswith("/upload/") and self.command == "POST":
            status, payload, headers = fake._handle_upload(parts.path[len("/upload/") :], body)
        elif parts.path == "/_standin/answered" and self.command == "GET":
            # For a stand-in in another process (the benchmark): how many calls of each method were answered ok.
            status, payload, headers = 200, dict(Counter(c.method for c in fake.calls if c.ok)), {}
        else:
            status, payload, headers = 404, "not found", {}
        self._send(status, payload, headers)

    def _send(self, status: int, payload: dict[str, Any] | str, headers: dict[str, str]) -> None:
        if isinstance(payload, dict):
            data = json.dumps(payload).encode("utf-8")
            content_type = "application/json; charset=utf-8"
        else:
            data = payload.encode("utf-8")
            content_type = "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class FakeSlack:
    """Local Slack Web API: point `WebClient(base_url=fake.url)` at it.

    State (channels, messages, views, users) lives in memory and every request is
    appended to a thread-safe call log, including the ones answered with an error.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._calls: list[Call] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._latency: dict[str, float] = {}
        self._refusals: list[_Refusal] = []
        self._reset: set[str] = set()
        self._in_flight: Counter[str] = Counter()
        self._reset_counts: Counter[str] = Counter()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # One counter per id prefix so ids read naturally (C0000001, V0000001, ...).
        self._ids: dict[str, itertools.count[int]] = {}
        self._ts_seq = itertools.count(1)

        # Public state for test setup and assertions.
        self.existing_channel_names: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}  # ts -> message (with "channel")
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view object
        self.home_views: dict[str, dict[str, Any]] = {}  # user id -> last published view
        self.uploads: dict[str, bytes] = {}  # file id -> uploaded bytes
        self.files: dict[str, dict[str, Any]] = {}  # file id -> file metadata

        self._members: dict[str, list[str]] = {}

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeSlack already started")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-slack",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        # Trailing slash matters: slack_sdk appends the method name directly.
        return f"{self.base}/api/"

    # ----------------------------------------------------------------- call log

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def delivered(self, method: str) -> list[Call]:
        return [c for c in self.calls_to(method) if c.ok]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[Call]:
        """Poll until `count` calls to `method` (matching `predicate`) were recorded.

        Counts every recorded call, faulted ones too; filter on `answered_with` in
        the predicate to wait for delivered calls only.
        """
        deadline = time.monotonic() + timeout
        while True:
            matching = [c for c in self.calls_to(method) if predicate is None or predicate(c)]
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        seen = Counter(c.method for c in self.calls)
        summary = ", ".join(f"{m} x{n}" for m, n in seen.items()) or "none"
        what = f"{count} call(s) to {method}" + (" matching predicate" if predicate else "")
        raise AssertionError(
            f"Timed out after {timeout}s waiting for {what}; got {len(matching)}. Methods called: {summary}"
        )

    # ----------------------------------------------------------------- fault injection

    def fail_next(self, method: str, error: str = "channel_not_found", times: int = 1) -> None:
        self._queue_fault(method, _Fault("error", error=error), times)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        self._queue_fault(method, _Fault("ratelimit", retry_after=retry_after), times)

    def server_error_next(self, method: str, status: int = 500, times: int = 1) -> None:
        self._queue_fault(method, _Fault("server", status=status), times)

    def refuse(self, method: str, error: str, **match: str) -> None:
        """Answer `error` to every call of `method` whose params match (e.g. channel="U0LEAVER"), until cleared:
        a permanent failure for one recipient, such as a leaver's direct message (user_not_found)."""
        with self._lock:
            self._refusals.append(_Refusal(method, error, tuple(sorted(match.items()))))

    def clear_refusals(self) -> None:
        with self._lock:
            self._refusals.clear()

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Answer the next `times` calls of `method` only after `seconds` (Slack being slow)."""
        with self._lock:
            self._delays.setdefault(method, deque()).extend([seconds] * times)

    def set_latency(self, method: str, seconds: float) -> None:
        """Answer every call of `method` after `seconds` (0 to stop); method "*" for every method without a
        latency of its own."""
        with self._lock:
            if seconds:
                self._latency[method] = seconds
            else:
                self._latency.pop(method, None)

    def reset_connections(self, method: str, on: bool = True) -> None:
        """Answer no call of `method` until turned off: each connection is reset (RST) once its request has
        arrived, as when Slack's end is unreachable. The call is counted (`connections_reset`), not logged."""
        with self._lock:
            if on:
                self._reset.add(method)
            else:
                self._reset.discard(method)

    def connections_reset(self, method: str) -> int:
        """How many calls of `method` had their connection reset."""
        with self._lock:
            return self._reset_counts[method]

    def _resets(self, method: str) -> bool:
        with self._lock:
            if method not in self._reset:
                return False
            self._reset_counts[method] += 1
            return True

    def in_flight(self, method: str) -> int:
        """How many calls of `method` arrived and are being held back by a delay (not yet answered or logged)."""
        with self._lock:
            return self._in_flight[method]

    def _queue_fault(self, method: str, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).extend([fault] * times)

    # ----------------------------------------------------------------- seeding

    def add_user(
        self,
        user_id: str,
        real_name: str,
        display_name: str = "",
        tz: str = "Europe/London",
        is_bot: bool = False,
        deleted: bool = False,
    ) -> dict[str, Any]:
        handle = (display_name or real_name).strip().lower().replace(" ", ".") or user_id.lower()
        user = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": handle,
            "deleted": deleted,
            "real_name": real_name,
            "tz": tz,
            "tz_offset": _tz_offset(tz),
            "is_bot": is_bot,
            "is_admin": False,
            "is_app_user": False,
            "profile": {
                "real_name": real_name,
                "display_name": display_name,
                "real_name_normalized": real_name,
                "display_name_normalized": display_name,
            },
        }
        with self._lock:
            self.users[user_id] = user
        return user

    def add_channel(self, name: str, is_private: bool = False, members: Iterable[str] = ()) -> dict[str, Any]:
        """Seed a channel that "already exists" in the workspace; returns its object."""
        with self._lock:
            return self._new_channel(name, is_private, list(members))

    # ----------------------------------------------------------------- internals

    def _new_id(self, prefix: str) -> str:
        counter = self._ids.setdefault(prefix, itertools.count(1))
        return f"{prefix}{next(counter):07d}"

    def _new_ts(self) -> str:
        micros = _TS_BASE_MICROS + next(self._ts_seq) * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _new_channel(self, name: str, is_private: bool, members: list[str]) -> dict[str, Any]:
        channel_id = self._new_id("C")
        obj = {
            "id": channel_id,
            "name": name,
            "name_normalized": name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "is_archived": False,
            "is_general": False,
            "is_member": True,
            "created": int(time.time()),
            "creator": BOT_USER_ID,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        self.channels[channel_id] = obj
        self._members[channel_id] = [BOT_USER_ID, *(m for m in members if m != BOT_USER_ID)]
        return obj

    def _name_taken(self, name: str) -> bool:
        return name in self.existing_channel_names or any(c.get("name") == name for c in self.channels.values())

    def _dm_channel(self, user_id: str) -> dict[str, Any]:
        channel_id = f"D{user_id}"
        if channel_id not in self.channels:
            self.channels[channel_id] = {
                "id": channel_id,
                "is_im": True,
                "is_channel": False,
                "is_private": True,
                "is_archived": False,
                "user": user_id,
                "created": int(time.time()),
            }
            self._members[channel_id] = [user_id, BOT_USER_ID]
        return self.channels[channel_id]

    def _resolve_channel(self, channel: Any) -> str:
        # Posting to a user id lands in the app's DM with them, as on real Slack.
        channel = str(channel or "")
        if channel.startswith(("U", "W")):
            return self._dm_channel(channel)["id"]
        return channel

    @staticmethod
    def _parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        mime = content_type.split(";", 1)[0].strip().lower()
        if body:
            if mime == "application/json":
                decoded = json.loads(body.decode("utf-8"))
                if isinstance(decoded, dict):
                    params.update(decoded)
            elif mime == "multipart/form-data":
                # Legacy files.upload; text parts become str, file parts stay bytes.
                header = f"Content-Type: {content_type}\r\n\r\n".encode()
                message = BytesParser(policy=HTTP).parsebytes(header + body)
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    if not name:
                        continue
                    payload = part.get_payload(decode=True) or b""
                    params[str(name)] = payload if part.get_filename() else payload.decode("utf-8", "replace")
            else:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
                params.update({k: v[-1] for k, v in form.items()})
        for key in _JSON_PARAM_KEYS:
            value = params.get(key)
            if isinstance(value, str) and value.strip()[:1] in ("{", "["):
                # Malformed JSON is left as sent so the test can see it.
                with contextlib.suppress(json.JSONDecodeError):
                    params[key] = json.loads(value)
        return params

    def _handle_api(self, *, method: str, query: str, body: bytes, content_type: str, authorization: str) -> Response:
        at = time.time()
        with self._lock:
            queued = self._delays.get(method)
            wait = queued.popleft() if queued else self._latency.get(method, self._latency.get("*", 0.0))
        if wait:
            with self._lock:
                self._in_flight[method] += 1
            try:
                time.sleep(wait)  # outside the lock: other calls are answered meanwhile
            finally:
                with self._lock:
                    self._in_flight[method] -= 1
        try:
            params = self._parse_params(query, body, content_type)
        except (ValueError, UnicodeDecodeError):
            params = {}
            parse_failed = True
        else:
            parse_failed = False
        token: str | None = None
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip() or None
        if token is None and isinstance(params.get("token"), str):
            token = params["token"] or None

        with self._lock:
            status, payload, headers = self._respond(method, params, token, parse_failed)
            if status == 200 and isinstance(payload, dict) and payload.get("ok"):
                answered = "ok"
            elif status == 200 and isinstance(payload, dict):
                answered = str(payload.get("error", "error"))
            else:
                answered = str(status)
            # Recorded before the reply is written, so a client never sees a
            # response for a call the log does not yet contain.
            self._calls.append(Call(method, params, token, at, answered))
        return status, payload, headers

    def _respond(self, method: str, params: dict[str, Any], token: str | None, parse_failed: bool) -> Response:
        queue = self._faults.get(method)
        if queue:
            fault = queue.popleft()
            if not queue:
                del self._faults[method]
            if fault.kind == "ratelimit":
                return 429, _err("ratelimited"), {"Retry-After": str(fault.retry_after)}
            if fault.kind == "server":
                return fault.status, f"fake slack: injected HTTP {fault.status}", {}
            return 200, _err(fault.error), {}
        if parse_failed:
            return 200, _err("invalid_form_data"), {}
        if token is None:
            return 200, _err("not_authed"), {}
        refusal = next((r for r in self._refusals if r.applies(method, params)), None)
        if refusal is not None:
            return 200, _err(refusal.error), {}
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        result: dict[str, Any] = handler(params) if handler else {"ok": True}
        return 200, result, {}

    def _handle_upload(self, file_id: str, body: bytes) -> Response:
        with self._lock:
            if file_id not in self.files:
                return 404, "unknown upload url", {}
            self.uploads[file_id] = body
            self.files[file_id]["size"] = len(body)
        return 200, f"OK - {len(body)}", {}

    def _channel_or_error(self, params: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        channel_id = self._resolve_channel(params.get("channel"))
        return channel_id, self.channels.get(channel_id)

    # ----------------------------------------------------------------- API methods
    # Each takes the merged params and returns the JSON body; called under the lock.

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": TEAM_URL,
            "team": "PMCCG Test",
            "user": "pmccg-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_conversations_create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        if error := _channel_name_error(name):
            return _err(error)
        if self._name_taken(str(name)):
            return _err("name_taken")
        channel = self._new_channel(str(name), _truthy(params.get("is_private", False)), [])
        return {"ok": True, "channel": dict(channel)}

    def _api_conversations_invite(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id, channel = self._channel_or_error(params)
        if channel is None:
            return _err("channel_not_found")
        if channel.get("is_archived"):
            return _err("is_archived")
        users = _split_ids(params.get("users"))
        if not users:
            return _err("no_user")
        if self.users and any(u not in self.users for u in users):
            return _err("user_not_found")
        members = self._members[channel_id]
        members.extend(u for u in users if u not in members)
        return {"ok": True, "channel": dict(channel)}

    def _api_conversations_archive(self, params: dict[str, Any]) -> dict[str, Any]:
        _, channel = self._channel_or_error(params)
        if channel is None:
            return _err("channel_not_found")
        if channel.get("is_archived"):
            return _err("already_archived")
        channel["is_archived"] = True
        return {"ok": True}

    def _api_conversations_unarchive(self, params: dict[str, Any]) -> dict[str, Any]:
        _, channel = self._channel_or_error(params)
        if channel is None:
            return _err("channel_not_found")
        if not channel.get("is_archived"):
            return _err("not_archived")
        channel["is_archived"] = False
        return {"ok": True}

    def _api_conversations_rename(self, params: dict[str, Any]) -> dict[str, Any]:
        _, channel = self._channel_or_error(params)
        if channel is None:
            return _err("channel_not_found")
        if channel.get("is_archived"):
            return _err("is_archived")  # Slack: "Cannot rename archived channel."
        name = params.get("name")
        if error := _channel_name_error(name):
            return _err(error)
        if name != channel.get("name") and self._name_taken(str(name)):
            return _err("name_taken")
        channel["name"] = channel["name_normalized"] = str(name)
        return {"ok": True, "channel": dict(channel)}

    def _api_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id, channel = self._channel_or_error(params)
        if channel is None:
            return _err("channel_not_found")
        obj = dict(channel)
        if _truthy(params.get("include_num_members", False)):
            obj["num_members"] = len(self._members.get(channel_id, []))
        return {"ok": True, "channel": obj}

    def _api_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id, channel = self._channel_or_error(params)
        if channel is None:
            return _err("channel_not_found")
        return self._paginate("members", list(self._members.get(channel_id, [])), params)

    def _api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = _split_ids(params.get("users"))
        if not users:
            return _err("users_list_not_supplied")
        if self.users and any(u not in self.users for u in users):
            return _err("user_not_found")
        channel = self._dm_channel(users[0])
        return {"ok": True, "channel": {"id": channel["id"]}}

    def _message_echo(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": ts,
            "text": params.get("text") or "",
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if params.get(key) is not None:
                message[key] = params[key]
        return message

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return _err("channel_not_found")
        channel_id = self._resolve_channel(params["channel"])
        channel = self.channels.get(channel_id)
        if channel is not None and channel.get("is_archived"):
            return _err("is_archived")
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return _err("no_text")
        ts = self._new_ts()
        message = self._message_echo(params, ts)
        self.messages[ts] = {**message, "channel": channel_id}
        return {"ok": True, "channel": channel_id, "ts": ts, "message": message}

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        stored = self.messages.get(ts)
        if stored is None or stored["channel"] != channel_id:
            return _err("message_not_found")
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                stored[key] = params[key]
        stored["edited"] = {"user": BOT_USER_ID, "ts": self._new_ts()}
        message = {k: v for k, v in stored.items() if k != "channel"}
        return {
            "ok": True,
            "channel": channel_id,
            "ts": ts,
            "text": stored.get("text", ""),
            "message": message,
        }

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return _err("channel_not_found")
        if not params.get("user"):
            return _err("user_not_in_channel")
        return {"ok": True, "message_ts": self._new_ts()}

    def _api_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        stored = self.messages.get(ts)
        if stored is None or stored["channel"] != channel_id:
            return _err("message_not_found")
        del self.messages[ts]
        return {"ok": True, "channel": channel_id, "ts": ts}

    def _api_files_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file") or "")
        if self.files.pop(file_id, None) is None:
            return _err("file_not_found")
        self.uploads.pop(file_id, None)
        return {"ok": True}

    def _store_view(self, view: Any, view_id: str | None = None, previous: str | None = None) -> dict[str, Any]:
        submitted = view if isinstance(view, dict) else {}
        view_id = view_id or self._new_id("V")
        old = self.views.get(view_id, {})
        obj: dict[str, Any] = {
            **submitted,
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{self._new_id('h')[1:]}",
            "root_view_id": old.get("root_view_id", view_id),
            "previous_view_id": previous,
        }
        self.views[view_id] = obj
        return obj

    def _api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": dict(self._store_view(params.get("view")))}

    def _api_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": dict(self._store_view(params.get("view")))}

    def _api_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id") or None
        external_id = params.get("external_id")
        if view_id is None and external_id:
            matches = [v["id"] for v in self.views.values() if v.get("external_id") == external_id]
            if not matches:
                return _err("not_found")
            view_id = matches[-1]
        return {"ok": True, "view": dict(self._store_view(params.get("view"), view_id))}

    def _api_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("user_id")
        if not user_id:
            return _err("invalid_arguments")
        if self.users and user_id not in self.users:
            return _err("user_not_found")
        previous = self.home_views.get(str(user_id))
        view = self._store_view(params.get("view"), previous["id"] if previous else None)
        self.home_views[str(user_id)] = view
        return {"ok": True, "view": dict(view)}

    def _api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user") or ""))
        if user is None:
            return _err("user_not_found")
        return {"ok": True, "user": user}

    def _api_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        result = self._paginate("members", list(self.users.values()), params)
        if result.get("ok"):
            result["cache_ts"] = int(time.time())
        return result

    @staticmethod
    def _paginate(key: str, items: list[Any], params: dict[str, Any]) -> dict[str, Any]:
        # Cursor is the stringified offset; Slack uses an empty next_cursor at the end.
        try:
            offset = int(params.get("cursor") or 0)
            limit = int(params.get("limit") or 0)
        except (TypeError, ValueError):
            return _err("invalid_cursor")
        if offset < 0 or offset > len(items):
            return _err("invalid_cursor")
        end = len(items) if limit <= 0 else min(offset + limit, len(items))
        next_cursor = str(end) if end < len(items) else ""
        return {"ok": True, key: items[offset:end], "response_metadata": {"next_cursor": next_cursor}}

    def _api_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        if not filename:
            return _err("invalid_arguments")
        file_id = self._new_id("F")
        self.files[file_id] = {
            "id": file_id,
            "name": str(filename),
            "title": str(filename),
            "size": int(params.get("length") or 0),
        }
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("files")
        try:
            entries = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            return _err("invalid_arguments")
        if not isinstance(entries, list) or not entries:
            return _err("invalid_arguments")
        shared = _split_ids(params.get("channels")) or _split_ids(params.get("channel_id"))
        out = []
        for entry in entries:
            file_id = entry.get("id") if isinstance(entry, dict) else None
            meta = self.files.get(str(file_id))
            if meta is None or file_id not in self.uploads:
                return _err("file_not_found")
            if entry.get("title"):
                meta["title"] = entry["title"]
            meta["channels"] = shared
            out.append(dict(meta))
        return {"ok": True, "files": out}
