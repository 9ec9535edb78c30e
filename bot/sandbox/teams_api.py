"""Local stand-ins for Microsoft Teams: token issuer, Bot Connector and Microsoft Graph (tests, sandbox, benchmark).

One HTTP server on 127.0.0.1 (ephemeral port) plays the Microsoft services a Teams bot talks to, each
under the paths the real one uses, so the bot is pointed at it through its settings alone
(`settings_env()` gives TEAMS_OPENID_METADATA_URL, TEAMS_LOGIN_URL, TEAMS_SERVICE_URL, GRAPH_API_URL
and the credentials):

- **Identity.** The Bot Framework channel's OpenID metadata and keys (`/v1/.well-known/...`), whose
  RSA key signs the inbound activity tokens `mint_inbound_token` makes (`bad_inbound_token` makes
  each kind Teams' SDK must refuse). A tenant login endpoint (`POST /{tenant}/oauth2/v2.0/token`,
  client credentials) that checks the client id and secret and signs the bot's own access tokens
  with a second key, putting the granted application permissions in `roles` as Entra does.
- **Bot Connector** under `/teams/v3/conversations`: a 1:1 chat created or found per member (refused
  when the app is not installed for them), activities created, updated and deleted, members listed.
  The bearer token the bot sends is checked against the login endpoint's key, audience and app id.
- **Microsoft Graph** under `/v1.0`: group chats created with their members and the app installed in
  the same request (answered 202, as Graph does), members added and removed, topic, installed apps,
  the app installed for a user, the directory of users. Every route names the permissions it needs
  (`Call.needs`); a call whose token grants none of them is answered 403, as the tenant would.
  Resource-specific permissions (names ending in `.Chat`) count in chats where the app is installed.
- **Files in the 1:1 chat** (the bot file API): a consent card the bot posts is answered by `file_consent`
  (the person's accept or decline, as Teams sends it); an accept comes with an upload session URL on this
  server (`PUT /_onedrive/uploads/{uploadId}`, pre-authorised: no bearer, as OneDrive's is), and what is
  put there lands in the person's OneDrive (`files_of`).

State lives in memory: people, conversations (a Graph group chat is also a Bot Connector
conversation, as in Teams) and each conversation's activities, so a test reads what each person's
chat shows (`messages`, `personal_messages`). Every request, the faulted ones too, is appended to a
thread-safe call log. Status codes follow what Teams and Graph answer; error codes and messages are
close to theirs but are no contract: assert on statuses and on what was delivered.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, cast
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

if TYPE_CHECKING:
    from bot.sandbox.teams_checks import Refusal

# Fictional identities of the test tenant and of the bot's app registration.
TENANT_ID = "6c5a8f1e-2b7d-4c3a-9e1f-0a1b2c3d4e5f"
CLIENT_ID = "0b7e2a1c-5d4f-4e3b-8a9c-1d2e3f4a5b6c"  # Entra app (client) id, which is also the bot's app id
CLIENT_SECRET = "test-client-secret"
TEAMS_APP_ID = "3f1c2b4a-6d5e-4f70-8192-a3b4c5d6e7f8"  # the app's id in the organisation's catalogue
MANIFEST_ID = "d2a3b4c5-e6f7-4809-9a1b-2c3d4e5f6a7b"  # the manifest's "id" (Graph: teamsApp.externalId)
BOT_NAME = "PMCCG"

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"  # `iss` of every inbound activity token
BOT_FRAMEWORK_RESOURCE = "https://api.botframework.com"  # audience of the bot's tokens for the Bot Connector
BOT_FRAMEWORK_SCOPE = BOT_FRAMEWORK_RESOURCE + "/.default"

# Application permissions the organisation's administrator consents to, and the resource-specific
# permissions the manifest asks for (granted per chat with the app), as TEAMS.md lists them.
DEFAULT_GRANTED = frozenset({
    "Chat.Create",
    "ChatMember.ReadWrite.All",
    "TeamsAppInstallation.ReadWriteSelfForChat.All",
    "TeamsAppInstallation.ReadWriteSelfForUser.All",
    "User.Read.All",
    "ChatMember.Read.Chat",
    "Chat.Manage.Chat",
    "ChatSettings.ReadWrite.Chat",
})

FILE_CONSENT_CONTENT_TYPE = "application/vnd.microsoft.teams.card.file.consent"

# Teams refuses a message above about 28 KB (the whole activity, cards included).
MESSAGE_SIZE_LIMIT = 28 * 1024

TOKEN_LIFETIME = 3599  # seconds, as Entra answers `expires_in` for app tokens

_GRAPH_USER_PROPERTIES = ("id", "displayName", "givenName", "surname", "userPrincipalName", "mail",
                          "accountEnabled", "userType", "businessPhones", "jobTitle", "mobilePhone",
                          "officeLocation", "preferredLanguage")
# What Graph returns without $select: accountEnabled and userType only come when selected.
_GRAPH_USER_DEFAULT = ("id", "displayName", "givenName", "surname", "userPrincipalName", "mail", "businessPhones",
                       "jobTitle", "mobilePhone", "officeLocation", "preferredLanguage")
_USER_BIND_RE = re.compile(r"/users(?:\('([^']+)'\)|/([^/?#]+))$")
_APP_BIND_RE = re.compile(r"/appCatalogs/teamsApps/([^/?#']+)$")
_FILTER_CLAUSE_RE = re.compile(r"^\s*(\w+)\s+eq\s+(true|false|'[^']*')\s*$")
_ACTIVITY_ID_BASE = 1_700_000_000_000
_AAD_MEMBER = "#microsoft.graph.aadUserConversationMember"

Response = tuple[int, Any, dict[str, str]]  # status, JSON payload (None: empty body), extra headers
Api = Literal["login", "openid", "connector", "graph", "standin"]


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Call:
    """One request the stand-in received, in arrival order (faulted and refused ones included)."""

    route: str  # the route key, e.g. "POST /v3/conversations/{id}/activities"
    method: str
    path: str
    params: dict[str, str]  # path parameters, decoded: {"id": "19:...@thread.v2"}
    query: dict[str, str]
    body: Any  # the JSON (or form) body as sent; a client secret is recorded as "***"
    status: int
    answer: Any  # the JSON answered (None for an empty body)
    client_id: str | None  # the app the bearer token was issued to, when it verified
    needs: tuple[str, ...]  # Graph: the permissions any one of which the route needs
    permission: str | None  # Graph: the permission that authorised the call
    at: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class TeamsUser:
    """A person in the tenant's directory. `id` is the Entra object id; `mri` is their Teams id (29:...)."""

    id: str
    mri: str
    display_name: str
    given_name: str | None
    surname: str | None
    user_principal_name: str
    mail: str | None
    user_type: str = "Member"  # or "Guest"
    account_enabled: bool = True

    def graph(self, select: Iterable[str] = _GRAPH_USER_DEFAULT) -> dict[str, Any]:
        full = {"id": self.id, "displayName": self.display_name, "givenName": self.given_name,
                "surname": self.surname, "userPrincipalName": self.user_principal_name, "mail": self.mail,
                "accountEnabled": self.account_enabled, "userType": self.user_type, "businessPhones": [],
                "jobTitle": None, "mobilePhone": None, "officeLocation": None, "preferredLanguage": None}
        return {key: full[key] for key in select}

    def channel_account(self, tenant_id: str) -> dict[str, Any]:
        # What the Bot Connector lists as a conversation member (TeamsChannelAccount).
        return {"id": self.mri, "name": self.display_name, "aadObjectId": self.id, "givenName": self.given_name,
                "surname": self.surname, "email": self.mail, "userPrincipalName": self.user_principal_name,
                "tenantId": tenant_id, "userRole": "user"}


@dataclass(frozen=True)
class ConversationView:
    """A snapshot of one conversation: who is in it, whether the bot is, and what it shows now."""

    id: str
    kind: str  # "personal" (the bot's 1:1 chat with someone) or "groupChat"
    members: tuple[str, ...]  # Entra object ids
    topic: str | None
    app_installed: bool
    deleted: bool
    messages: tuple[dict[str, Any], ...]  # current activities the bot posted, oldest first


class BadToken(StrEnum):
    """Kinds of inbound token the SDK must refuse with 401 (see `bad_inbound_token`)."""

    EXPIRED = "expired"  # expired an hour ago, beyond the SDK's 300 s leeway
    WRONG_AUDIENCE = "wrong_audience"  # issued for another bot
    WRONG_ISSUER = "wrong_issuer"  # signed with the channel key but not issued by api.botframework.com
    FORGED = "forged"  # names the channel key's kid but is signed by another key
    UNKNOWN_KEY = "unknown_key"  # signed by a key the JWKS does not list
    MISMATCHED_SERVICE_URL = "mismatched_serviceurl"  # its serviceurl claim names another Bot Connector
    NO_SERVICE_URL = "no_serviceurl"  # no serviceurl claim at all
    REPLAYED_ACCESS_TOKEN = "replayed_access_token"  # an Entra app token for the bot, replayed inbound


@dataclass
class _Conversation:
    id: str
    kind: str
    members: list[str]
    topic: str | None = None
    app_installed: bool = False
    install_id: str | None = None
    memberships: dict[str, str] = field(default_factory=dict)  # object id -> Graph membership id
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)  # activity id -> latest version
    deleted_activities: set[str] = field(default_factory=set)
    deleted: bool = False
    created: str = ""
    updated: str = ""

    def view(self) -> ConversationView:
        messages = tuple(json.loads(json.dumps(a)) for aid, a in self.activities.items()
                         if aid not in self.deleted_activities)
        return ConversationView(self.id, self.kind, tuple(self.members), self.topic, self.app_installed,
                                self.deleted, messages)


@dataclass(frozen=True)
class _Fault:
    kind: str  # "error" | "ratelimit" | "server"
    status: int
    code: str = ""
    message: str = ""
    retry_after: int = 0


@dataclass(frozen=True)
class _Refusal:
    """A standing refusal: every call to `route` whose parameters match answers `status`."""

    route: str
    status: int
    code: str
    message: str
    match: tuple[tuple[str, str], ...]

    def applies(self, route: str, params: dict[str, str]) -> bool:
        return route == self.route and all(params.get(k) == v for k, v in self.match)


@dataclass(frozen=True)
class _Route:
    key: str
    api: Api
    method: str
    pattern: re.Pattern[str]
    handler: str
    needs: tuple[str, ...] = ()
    raw: bool = False  # the body is content (a file), not JSON


def _route(api: Api, key: str, handler: str, needs: tuple[str, ...] = (), raw: bool = False) -> _Route:
    method, template = key.split(" ", 1)
    prefix = "/teams" if api == "connector" else ""  # the Bot Connector lives under the service URL's path
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(prefix + template).replace(r"\{", "{").replace(r"\}", "}"))
    return _Route(key, api, method, re.compile(f"^{regex}$"), handler, needs, raw)


_CHAT_READ = ("ChatSettings.Read.Chat", "ChatSettings.ReadWrite.Chat", "Chat.ReadBasic.All", "Chat.Read.All",
              "Chat.ReadWrite.All")
_CHAT_MEMBERS_READ = ("ChatMember.Read.Chat", "ChatMember.Read.All", "ChatMember.ReadWrite.All", "Chat.Read.All",
                      "Chat.ReadWrite.All")
_CHAT_MEMBERS_WRITE = ("Chat.Manage.Chat", "ChatMember.ReadWrite.All", "Chat.ReadWrite.All")
_CHAT_APPS_READ = ("TeamsAppInstallation.ReadSelfForChat.All", "TeamsAppInstallation.ReadWriteSelfForChat.All",
                   "TeamsAppInstallation.ReadForChat.All", "TeamsAppInstallation.ReadWriteForChat.All")
_CHAT_APPS_WRITE = ("TeamsAppInstallation.ReadWriteSelfForChat.All", "TeamsAppInstallation.ReadWriteForChat.All")
_USER_APPS_READ = ("TeamsAppInstallation.ReadSelfForUser.All", "TeamsAppInstallation.ReadWriteSelfForUser.All",
                   "TeamsAppInstallation.ReadForUser.All", "TeamsAppInstallation.ReadWriteForUser.All")
_USER_APPS_WRITE = ("TeamsAppInstallation.ReadWriteSelfForUser.All", "TeamsAppInstallation.ReadWriteForUser.All")
_USERS_READ = ("User.Read.All", "Directory.Read.All")

# Each route's permissions list the least privileged first, as Microsoft's reference pages do.
ROUTES: tuple[_Route, ...] = (
    _route("login", "POST /{tenant}/oauth2/v2.0/token", "_login_token"),
    _route("login", "GET /{tenant}/discovery/v2.0/keys", "_login_keys"),
    _route("login", "GET /{tenant}/v2.0/.well-known/openid-configuration", "_login_metadata"),
    _route("openid", "GET /v1/.well-known/openidconfiguration", "_channel_metadata"),
    _route("openid", "GET /v1/.well-known/keys", "_channel_keys"),
    _route("connector", "POST /v3/conversations", "_create_conversation"),
    _route("connector", "POST /v3/conversations/{id}/activities", "_create_activity"),
    _route("connector", "PUT /v3/conversations/{id}/activities/{activityId}", "_update_activity"),
    _route("connector", "DELETE /v3/conversations/{id}/activities/{activityId}", "_delete_activity"),
    _route("connector", "GET /v3/conversations/{id}/members", "_list_members"),
    _route("connector", "GET /v3/conversations/{id}/members/{memberId}", "_get_member"),
    _route("connector", "GET /v3/conversations/{id}/pagedMembers", "_paged_members"),
    _route("graph", "POST /v1.0/chats", "_graph_create_chat", ("Chat.Create", "Chat.ReadWrite.All")),
    _route("graph", "GET /v1.0/chats/{id}", "_graph_get_chat", _CHAT_READ),
    _route("graph", "PATCH /v1.0/chats/{id}", "_graph_update_chat",
           ("ChatSettings.ReadWrite.Chat", "Chat.Manage.Chat", "Chat.ReadWrite.All")),
    _route("graph", "DELETE /v1.0/chats/{id}", "_graph_delete_chat", ("Chat.ManageDeletion.All", "Chat.ReadWrite.All")),
    _route("graph", "GET /v1.0/chats/{id}/members", "_graph_list_chat_members", _CHAT_MEMBERS_READ),
    _route("graph", "POST /v1.0/chats/{id}/members", "_graph_add_chat_member", _CHAT_MEMBERS_WRITE),
    _route("graph", "DELETE /v1.0/chats/{id}/members/{memberId}", "_graph_remove_chat_member", _CHAT_MEMBERS_WRITE),
    _route("graph", "GET /v1.0/chats/{id}/installedApps", "_graph_list_chat_apps", _CHAT_APPS_READ),
    _route("graph", "POST /v1.0/chats/{id}/installedApps", "_graph_install_chat_app", _CHAT_APPS_WRITE),
    _route("graph", "DELETE /v1.0/chats/{id}/installedApps/{installId}", "_graph_uninstall_chat_app",
           _CHAT_APPS_WRITE),
    _route("graph", "GET /v1.0/users/{id}/teamwork/installedApps", "_graph_list_user_apps", _USER_APPS_READ),
    _route("graph", "POST /v1.0/users/{id}/teamwork/installedApps", "_graph_install_user_app", _USER_APPS_WRITE),
    _route("graph", "GET /v1.0/users", "_graph_list_users", _USERS_READ),
    _route("graph", "GET /v1.0/users/{id}", "_graph_get_user", _USERS_READ),
    # A OneDrive upload session, as a file consent's uploadInfo.uploadUrl names it: pre-authorised, no bearer.
    _route("standin", "PUT /_onedrive/uploads/{uploadId}", "_onedrive_upload", raw=True),
    _route("standin", "GET /_standin/answered", "_standin_answered"),
)
_ROUTES_BY_KEY = {r.key: r for r in ROUTES}
# A chat with the app installed counts for resource-specific permissions, which end in ".Chat".
_RSC_SUFFIX = ".Chat"


# ----------------------------------------------------------------------------- error bodies


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _connector_error(status: int, code: str, message: str) -> Response:
    return status, {"error": {"code": code, "message": message}}, {}


def _graph_error(status: int, code: str, message: str) -> Response:
    inner = {"date": _now_iso(), "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}
    return status, {"error": {"code": code, "message": message, "innerError": inner}}, {}


def _login_error(status: int, error: str, aadsts: int, description: str) -> Response:
    return status, {"error": error, "error_description": f"AADSTS{aadsts}: {description}",
                    "error_codes": [aadsts], "timestamp": _now_iso(), "trace_id": str(uuid.uuid4()),
                    "correlation_id": str(uuid.uuid4())}, {}


def _error_for(api: Api, status: int, code: str, message: str) -> Response:
    if api == "graph":
        return _graph_error(status, code, message)
    if api == "login":
        return _login_error(status, code, 90000, message)
    return _connector_error(status, code, message)


_DEFAULT_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                  412: "PreconditionFailed", 413: "RequestEntityTooLarge"}
_UNAUTHORISED_CONNECTOR: Response = (401, {"message": "Authorization has been denied for this request."}, {})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwk(key: RSAPrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
            "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"))}


def _new_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def visible_text(activity: dict[str, Any]) -> str:
    """Everything a reader sees in a posted activity: its text and every `text` in its cards, one per line."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "title") and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    if isinstance(activity.get("text"), str):
        parts.append(activity["text"])
    walk(activity.get("attachments") or [])
    return "\n".join(parts)


# ----------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, standin: TeamsStandIn) -> None:
        self.standin = standin
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server_version = "TeamsStandIn/1.0"
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects of Microsoft's services
    # Headers and body go out as two writes; with Nagle on, a keep-alive client waits ~40 ms for the second.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # the call log is the record

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        standin = cast(_Server, self.server).standin
        status, payload, headers = standin._handle(
            self.command, self.path, raw, self.headers.get("Content-Type", ""), self.headers.get("Authorization", ""))
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@dataclass
class _Request:
    route: _Route
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    raw: bytes
    claims: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- the stand-in


class TeamsStandIn:
    """Local Teams: start it (`with TeamsStandIn() as teams:`), point the bot at `settings_env()`.

    `granted` is what the tenant granted the app: application permissions (in its Graph tokens'
    `roles`) and resource-specific ones ending in `.Chat` (honoured in chats with the app installed).
    The sandbox can pass what the Teams manifest and the README's Entra steps grant.
    """

    def __init__(
        self,
        *,
        granted: Iterable[str] = DEFAULT_GRANTED,
        tenant_id: str = TENANT_ID,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        teams_app_id: str = TEAMS_APP_ID,
        bot_name: str = BOT_NAME,
        token_lifetime: int = TOKEN_LIFETIME,
        message_size_limit: int = MESSAGE_SIZE_LIMIT,
        check_activity: Callable[[Any], Refusal | None] | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.teams_app_id = teams_app_id
        self.bot_name = bot_name
        self.token_lifetime = token_lifetime
        self.message_size_limit = message_size_limit
        self._granted = set(granted)
        # What Teams refuses about a message (bot/sandbox/teams_checks.py's activity_refusal): the sandbox page
        # passes it so a bad card is refused loudly; the tests' stand-in leaves it off.
        self._check = check_activity

        # Two issuers, as in Microsoft's cloud: the Bot Framework channel signs what it sends the bot;
        # the tenant's login endpoint signs the bot's own access tokens.
        self._channel_key = _new_key()
        self._channel_kid = "channel-" + uuid.uuid4().hex[:12]
        self._login_key = _new_key()
        self._login_kid = "login-" + uuid.uuid4().hex[:12]
        self._other_key: RSAPrivateKey | None = None  # made on first use, for forged tokens

        self._lock = threading.RLock()
        self._calls: list[Call] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._latency: dict[str, float] = {}
        self._refusals: list[_Refusal] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._seq = itertools.count(1)
        self._activity_seq = itertools.count(1)
        self._hold_chat_installs = False
        self._pending_installs: list[str] = []
        # One HTTP client per thread that posts activities: making an httpx client costs ~0.2 s (CA bundle).
        self._clients = threading.local()
        self._all_clients: list[httpx.Client] = []

        self._users: dict[str, TeamsUser] = {}  # object id -> person
        self._by_mri: dict[str, str] = {}  # 29:... -> object id
        self._personal_installs: dict[str, str] = {}  # object id -> installation id
        self._blocked: set[str] = set()  # people who blocked the bot
        self._conversations: dict[str, _Conversation] = {}
        self._personal: dict[str, str] = {}  # object id -> their 1:1 conversation with the bot
        self._uploads: dict[str, tuple[str, str]] = {}  # upload session id -> (object id, file name)
        self._files: dict[str, dict[str, bytes]] = {}  # object id -> their OneDrive: file name -> content

    # ------------------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("TeamsStandIn already started")
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="teams-standin", daemon=True)
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
        with self._lock:
            clients, self._all_clients = self._all_clients, []
        for client in clients:
            client.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------------- where things are

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("TeamsStandIn is not started")
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def login_url(self) -> str:
        """Where the bot exchanges its client secret for tokens (TEAMS_LOGIN_URL; Entra's login host)."""
        return self.base

    @property
    def login_issuer(self) -> str:
        return f"{self.base}/{self.tenant_id}/v2.0"

    @property
    def openid_metadata_url(self) -> str:
        """TEAMS_OPENID_METADATA_URL: the SDK fetches keys from the same path ending in /keys."""
        return f"{self.base}/v1/.well-known/openidconfiguration"

    @property
    def service_url(self) -> str:
        """The Bot Connector (TEAMS_SERVICE_URL); activities name it with a trailing slash, as Teams does."""
        return f"{self.base}/teams"

    @property
    def graph_url(self) -> str:
        """GRAPH_API_URL: Microsoft Graph's v1.0 endpoint."""
        return f"{self.base}/v1.0"

    @property
    def graph_resource(self) -> str:
        """The audience of Graph tokens; the bot asks for `{graph_resource}/.default`."""
        return self.base

    def settings_env(self) -> dict[str, str]:
        """The bot's Teams settings pointing every Microsoft endpoint here."""
        return {
            "TEAMS_CLIENT_ID": self.client_id,
            "TEAMS_CLIENT_SECRET": self.client_secret,
            "TEAMS_TENANT_ID": self.tenant_id,
            "TEAMS_OPENID_METADATA_URL": self.openid_metadata_url,
            "TEAMS_LOGIN_URL": self.login_url,
            "TEAMS_SERVICE_URL": self.service_url,
            "GRAPH_API_URL": self.graph_url,
            "TEAMS_APP_ID": self.teams_app_id,
        }

    # ------------------------------------------------------------------------- call log

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, route: str) -> list[Call]:
        _check_route(route)
        with self._lock:
            return [c for c in self._calls if c.route == route]

    def delivered(self, route: str) -> list[Call]:
        return [c for c in self.calls_to(route) if c.ok]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def permissions_used(self) -> set[str]:
        """The permission that authorised each successful Graph call: what the manifest must ask for."""
        return {c.permission for c in self.calls if c.ok and c.permission}

    def wait_for(self, route: str, predicate: Callable[[Call], bool] | None = None, count: int = 1,
                 timeout: float = 5.0) -> list[Call]:
        """Poll until `count` calls to `route` (matching `predicate`) were recorded, faulted ones included."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [c for c in self.calls_to(route) if predicate is None or predicate(c)]
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        seen = ", ".join(f"{r} x{n}" for r, n in Counter(c.route for c in self.calls).items()) or "none"
        what = f"{count} call(s) to {route}" + (" matching predicate" if predicate else "")
        raise AssertionError(f"Timed out after {timeout}s waiting for {what}; got {len(matching)}. "
                             f"Routes called: {seen}")

    # ------------------------------------------------------------------------- fault injection

    def fail_next(self, route: str, status: int = 404, code: str | None = None, message: str = "",
                  times: int = 1) -> None:
        """Answer the next `times` calls of `route` with a permanent error shaped like that service's."""
        if not 400 <= status < 500 or status == 429:
            raise ValueError("fail_next takes a permanent 4xx; use rate_limit_next or server_error_next")
        fault = _Fault("error", status, code or _DEFAULT_CODES.get(status, "BadRequest"),
                       message or f"Injected {status}")
        self._queue_fault(route, fault, times)

    def rate_limit_next(self, route: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `route` with 429 and `Retry-After: retry_after`."""
        self._queue_fault(route, _Fault("ratelimit", 429, "TooManyRequests", "Too many requests",
                                        retry_after=retry_after), times)

    def server_error_next(self, route: str, status: int = 500, times: int = 1) -> None:
        if status < 500:
            raise ValueError("server_error_next takes a 5xx status")
        self._queue_fault(route, _Fault("server", status, "ServiceError", f"Injected {status}"), times)

    def delay_next(self, route: str, seconds: float, times: int = 1) -> None:
        """Answer the next `times` calls of `route` only after `seconds` (the service being slow)."""
        _check_route(route)
        with self._lock:
            self._delays.setdefault(route, deque()).extend([seconds] * times)

    def set_latency(self, route: str, seconds: float) -> None:
        """Answer every call of `route` after `seconds` (0 to stop)."""
        _check_route(route)
        with self._lock:
            if seconds:
                self._latency[route] = seconds
            else:
                self._latency.pop(route, None)

    def refuse(self, route: str, status: int = 403, code: str | None = None, message: str = "",
               **match: str) -> None:
        """Refuse every call of `route` whose parameters match, until cleared: a permanent failure for one
        recipient. Match on the route's path parameters (`id`, `activityId`, `memberId`, ...) or on `user`,
        the Entra object id the call concerns (1:1 creation, a chat member added, an install for a user)."""
        _check_route(route)
        with self._lock:
            self._refusals.append(_Refusal(route, status, code or _DEFAULT_CODES.get(status, "Forbidden"),
                                           message or f"Refused for {match}", tuple(sorted(match.items()))))

    def clear_refusals(self) -> None:
        with self._lock:
            self._refusals.clear()

    def _queue_fault(self, route: str, fault: _Fault, times: int) -> None:
        _check_route(route)
        with self._lock:
            self._faults.setdefault(route, deque()).extend([fault] * times)

    # ------------------------------------------------------------------------- permissions

    @property
    def granted(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._granted)

    def grant(self, *permissions: str) -> None:
        with self._lock:
            self._granted.update(permissions)

    def revoke(self, *permissions: str) -> None:
        """Withdraw permissions. As in Entra, tokens already issued keep their `roles` until they expire."""
        with self._lock:
            self._granted.difference_update(permissions)

    # ------------------------------------------------------------------------- the directory and chats

    def add_user(self, display_name: str, *, given_name: str | None = None, surname: str | None = None,
                 object_id: str | None = None, user_type: str = "Member", account_enabled: bool = True,
                 app_installed: bool = True, mail: str | None = None) -> TeamsUser:
        """Add a person to the directory; with `app_installed` the bot's 1:1 chat with them exists too."""
        with self._lock:
            n = next(self._seq)
            oid = object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"pmccg-standin/user/{n}/{display_name}"))
            parts = display_name.split()
            given = given_name if given_name is not None else (parts[0] if parts else None)
            family = surname if surname is not None else (parts[-1] if len(parts) > 1 else None)
            handle = ".".join(p.lower() for p in parts) or f"user{n}"
            upn = f"{handle}@pmccg-test.example" if user_type == "Member" else f"{handle}_guest#EXT#@pmccg-test.example"
            user = TeamsUser(id=oid, mri="29:1" + _b64url(hashlib.sha256(oid.encode()).digest())[:40],
                             display_name=display_name, given_name=given, surname=family, user_principal_name=upn,
                             mail=mail if mail is not None else f"{handle}@pmccg-test.example",
                             user_type=user_type, account_enabled=account_enabled)
            self._users[oid] = user
            self._by_mri[user.mri] = oid
            if app_installed:
                self._install_for(oid)
            return user

    @property
    def users(self) -> list[TeamsUser]:
        with self._lock:
            return list(self._users.values())

    def user(self, object_id: str) -> TeamsUser:
        with self._lock:
            return self._users[object_id]

    def disable_user(self, object_id: str) -> None:
        """A leaver: the account stays in the directory with accountEnabled false."""
        with self._lock:
            self._users[object_id] = replace(self._users[object_id], account_enabled=False)

    def enable_user(self, object_id: str) -> None:
        """The account enabled again (tests restore a shared stand-in with it)."""
        with self._lock:
            self._users[object_id] = replace(self._users[object_id], account_enabled=True)

    def block_bot(self, object_id: str) -> None:
        """The person blocked the bot: posts to their 1:1 chat are refused with 403."""
        with self._lock:
            self._blocked.add(object_id)

    def unblock_bot(self, object_id: str) -> None:
        """The person unblocked the bot again (tests restore a shared stand-in with it)."""
        with self._lock:
            self._blocked.discard(object_id)

    def install_app_for(self, object_id: str) -> str:
        """Seed: the app installed in someone's personal scope (their 1:1 chat with the bot). Returns the chat id."""
        with self._lock:
            return self._install_for(object_id)

    def uninstall_app_for(self, object_id: str) -> None:
        """Seed: the person removed the app. Their 1:1 chat remains, but the bot is no longer in it."""
        with self._lock:
            self._personal_installs.pop(object_id, None)
            conv_id = self._personal.get(object_id)
            if conv_id:
                self._conversations[conv_id].app_installed = False

    def personal_conversation_id(self, object_id: str) -> str | None:
        with self._lock:
            return self._personal.get(object_id)

    def add_group_chat(self, members: Iterable[str], topic: str | None = None, app_installed: bool = True) -> str:
        """Seed a group chat that already exists (members are Entra object ids). Returns its id."""
        with self._lock:
            return self._new_group_chat(list(dict.fromkeys(members)), topic, app_installed).id

    def hold_chat_installs(self) -> None:
        """From now on, the app installed by `POST /chats` stays pending (the 202 is asynchronous in Teams):
        posts to such a chat are refused until `complete_chat_installs()`."""
        with self._lock:
            self._hold_chat_installs = True

    def complete_chat_installs(self) -> None:
        with self._lock:
            self._hold_chat_installs = False
            for conv_id in self._pending_installs:
                self._conversations[conv_id].app_installed = True
            self._pending_installs.clear()

    def conversation(self, conversation_id: str) -> ConversationView:
        with self._lock:
            return self._conversations[conversation_id].view()

    @property
    def conversations(self) -> list[ConversationView]:
        with self._lock:
            return [c.view() for c in self._conversations.values()]

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        """What the conversation shows now: each activity the bot posted, as last updated, minus deleted ones."""
        return list(self.conversation(conversation_id).messages)

    def personal_messages(self, object_id: str) -> list[dict[str, Any]]:
        conv_id = self.personal_conversation_id(object_id)
        return self.messages(conv_id) if conv_id else []

    # ------------------------------------------------------------------------- tokens

    def mint_inbound_token(self, *, service_url: str | None = None, audience: str | None = None,
                           issuer: str = BOT_FRAMEWORK_ISSUER, expires_in: int = 3600, issued_ago: int = 0,
                           key: RSAPrivateKey | None = None, kid: str | None = None,
                           omit: Iterable[str] = ()) -> str:
        """A Bot Framework token for an activity, signed by the channel key the JWKS publishes.

        `service_url` defaults to this Bot Connector with Teams' trailing slash; `audience` to the bot's app id.
        """
        now = int(time.time()) - issued_ago
        claims: dict[str, Any] = {
            "serviceurl": service_url if service_url is not None else self.service_url + "/",
            "nbf": now - 5, "exp": now + expires_in, "iat": now - 5,
            "iss": issuer, "aud": audience if audience is not None else self.client_id,
        }
        for name in omit:
            claims.pop(name, None)
        headers = {"kid": kid or self._channel_kid, "x5t": kid or self._channel_kid, "typ": "JWT"}
        return jwt.encode(claims, key or self._channel_key, algorithm="RS256", headers=headers)

    def bad_inbound_token(self, kind: BadToken, service_url: str | None = None) -> str:
        """A token of the given bad kind for an activity naming `service_url` (default: this Bot Connector)."""
        url = service_url if service_url is not None else self.service_url + "/"
        match kind:
            case BadToken.EXPIRED:
                return self.mint_inbound_token(service_url=url, issued_ago=7200, expires_in=3600)
            case BadToken.WRONG_AUDIENCE:
                return self.mint_inbound_token(service_url=url, audience=str(uuid.uuid4()))
            case BadToken.WRONG_ISSUER:
                return self.mint_inbound_token(service_url=url, issuer="https://api.botframework.example")
            case BadToken.FORGED:
                return self.mint_inbound_token(service_url=url, key=self._forger_key())
            case BadToken.UNKNOWN_KEY:
                return self.mint_inbound_token(service_url=url, key=self._forger_key(), kid="unknown-kid")
            case BadToken.MISMATCHED_SERVICE_URL:
                return self.mint_inbound_token(service_url="https://smba.trafficmanager.net/teams/")
            case BadToken.NO_SERVICE_URL:
                return self.mint_inbound_token(service_url=url, omit=("serviceurl",))
            case BadToken.REPLAYED_ACCESS_TOKEN:
                # The worst case of a replayed Entra token: issued by the tenant, for the bot's own id.
                return self._mint_access_token(self.client_id, self.client_id, roles=())
        raise ValueError(kind)

    def _forger_key(self) -> RSAPrivateKey:
        with self._lock:
            if self._other_key is None:
                self._other_key = _new_key()
            return self._other_key

    def _mint_access_token(self, client_id: str, resource: str, roles: Iterable[str]) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": resource, "iss": self.login_issuer, "iat": now, "nbf": now, "exp": now + self.token_lifetime,
            "azp": client_id, "appid": client_id, "azpacr": "1", "idtyp": "app", "tid": self.tenant_id,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"pmccg-standin/sp/{client_id}")), "ver": "2.0",
        }
        claims["sub"] = claims["oid"]
        role_list = sorted(roles)
        if role_list:
            claims["roles"] = role_list
        return jwt.encode(claims, self._login_key, algorithm="RS256",
                          headers={"kid": self._login_kid, "x5t": self._login_kid, "typ": "JWT"})

    def _verify_access_token(self, authorization: str, audience: str) -> tuple[dict[str, Any] | None, str]:
        if not authorization.lower().startswith("bearer "):
            return None, "No bearer token"
        try:
            claims = jwt.decode(authorization[7:].strip(), self._login_key.public_key(), algorithms=["RS256"],
                                audience=audience, issuer=self.login_issuer)
        except jwt.InvalidAudienceError:
            return None, "Invalid audience."
        except jwt.ExpiredSignatureError:
            return None, "Lifetime validation failed, the token is expired."
        except jwt.InvalidTokenError:
            return None, "Invalid signature or issuer."
        if claims.get("tid") != self.tenant_id or claims.get("appid") != self.client_id:
            return None, "The token was not issued to this app in this tenant."
        return claims, ""

    # ------------------------------------------------------------------------- activities to send the bot

    def message(self, user: TeamsUser | str, text: str = "", *, conversation_id: str | None = None,
                mention_bot: bool = False, value: dict[str, Any] | None = None) -> dict[str, Any]:
        """A message from `user`, in their 1:1 chat with the bot unless `conversation_id` names another.
        `mention_bot` @mentions the bot as a group chat needs; `value` is an Action.Submit's data."""
        activity = self._activity("message", user, conversation_id)
        if mention_bot:
            at = f"<at>{self.bot_name}</at>"
            text = f"{at} {text}".rstrip()
            activity["entities"].append({"type": "mention", "text": at,
                                         "mentioned": {"id": f"28:{self.client_id}", "name": self.bot_name}})
        if text:
            activity["text"] = text
            activity["textFormat"] = "plain"
        if value is not None:
            activity["value"] = value
        return activity

    def card_action(self, user: TeamsUser | str, data: dict[str, Any], *, verb: str | None = None,
                    reply_to_id: str | None = None, conversation_id: str | None = None) -> dict[str, Any]:
        """An `adaptiveCard/action` invoke: `user` pressed an Action.Execute on the card `reply_to_id`."""
        activity = self._activity("invoke", user, conversation_id)
        action: dict[str, Any] = {"type": "Action.Execute", "title": verb or "", "data": data}
        if verb is not None:
            action["verb"] = verb
        activity.update(name="adaptiveCard/action", value={"action": action, "trigger": "manual"})
        if reply_to_id:
            activity["replyToId"] = reply_to_id
            activity["channelData"]["legacy"] = {"replyToId": reply_to_id}
        activity["channelData"]["source"] = {"name": "message"}
        return activity

    def dialog_open(self, user: TeamsUser | str, data: dict[str, Any], *, reply_to_id: str | None = None,
                    conversation_id: str | None = None) -> dict[str, Any]:
        """A `task/fetch` invoke: a button with msteams.type task/fetch asks the bot for a dialog."""
        activity = self._activity("invoke", user, conversation_id)
        activity.update(name="task/fetch", value={"type": "task/fetch", "data": data, "context": {"theme": "default"}})
        if reply_to_id:
            activity["replyToId"] = reply_to_id
        return activity

    def dialog_submit(self, user: TeamsUser | str, data: dict[str, Any], *,
                      conversation_id: str | None = None) -> dict[str, Any]:
        """A `task/submit` invoke: the dialog's inputs merged with its submit action's data."""
        activity = self._activity("invoke", user, conversation_id)
        activity.update(name="task/submit",
                        value={"type": "task/submit", "data": data, "context": {"theme": "default"}})
        return activity

    def file_consent(self, user: TeamsUser | str, card_id: str, action: Literal["accept", "decline"] = "accept",
                     *, context: Any = None) -> dict[str, Any]:
        """A `fileConsent/invoke`: `user` pressed Allow (accept) or Decline on the consent card `card_id` in their
        1:1 chat. The value carries the card's acceptContext / declineContext (or `context`, to tamper) and, on
        accept, an upload session on this server for the file (what Teams makes in the person's OneDrive)."""
        person = self._person(user)
        with self._lock:
            conv_id = self._personal.get(person.id)
            card = self._conversations[conv_id].activities.get(card_id) if conv_id else None
            consent = next((a for a in (card or {}).get("attachments") or []
                            if a.get("contentType") == FILE_CONSENT_CONTENT_TYPE), None)
            if consent is None:
                raise ValueError(f"{card_id} is no file consent card in {person.display_name}'s 1:1 chat")
            content = consent.get("content") or {}
            value: dict[str, Any] = {"type": "fileUpload", "action": action, "context": context if context is not None
                                     else content.get("acceptContext" if action == "accept" else "declineContext")}
            if action == "accept":
                name = str(consent.get("name") or "file")
                upload_id = self._new_id("upload")
                self._uploads[upload_id] = (person.id, name)
                value["uploadInfo"] = {
                    "name": name, "uploadUrl": f"{self.base}/_onedrive/uploads/{upload_id}",
                    "contentUrl": f"{self.base}/_onedrive/personal/{person.id}/Documents/Applications/{quote(name)}",
                    "uniqueId": upload_id, "fileType": name.rsplit(".", 1)[-1] if "." in name else ""}
        activity = self._activity("invoke", person, conv_id)
        activity.update(name="fileConsent/invoke", value=value, replyToId=card_id)
        return activity

    def files_of(self, object_id: str) -> dict[str, bytes]:
        """What the bot has put in the person's OneDrive through accepted consent cards: file name -> content."""
        with self._lock:
            return dict(self._files.get(object_id, {}))

    def installation_update(self, user: TeamsUser | str, action: str = "add", *,
                            conversation_id: str | None = None) -> dict[str, Any]:
        """`installationUpdate`: `user` added (or removed) the app, in their 1:1 chat or `conversation_id`."""
        activity = self._activity("installationUpdate", user, conversation_id, require_installed=False)
        activity["action"] = action
        activity["channelData"]["source"] = {"name": "message"}
        return activity

    def conversation_update(self, conversation_id: str, *, by: TeamsUser | str,
                            members_added: Iterable[TeamsUser | str] = (),
                            members_removed: Iterable[TeamsUser | str] = (),
                            bot_added: bool = False) -> dict[str, Any]:
        """`conversationUpdate` in a chat: people (or, with `bot_added`, the bot itself) joined or left."""
        activity = self._activity("conversationUpdate", by, conversation_id, require_installed=False)
        added = [self._member_ref(u) for u in members_added]
        if bot_added:
            added.append({"id": f"28:{self.client_id}"})
        if added:
            activity["membersAdded"] = added
        removed = [self._member_ref(u) for u in members_removed]
        if removed:
            activity["membersRemoved"] = removed
        return activity

    def post_activity(self, bot_url: str, activity: dict[str, Any], *,
                      token: str | Literal[False] | None = None, timeout: float = 10.0) -> httpx.Response:
        """POST `activity` to the bot's messaging endpoint as Teams does: JSON with a Bot Framework bearer token
        for the activity's serviceUrl (`token=False` sends none; a string sends that token)."""
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Microsoft-SkypeBotApi"}
        if token is None:
            token = self.mint_inbound_token(service_url=activity.get("serviceUrl"))
        if token is not False:
            headers["Authorization"] = f"Bearer {token}"
        return self._http_client().post(bot_url, content=json.dumps(activity).encode("utf-8"), headers=headers,
                                        timeout=timeout)

    def _http_client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._clients, "client", None)
        if client is None or client.is_closed:
            client = self._clients.client = httpx.Client()
            with self._lock:
                self._all_clients.append(client)
        return client

    def _member_ref(self, user: TeamsUser | str) -> dict[str, Any]:
        person = self._person(user)
        return {"id": person.mri, "aadObjectId": person.id}

    def _person(self, user: TeamsUser | str) -> TeamsUser:
        with self._lock:
            return self._users[user.id if isinstance(user, TeamsUser) else user]

    def _activity(self, kind: str, user: TeamsUser | str, conversation_id: str | None,
                  require_installed: bool = True) -> dict[str, Any]:
        person = self._person(user)
        with self._lock:
            conv_id = conversation_id or self._personal.get(person.id)
            if conv_id is None:
                if require_installed:
                    raise ValueError(f"{person.display_name} has no 1:1 chat with the bot: install the app first")
                conv_id = self._personal_conversation(person.id).id
            conv = self._conversations[conv_id]
            if require_installed and not conv.app_installed:
                raise ValueError(f"the app is not installed in {conv_id}: Teams would not deliver this activity")
            account: dict[str, Any] = {"conversationType": "personal", "tenantId": self.tenant_id, "id": conv.id}
            if conv.kind == "groupChat":
                account = {"isGroup": True, "conversationType": "groupChat", "tenantId": self.tenant_id, "id": conv.id}
            activity_id = str(_ACTIVITY_ID_BASE + next(self._activity_seq))
        stamp = _now_iso()
        return {
            "type": kind, "id": activity_id, "timestamp": stamp, "localTimestamp": stamp,
            "serviceUrl": self.service_url + "/", "channelId": "msteams",
            "from": {"id": person.mri, "name": person.display_name, "aadObjectId": person.id},
            "conversation": account,
            "recipient": {"id": f"28:{self.client_id}", "name": self.bot_name},
            "entities": [{"type": "clientInfo", "locale": "en-GB", "country": "GB", "platform": "Web",
                          "timezone": "Europe/London"}],
            "channelData": {"tenant": {"id": self.tenant_id}},
            "locale": "en-GB",
        }

    # ------------------------------------------------------------------------- internals (under the lock)

    def _new_id(self, kind: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pmccg-standin/{kind}/{next(self._seq)}"))

    def _personal_conversation(self, oid: str) -> _Conversation:
        conv_id = self._personal.get(oid)
        if conv_id is None:
            conv_id = "a:1" + _b64url(hashlib.sha256(f"personal/{oid}/{self.client_id}".encode()).digest())
            stamp = _now_iso()
            self._conversations[conv_id] = _Conversation(conv_id, "personal", [oid], created=stamp, updated=stamp)
            self._personal[oid] = conv_id
        return self._conversations[conv_id]

    def _install_for(self, oid: str) -> str:
        if oid not in self._users:
            raise KeyError(oid)
        self._personal_installs.setdefault(oid, _b64url(f"{oid}##{self.teams_app_id}".encode()))
        conv = self._personal_conversation(oid)
        conv.app_installed = True
        return conv.id

    def _new_group_chat(self, members: list[str], topic: str | None, app_installed: bool,
                        via_graph: bool = False) -> _Conversation:
        conv_id = f"19:{uuid.uuid5(uuid.NAMESPACE_URL, f'pmccg-standin/chat/{next(self._seq)}').hex}@thread.v2"
        stamp = _now_iso()
        conv = _Conversation(conv_id, "groupChat", members, topic=topic, created=stamp, updated=stamp)
        for oid in members:
            conv.memberships[oid] = _b64url(f"1#{conv_id}#{oid}".encode())
        if app_installed:
            conv.install_id = _b64url(f"{conv_id}##{self.teams_app_id}".encode())
            if via_graph and self._hold_chat_installs:
                self._pending_installs.append(conv_id)
            else:
                conv.app_installed = True
        self._conversations[conv_id] = conv
        return conv

    def _resolve_member(self, ref: Any) -> str | None:
        """An Entra object id from a Bot Connector member reference: its 29: id, object id or 8:orgid: form."""
        if not isinstance(ref, dict):
            return None
        for candidate in (ref.get("aadObjectId"), ref.get("id")):
            if not isinstance(candidate, str):
                continue
            candidate = candidate.removeprefix("8:orgid:")
            if candidate in self._users:
                return candidate
            if candidate in self._by_mri:
                return self._by_mri[candidate]
        return None

    def _user_from_bind(self, bind: Any) -> str | None:
        match = _USER_BIND_RE.search(str(bind or ""))
        if not match:
            return None
        ref = unquote(match.group(1) or match.group(2))
        if ref in self._users:
            return ref
        return next((u.id for u in self._users.values() if u.user_principal_name.lower() == ref.lower()), None)

    def _app_from_bind(self, bind: Any) -> str | None:
        match = _APP_BIND_RE.search(str(bind or ""))
        return match.group(1) if match else None

    def _graph_chat(self, chat_id: str) -> _Conversation | None:
        conv = self._conversations.get(chat_id)
        if conv is None or conv.deleted or conv.kind != "groupChat":
            return None
        return conv

    # ------------------------------------------------------------------------- request handling

    def _handle(self, method: str, raw_path: str, raw: bytes, content_type: str, authorization: str) -> Response:
        at = time.time()
        parts = urlsplit(raw_path)
        route, params = _match(method, parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if route is None:
            status, payload = (404, {"error": {"code": "NotFound", "message": f"No route for {method} {parts.path}"}})
            with self._lock:
                self._calls.append(Call(f"{method} {parts.path}", method, parts.path, {}, query, None, status,
                                        payload, None, (), None, at))
            return status, payload, {}

        with self._lock:
            queued = self._delays.get(route.key)
            wait = queued.popleft() if queued else self._latency.get(route.key, 0.0)
        if wait:
            time.sleep(wait)  # outside the lock: other calls are answered meanwhile

        body, parse_error = (None, False) if route.raw else _parse_body(raw, content_type)
        request = _Request(route, params, query, body, raw)
        permission: str | None = None
        with self._lock:
            response, permission = self._respond(request, parse_error, authorization)
            status, payload, headers = response
            recorded = body
            if isinstance(body, dict) and "client_secret" in body:
                recorded = {**body, "client_secret": "***"}
            client = request.claims.get("appid") if request.claims else None
            # Recorded before the reply is written, so a client never sees an answer the log lacks.
            self._calls.append(Call(route.key, method, parts.path, params, query, recorded, status,
                                    json.loads(json.dumps(payload)) if payload is not None else None,
                                    client, route.needs, permission, at))
        return status, payload, headers

    def _respond(self, request: _Request, parse_error: bool, authorization: str) -> tuple[Response, str | None]:
        route = request.route
        queue = self._faults.get(route.key)
        if queue:
            fault = queue.popleft()
            if not queue:
                del self._faults[route.key]
            status, payload, headers = _error_for(route.api, fault.status, fault.code, fault.message)
            if fault.kind == "ratelimit":
                headers = {"Retry-After": str(fault.retry_after)}
            return (status, payload, headers), None
        if parse_error:
            return _error_for(route.api, 400, "BadRequest", "The request body is not valid JSON."), None

        permission: str | None = None
        if route.api == "connector":
            claims, _ = self._verify_access_token(authorization, BOT_FRAMEWORK_RESOURCE)
            if claims is None:
                return _UNAUTHORISED_CONNECTOR, None
            request.claims = claims
        elif route.api == "graph":
            claims, reason = self._verify_access_token(authorization, self.graph_resource)
            if claims is None:
                code = "InvalidAuthenticationToken"
                return _graph_error(401, code, f"Access token validation failure. {reason}"), None
            request.claims = claims
            chat = self._graph_chat(request.params["id"]) if request.params.get("id", "").startswith("19:") else None
            permission = self._authorising(route.needs, claims, chat)
            if permission is None:
                roles = ", ".join(claims.get("roles") or [])
                return _graph_error(403, "Forbidden", "Missing role permissions on the request. API requires one of "
                                    f"'{', '.join(route.needs)}'. Roles on the request '{roles}'."), None

        subject = dict(request.params)
        user = self._subject_user(request)
        if user:
            subject["user"] = user
        refusal = next((r for r in self._refusals if r.applies(route.key, subject)), None)
        if refusal is not None:
            return _error_for(route.api, refusal.status, refusal.code, refusal.message), permission
        handler: Callable[[_Request], Response] = getattr(self, route.handler)
        return handler(request), permission

    def _authorising(self, needs: tuple[str, ...], claims: dict[str, Any], chat: _Conversation | None) -> str | None:
        roles = set(claims.get("roles") or [])
        for permission in needs:
            if permission.endswith(_RSC_SUFFIX):
                if permission in self._granted and chat is not None and chat.app_installed:
                    return permission
            elif permission in roles:
                return permission
        return None

    def _subject_user(self, request: _Request) -> str | None:
        key, body = request.route.key, request.body
        if key == "POST /v3/conversations" and isinstance(body, dict):
            members = body.get("members")
            return self._resolve_member(members[0]) if isinstance(members, list) and members else None
        if key == "POST /v1.0/chats/{id}/members" and isinstance(body, dict):
            return self._user_from_bind(body.get("user@odata.bind"))
        if key.startswith(("POST /v1.0/users/{id}", "GET /v1.0/users/{id}")):
            return request.params.get("id")
        return None

    # ------------------------------------------------------------------------- identity routes

    def _login_token(self, request: _Request) -> Response:
        form = request.body if isinstance(request.body, dict) else {}
        if request.params["tenant"] != self.tenant_id:
            return _login_error(400, "invalid_request", 90002,
                                f"Tenant '{request.params['tenant']}' not found. Check to make sure you have the "
                                "correct tenant ID and are signing into the correct cloud.")
        if form.get("grant_type") != "client_credentials":
            return _login_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        if form.get("client_id") != self.client_id:
            return _login_error(400, "unauthorized_client", 700016, f"Application with identifier "
                                f"'{form.get('client_id')}' was not found in the directory.")
        if form.get("client_secret") != self.client_secret:
            return _login_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        scope = str(form.get("scope") or "")
        if not scope.endswith("/.default") or " " in scope.strip():
            return _login_error(400, "invalid_scope", 1002012,
                                f"The provided value for scope {scope} is not valid. Client credential flows must "
                                "have a scope value with /.default suffixed to the resource identifier.")
        resource = scope.removesuffix("/.default")
        if resource == BOT_FRAMEWORK_RESOURCE:
            roles: Iterable[str] = ()
        elif resource == self.graph_resource:
            roles = sorted(p for p in self._granted if not p.endswith(_RSC_SUFFIX))
        else:
            return _login_error(400, "invalid_resource", 500011,
                                f"The resource principal named {resource} was not found in the tenant.")
        token = self._mint_access_token(self.client_id, resource, roles)
        return 200, {"token_type": "Bearer", "expires_in": self.token_lifetime, "ext_expires_in": self.token_lifetime,
                     "access_token": token}, {}

    def _login_keys(self, request: _Request) -> Response:
        return 200, {"keys": [_jwk(self._login_key, self._login_kid)]}, {}

    def _login_metadata(self, request: _Request) -> Response:
        tenant = request.params["tenant"]
        return 200, {"issuer": f"{self.base}/{tenant}/v2.0",
                     "token_endpoint": f"{self.base}/{tenant}/oauth2/v2.0/token",
                     "authorization_endpoint": f"{self.base}/{tenant}/oauth2/v2.0/authorize",
                     "jwks_uri": f"{self.base}/{tenant}/discovery/v2.0/keys",
                     "id_token_signing_alg_values_supported": ["RS256"]}, {}

    def _channel_metadata(self, request: _Request) -> Response:
        return 200, {"issuer": BOT_FRAMEWORK_ISSUER, "authorization_endpoint": "https://invalid.botframework.com",
                     "jwks_uri": f"{self.base}/v1/.well-known/keys",
                     "id_token_signing_alg_values_supported": ["RS256"],
                     "token_endpoint_auth_methods_supported": ["private_key_jwt"]}, {}

    def _channel_keys(self, request: _Request) -> Response:
        return 200, {"keys": [{**_jwk(self._channel_key, self._channel_kid), "endorsements": ["msteams"]}]}, {}

    def _onedrive_upload(self, request: _Request) -> Response:
        # One PUT of the whole file (the bot's files are small); a session is used once, as OneDrive's is.
        slot = self._uploads.pop(request.params["uploadId"], None)
        if slot is None:
            return _graph_error(404, "itemNotFound", "The upload session was not found.")
        oid, name = slot
        self._files.setdefault(oid, {})[name] = request.raw
        return 201, {"id": self._new_id("driveItem"), "name": name, "size": len(request.raw)}, {}

    def _standin_answered(self, request: _Request) -> Response:
        # For a stand-in in another process (the benchmark): how many calls of each route were answered 2xx.
        return 200, dict(Counter(c.route for c in self._calls if c.ok)), {}

    # ------------------------------------------------------------------------- Bot Connector routes

    def _connector_conversation(self, conv_id: str) -> tuple[_Conversation | None, Response | None]:
        conv = self._conversations.get(conv_id)
        if conv is None or conv.deleted:
            return None, _connector_error(404, "ConversationNotFound", "Conversation not found.")
        if not conv.app_installed:
            return None, _connector_error(403, "BotNotInConversationRoster",
                                          "The bot is not part of the conversation roster.")
        if conv.kind == "personal" and conv.members[0] in self._blocked:
            return None, _connector_error(403, "ConversationBlockedByUser",
                                          "User blocked the conversation with the bot.")
        return conv, None

    def _create_conversation(self, request: _Request) -> Response:
        body = request.body if isinstance(request.body, dict) else {}
        members = body.get("members")
        tenant = body.get("tenantId") or (body.get("channelData") or {}).get("tenant", {}).get("id")
        # Teams creates 1:1 chats only; a group chat comes from Graph (see TEAMS.md).
        if body.get("isGroup") or not isinstance(members, list) or len(members) != 1 or not tenant:
            return _connector_error(400, "BadSyntax", "Incorrect conversation creation parameters")
        if tenant != self.tenant_id:
            return _connector_error(403, "Forbidden", "The tenant does not match the bot's tenant.")
        oid = self._resolve_member(members[0])
        if oid is None:
            return _connector_error(404, "NotFound", "Member not found in the tenant.")
        if oid not in self._personal_installs:
            return _connector_error(403, "Forbidden", "Bot is not installed in user's personal scope")
        conv = self._personal_conversation(oid)
        if oid in self._blocked:
            return _connector_error(403, "ConversationBlockedByUser", "User blocked the conversation with the bot.")
        activity = body.get("activity")
        if isinstance(activity, dict):
            self._store_activity(conv, activity)
        return 201, {"id": conv.id}, {}

    def _store_activity(self, conv: _Conversation, activity: dict[str, Any]) -> str:
        activity_id = str(_ACTIVITY_ID_BASE + next(self._activity_seq))
        stored = json.loads(json.dumps(activity))
        stored.update(id=activity_id, conversation={"id": conv.id}, timestamp=_now_iso())
        conv.activities[activity_id] = stored
        return activity_id

    def _check_activity(self, request: _Request) -> Response | None:
        body = request.body
        if not isinstance(body, dict) or not body.get("type"):
            return _connector_error(400, "BadArgument", "Activity type is required.")
        if len(request.raw) > self.message_size_limit:
            return _connector_error(413, "RequestEntityTooLarge", "Message size too big.")
        if body["type"] == "message" and not (body.get("text") or body.get("attachments")):
            return _connector_error(400, "BadArgument", "A message needs text or attachments.")
        refusal = self._check(body) if self._check is not None else None
        if refusal is not None:
            return _connector_error(refusal.status, refusal.code, refusal.describe())
        return None

    def _create_activity(self, request: _Request) -> Response:
        conv, error = self._connector_conversation(request.params["id"])
        if conv is None:
            return cast(Response, error)
        if (invalid := self._check_activity(request)) is not None:
            return invalid
        if request.body["type"] == "typing":
            return 201, {}, {}
        return 201, {"id": self._store_activity(conv, request.body)}, {}

    def _update_activity(self, request: _Request) -> Response:
        conv, error = self._connector_conversation(request.params["id"])
        if conv is None:
            return cast(Response, error)
        activity_id = request.params["activityId"]
        if activity_id not in conv.activities or activity_id in conv.deleted_activities:
            return _connector_error(404, "ActivityNotFound", "Activity not found.")
        if (invalid := self._check_activity(request)) is not None:
            return invalid
        stored = json.loads(json.dumps(request.body))
        stored.update(id=activity_id, conversation={"id": conv.id}, timestamp=conv.activities[activity_id]["timestamp"],
                      lastModified=_now_iso())
        conv.activities[activity_id] = stored
        return 200, {"id": activity_id}, {}

    def _delete_activity(self, request: _Request) -> Response:
        conv, error = self._connector_conversation(request.params["id"])
        if conv is None:
            return cast(Response, error)
        activity_id = request.params["activityId"]
        if activity_id not in conv.activities or activity_id in conv.deleted_activities:
            return _connector_error(404, "ActivityNotFound", "Activity not found.")
        conv.deleted_activities.add(activity_id)
        return 200, None, {}

    def _member_accounts(self, conv: _Conversation) -> list[dict[str, Any]]:
        return [self._users[oid].channel_account(self.tenant_id) for oid in conv.members]

    def _list_members(self, request: _Request) -> Response:
        conv, error = self._connector_conversation(request.params["id"])
        if conv is None:
            return cast(Response, error)
        return 200, self._member_accounts(conv), {}

    def _get_member(self, request: _Request) -> Response:
        conv, error = self._connector_conversation(request.params["id"])
        if conv is None:
            return cast(Response, error)
        oid = self._resolve_member({"id": request.params["memberId"]})
        if oid is None or oid not in conv.members:
            return _connector_error(404, "MemberNotFoundInConversation",
                                    "The member was not found in the conversation.")
        return 200, self._users[oid].channel_account(self.tenant_id), {}

    def _paged_members(self, request: _Request) -> Response:
        conv, error = self._connector_conversation(request.params["id"])
        if conv is None:
            return cast(Response, error)
        try:
            size = int(request.query.get("pageSize") or 200)
            start = int(_unb64(request.query["continuationToken"])) if request.query.get("continuationToken") else 0
        except (ValueError, KeyError):
            return _connector_error(400, "BadArgument", "Invalid pageSize or continuationToken.")
        accounts = self._member_accounts(conv)
        page: dict[str, Any] = {"members": accounts[start:start + max(size, 1)]}
        if start + size < len(accounts):
            page["continuationToken"] = _b64url(str(start + size).encode())
        return 200, page, {}

    # ------------------------------------------------------------------------- Graph routes

    def _chat_json(self, conv: _Conversation) -> dict[str, Any]:
        return {"@odata.context": f"{self.graph_url}/$metadata#chats/$entity", "id": conv.id, "topic": conv.topic,
                "createdDateTime": conv.created, "lastUpdatedDateTime": conv.updated, "chatType": "group",
                "webUrl": f"https://teams.microsoft.com/l/chat/{quote(conv.id)}/0?tenantId={self.tenant_id}",
                "tenantId": self.tenant_id, "isHiddenForAllMembers": False}

    def _membership_json(self, conv: _Conversation, oid: str) -> dict[str, Any]:
        user = self._users[oid]
        return {"@odata.type": _AAD_MEMBER, "id": conv.memberships[oid],
                "roles": ["owner"], "displayName": user.display_name,
                "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z", "userId": oid, "email": user.mail,
                "tenantId": self.tenant_id}

    def _installation_json(self, install_id: str, expand: str) -> dict[str, Any]:
        item: dict[str, Any] = {"id": install_id}
        if "teamsApp" in expand:
            item["teamsApp"] = {"id": self.teams_app_id, "externalId": MANIFEST_ID, "displayName": self.bot_name,
                                "distributionMethod": "organization"}
        return item

    def _chat_or_404(self, chat_id: str) -> tuple[_Conversation | None, Response | None]:
        conv = self._graph_chat(chat_id)
        if conv is None:
            return None, _graph_error(404, "NotFound", f"Chat '{chat_id}' not found.")
        return conv, None

    def _graph_create_chat(self, request: _Request) -> Response:
        body = request.body if isinstance(request.body, dict) else {}
        if body.get("chatType") != "group":
            return _graph_error(400, "BadRequest", "The stand-in creates group chats only (chatType 'group').")
        members = body.get("members")
        if not isinstance(members, list) or len(members) < 2:
            return _graph_error(400, "BadRequest", "A group chat needs at least two members.")
        oids: list[str] = []
        for member in members:
            if not isinstance(member, dict) or member.get("@odata.type") != _AAD_MEMBER:
                return _graph_error(400, "BadRequest", "Each member must be an aadUserConversationMember.")
            if not isinstance(member.get("roles"), list):
                return _graph_error(400, "BadRequest", "Must specify a role for the new member.")
            oid = self._user_from_bind(member.get("user@odata.bind"))
            if oid is None:
                return _graph_error(404, "NotFound", "One or more members could not be found in the tenant.")
            oids.append(oid)
        apps = body.get("installedApps") or []
        if not isinstance(apps, list) or len(apps) > 1:
            return _graph_error(400, "BadRequest", "Currently, only one app installation is supported.")
        if apps:
            # Installing the app is its own permission, checked on top of creating the chat.
            if self._authorising(_CHAT_APPS_WRITE, request.claims, None) is None:
                return _graph_error(403, "Forbidden", "Missing role permissions on the request. API requires one of "
                                    f"'{', '.join(_CHAT_APPS_WRITE)}'.")
            if self._app_from_bind(apps[0].get("teamsApp@odata.bind") if isinstance(apps[0], dict) else None) \
                    != self.teams_app_id:
                return _graph_error(404, "NotFound", "The app was not found in the organisation's catalogue.")
        topic = body.get("topic")
        conv = self._new_group_chat(list(dict.fromkeys(oids)), topic if isinstance(topic, str) else None, bool(apps),
                                    via_graph=True)
        if apps:
            # Graph answers 202 with where the chat and the install operation are; the body is empty.
            operation = self._new_id("operation")
            return 202, None, {"Location": f"/chats('{conv.id}')/operations('{operation}')",
                               "Content-Location": f"/chats('{conv.id}')"}
        return 201, self._chat_json(conv), {}

    def _graph_get_chat(self, request: _Request) -> Response:
        conv, error = self._chat_or_404(request.params["id"])
        return (200, self._chat_json(conv), {}) if conv else cast(Response, error)

    def _graph_update_chat(self, request: _Request) -> Response:
        conv, error = self._chat_or_404(request.params["id"])
        if conv is None:
            return cast(Response, error)
        body = request.body if isinstance(request.body, dict) else {}
        if set(body) - {"topic"} or not isinstance(body.get("topic"), str):
            return _graph_error(400, "BadRequest", "Only the topic of a chat can be updated.")
        conv.topic = body["topic"]
        conv.updated = _now_iso()
        return 200, self._chat_json(conv), {}

    def _graph_delete_chat(self, request: _Request) -> Response:
        conv, error = self._chat_or_404(request.params["id"])
        if conv is None:
            return cast(Response, error)
        conv.deleted = True
        return 204, None, {}

    def _graph_list_chat_members(self, request: _Request) -> Response:
        conv, error = self._chat_or_404(request.params["id"])
        if conv is None:
            return cast(Response, error)
        value = [self._membership_json(conv, oid) for oid in conv.members]
        return 200, {"@odata.context": f"{self.graph_url}/$metadata#chats('{conv.id}')/members",
                     "@odata.count": len(value), "value": value}, {}

    def _graph_add_chat_member(self, request: _Request) -> Response:
        conv, error = self._chat_or_404(request.params["id"])
        if conv is None:
            return cast(Response, error)
        body = request.body if isinstance(request.body, dict) else {}
        if body.get("@odata.type") != _AAD_MEMBER:
            return _graph_error(400, "BadRequest", "The member must be an aadUserConversationMember.")
        if not isinstance(body.get("roles"), list):
            return _graph_error(400, "BadRequest", "Must specify a role for the new member.")
        oid = self._user_from_bind(body.get("user@odata.bind"))
        if oid is None:
            return _graph_error(404, "NotFound", "The user could not be found in the tenant.")
        if oid not in conv.members:  # adding someone already there answers their membership again
            conv.members.append(oid)
            conv.memberships[oid] = _b64url(f"1#{conv.id}#{oid}".encode())
            conv.updated = _now_iso()
        return 201, self._membership_json(conv, oid), {}

    def _graph_remove_chat_member(self, request: _Request) -> Response:
        conv, error = self._chat_or_404(request.params["id"])
        if conv is None:
            return cast(Response, error)
        member = request.params["memberId"]
        oid = next((o for o, m in conv.memberships.items() if m == member), None)
        if oid is None or oid not in conv.members:
            return _graph_error(404, "NotFound", "The membership was not found in the chat.")
        conv.members.remove(oid)
        del conv.memberships[oid]
        return 204, None, {}

    def _graph_list_chat_apps(self, request: _Request) -> Response:
        conv, error = self._chat_or_404(request.params["id"])
        if conv is None:
            return cast(Response, error)
        installed = conv.install_id is not None and (conv.app_installed or conv.id in self._pending_installs)
        value = [self._installation_json(conv.install_id, request.query.get("$expand", ""))] \
            if installed and conv.install_id else []
        return 200, {"value": value}, {}

    def _graph_install_chat_app(self, request: _Request) -> Response:
        conv, error = self._chat_or_404(request.params["id"])
        if conv is None:
            return cast(Response, error)
        body = request.body if isinstance(request.body, dict) else {}
        if self._app_from_bind(body.get("teamsApp@odata.bind")) != self.teams_app_id:
            return _graph_error(404, "NotFound", "The app was not found in the organisation's catalogue.")
        if conv.app_installed:
            return _graph_error(409, "Conflict", "The app is already installed in this chat.")
        conv.install_id = conv.install_id or _b64url(f"{conv.id}##{self.teams_app_id}".encode())
        conv.app_installed = True
        return 201, None, {}

    def _graph_uninstall_chat_app(self, request: _Request) -> Response:
        conv, error = self._chat_or_404(request.params["id"])
        if conv is None:
            return cast(Response, error)
        if not conv.app_installed or conv.install_id != request.params["installId"]:
            return _graph_error(404, "NotFound", "The app installation was not found in this chat.")
        conv.app_installed = False
        conv.install_id = None
        return 204, None, {}

    def _graph_list_user_apps(self, request: _Request) -> Response:
        oid = request.params["id"]
        if oid not in self._users:
            return _graph_error(404, "NotFound", f"User '{oid}' not found.")
        install = self._personal_installs.get(oid)
        value = [self._installation_json(install, request.query.get("$expand", ""))] if install else []
        return 200, {"value": value}, {}

    def _graph_install_user_app(self, request: _Request) -> Response:
        oid = request.params["id"]
        if oid not in self._users:
            return _graph_error(404, "NotFound", f"User '{oid}' not found.")
        body = request.body if isinstance(request.body, dict) else {}
        if self._app_from_bind(body.get("teamsApp@odata.bind")) != self.teams_app_id:
            return _graph_error(404, "NotFound", "The app was not found in the organisation's catalogue.")
        if oid in self._personal_installs:
            return _graph_error(409, "Conflict", "The app is already installed for this user.")
        self._install_for(oid)
        return 201, None, {}

    def _graph_list_users(self, request: _Request) -> Response:
        query = request.query
        select, problem = _graph_select(query.get("$select"))
        if problem:
            return _graph_error(400, "BadRequest", problem)
        clauses, problem = _graph_filter(query.get("$filter"))
        if problem:
            return _graph_error(400, "BadRequest", problem)
        try:
            top = int(query.get("$top") or 100)
            start = int(_unb64(query["$skiptoken"])) if query.get("$skiptoken") else 0
        except (ValueError, KeyError):
            return _graph_error(400, "BadRequest", "Invalid $top or $skiptoken.")
        if not 1 <= top <= 999:
            return _graph_error(400, "BadRequest", "Invalid page size specified: '$top' must be between 1 and 999.")
        people = [u for u in self._users.values() if all(u.graph(_GRAPH_USER_PROPERTIES)[k] == v for k, v in clauses)]
        page: dict[str, Any] = {"@odata.context": f"{self.graph_url}/$metadata#users",
                                "value": [u.graph(select) for u in people[start:start + top]]}
        if start + top < len(people):
            rest = {k: v for k, v in query.items() if k != "$skiptoken"}
            rest["$skiptoken"] = _b64url(str(start + top).encode())
            page["@odata.nextLink"] = f"{self.graph_url}/users?{urlencode(rest, quote_via=quote, safe='$,')}"
        return 200, page, {}

    def _graph_get_user(self, request: _Request) -> Response:
        select, problem = _graph_select(request.query.get("$select"))
        if problem:
            return _graph_error(400, "BadRequest", problem)
        oid = self._user_from_bind(f"/users/{request.params['id']}")
        if oid is None:
            return _graph_error(404, "Request_ResourceNotFound", f"Resource '{request.params['id']}' does not exist "
                                "or one of its queried reference-property objects are not present.")
        return 200, {"@odata.context": f"{self.graph_url}/$metadata#users/$entity",
                     **self._users[oid].graph(select)}, {}


# ----------------------------------------------------------------------------- helpers


def _check_route(route: str) -> None:
    if route not in _ROUTES_BY_KEY:
        known = "\n  ".join(_ROUTES_BY_KEY)
        raise KeyError(f"unknown route {route!r}; the stand-in has:\n  {known}")


def _match(method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
    for route in ROUTES:
        if route.method != method:
            continue
        found = route.pattern.match(path)
        if found:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None, {}


def _parse_body(raw: bytes, content_type: str) -> tuple[Any, bool]:
    if not raw:
        return None, False
    mime = content_type.split(";", 1)[0].strip().lower()
    try:
        if mime == "application/x-www-form-urlencoded":
            return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}, False
        return json.loads(raw.decode("utf-8")), False
    except (ValueError, UnicodeDecodeError):
        return None, True


def _unb64(token: str) -> str:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")


def _graph_select(raw: str | None) -> tuple[tuple[str, ...], str]:
    if not raw:
        return _GRAPH_USER_DEFAULT, ""
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    unknown = [n for n in names if n not in _GRAPH_USER_PROPERTIES]
    if unknown:
        return (), f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.user'."
    return names, ""


def _graph_filter(raw: str | None) -> tuple[list[tuple[str, Any]], str]:
    """The `prop eq value [and ...]` filters a directory sync needs; Graph supports more."""
    if not raw:
        return [], ""
    clauses: list[tuple[str, Any]] = []
    for part in re.split(r"\s+and\s+", raw):
        match = _FILTER_CLAUSE_RE.match(part)
        if not match or match.group(1) not in _GRAPH_USER_PROPERTIES:
            return [], f"Invalid filter clause: {part.strip()}"
        literal = match.group(2)
        value: Any = literal == "true" if literal in ("true", "false") else literal[1:-1]
        clauses.append((match.group(1), value))
    return clauses, ""
