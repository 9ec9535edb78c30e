"""The bot's identity on Teams: which endpoints it trusts, and the client-credentials tokens it sends.

Production, the tests, the benchmark and a local trial run this same code; only the URLs differ
(TEAMS_OPENID_METADATA_URL, TEAMS_LOGIN_URL, TEAMS_SERVICE_URL, GRAPH_API_URL; Microsoft's public
cloud by default). `app_auth_options` gives the Teams SDK's `App(...)` everything about identity:

- inbound: the SDK checks each activity's Bot Framework JWT (RS256, issuer api.botframework.com,
  audience the app id, expiry, `serviceurl` claim) against the keys published next to
  `openid_metadata_url`; validation is never switched off here;
- outbound: the SDK asks `ClientCredentialsTokens` for a token per scope (the Bot Connector's, or
  Graph's) and we post the client secret to `{login_url}/{tenant}/oauth2/v2.0/token` ourselves.

Why not the SDK's own client-secret path (`client_secret=`, `CLIENT_SECRET`): it goes through
MSAL, which refuses an authority that is not https and, for a host it does not know, first calls
login.microsoftonline.com's instance discovery; so it cannot reach a stand-in on loopback, TLS or
not (msal/authority.py `canonicalize`, `_initialize_entra_authority`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx
from microsoft_teams.api.auth.cloud_environment import PUBLIC, CloudEnvironment, with_overrides

log = logging.getLogger(__name__)

PUBLIC_OPENID_METADATA_URL = PUBLIC.openid_metadata_url  # https://login.botframework.com/v1/.well-known/...
PUBLIC_LOGIN_URL = PUBLIC.login_endpoint  # https://login.microsoftonline.com
PUBLIC_SERVICE_URL = "https://smba.trafficmanager.net/teams"  # the SDK's default for proactive sends
PUBLIC_GRAPH_API_URL = "https://graph.microsoft.com/v1.0"

# The SDK finds the inbound token keys by replacing this ending with "/keys" (auth/token_validator.py).
_METADATA_SUFFIX = "/openidconfiguration"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Renew a token this long before it expires, so a send never starts with one about to lapse.
REFRESH_MARGIN_SECONDS = 300


class TeamsAuthError(Exception):
    """The bot's Teams identity is misconfigured or a token could not be had; never carries a secret."""


class TokenRequestError(TeamsAuthError):
    """The login endpoint refused or failed a token request.

    `retryable` is true for 429, 5xx and an unreachable endpoint (honour `retry_after` when given);
    anything else (a wrong secret, tenant or scope) stays wrong until someone fixes a setting.
    """

    def __init__(self, message: str, *, status: int | None, error: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TeamsAuthError(f"{name} must be an http(s) URL with a host.")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        # Plain http would carry the client secret and bearer tokens in clear over a network.
        raise TeamsAuthError(f"{name} must use https (plain http is accepted on 127.0.0.1 only).")


@dataclass(frozen=True)
class TeamsEndpoints:
    """Where Microsoft's services are. Defaults are the public cloud; tests point them at the stand-in."""

    openid_metadata_url: str = PUBLIC_OPENID_METADATA_URL
    login_url: str = PUBLIC_LOGIN_URL
    service_url: str = PUBLIC_SERVICE_URL
    graph_api_url: str = PUBLIC_GRAPH_API_URL

    def __post_init__(self) -> None:
        for name, url in (("TEAMS_OPENID_METADATA_URL", self.openid_metadata_url), ("TEAMS_LOGIN_URL", self.login_url),
                          ("TEAMS_SERVICE_URL", self.service_url), ("GRAPH_API_URL", self.graph_api_url)):
            _check_url(name, url)
        if not self.openid_metadata_url.rstrip("/").endswith(_METADATA_SUFFIX):
            # Otherwise the SDK would fetch the metadata document itself as the key set and refuse every activity.
            raise TeamsAuthError(f"TEAMS_OPENID_METADATA_URL must end in {_METADATA_SUFFIX} "
                                 "(the keys are fetched from the same path ending in /keys).")

    @property
    def graph_resource(self) -> str:
        """Graph's token audience: the API URL's scheme and host (https://graph.microsoft.com)."""
        parts = urlsplit(self.graph_api_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def graph_scope(self) -> str:
        return self.graph_resource + "/.default"

    @property
    def bot_scope(self) -> str:
        return PUBLIC.bot_scope  # https://api.botframework.com/.default, the same wherever the Bot Connector is

    def cloud(self) -> CloudEnvironment:
        """The SDK's cloud settings: inbound key location, login host, and Graph's scope (its base URL too)."""
        return with_overrides(PUBLIC, openid_metadata_url=self.openid_metadata_url.rstrip("/"),
                              login_endpoint=self.login_url.rstrip("/"), graph_scope=self.graph_scope)


@dataclass(frozen=True)
class TeamsCredentials:
    """The single-tenant Entra app registration the bot runs as."""

    client_id: str
    tenant_id: str
    client_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        missing = [n for n, v in (("TEAMS_CLIENT_ID", self.client_id), ("TEAMS_TENANT_ID", self.tenant_id),
                                  ("TEAMS_CLIENT_SECRET", self.client_secret)) if not v]
        if missing:
            raise TeamsAuthError(", ".join(missing) + " not set.")


@dataclass
class _Cached:
    token: str
    renew_at: float  # monotonic


class ClientCredentialsTokens:
    """The `token=` callable for the SDK's App: `await tokens(scope, tenant_id)` gives a bearer token.

    Tokens are cached per scope until `REFRESH_MARGIN_SECONDS` before they expire; concurrent
    requests for the same scope on one event loop share one login call. Safe to share between
    threads and event loops (a scheduler process may run its own loop).
    """

    def __init__(self, credentials: TeamsCredentials, login_url: str, *, timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._credentials = credentials
        self._token_url = f"{login_url.rstrip('/')}/{credentials.tenant_id}/oauth2/v2.0/token"
        self._timeout = timeout
        self._clock = clock
        self._transport = transport
        self._cache: dict[str, _Cached] = {}
        self._cache_lock = threading.Lock()
        self._flights: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
            weakref.WeakKeyDictionary())
        self.requests = 0  # how many times the login endpoint was asked (tests and the benchmark read it)

    async def __call__(self, scope: str | list[str] | None = None, tenant_id: str | None = None) -> str:
        # The SDK passes one scope (TokenScope allows a list; a client-credentials request takes one).
        scope = " ".join(scope) if isinstance(scope, list) else (scope or PUBLIC.bot_scope)
        if tenant_id not in (None, self._credentials.tenant_id):
            # A single-tenant registration has tokens in its own tenant only; never ask another for one.
            raise TeamsAuthError("A token was requested for another tenant; the bot is registered single-tenant.")
        if (cached := self._fresh(scope)) is not None:
            return cached
        async with self._flight(scope):
            if (cached := self._fresh(scope)) is not None:
                return cached
            token, lifetime = await self._request(scope)
            margin = min(REFRESH_MARGIN_SECONDS, lifetime / 2)
            with self._cache_lock:
                self._cache[scope] = _Cached(token, self._clock() + lifetime - margin)
            return token

    def _fresh(self, scope: str) -> str | None:
        with self._cache_lock:
            cached = self._cache.get(scope)
        return cached.token if cached is not None and self._clock() < cached.renew_at else None

    def _flight(self, scope: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._cache_lock:
            locks = self._flights.setdefault(loop, {})
            return locks.setdefault(scope, asyncio.Lock())

    async def _request(self, scope: str) -> tuple[str, float]:
        resource = scope.removesuffix("/.default")
        form = {"grant_type": "client_credentials", "client_id": self._credentials.client_id,
                "client_secret": self._credentials.client_secret, "scope": scope}
        self.requests += 1
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport,
                                         verify=_tls_context()) as client:
                response = await client.post(self._token_url, data=form, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            log.warning("teams_token_unreachable", extra={"event": "teams_token_unreachable", "resource": resource,
                                                         "error": type(exc).__name__})
            raise TokenRequestError(f"The Teams login endpoint could not be reached ({type(exc).__name__}).",
                                    status=None, error="unreachable") from None
        body = _json_or_empty(response)
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            error = str(body.get("error") or "invalid_response")
            codes = body.get("error_codes") or []
            retry_after = _seconds(response.headers.get("Retry-After"))
            log.warning("teams_token_refused", extra={"event": "teams_token_refused", "resource": resource,
                                                      "status": response.status_code, "error": error,
                                                      "aadsts": codes[0] if codes else ""})
            description = str(body.get("error_description") or "").splitlines()[0][:200] if body else ""
            raise TokenRequestError(f"The Teams login endpoint refused a token for {resource}: HTTP "
                                    f"{response.status_code} {error}. {description}".strip(),
                                    status=response.status_code, error=error, retry_after=retry_after)
        try:
            lifetime = float(body.get("expires_in", 0))
        except (TypeError, ValueError):
            lifetime = 0.0
        if lifetime <= 0:
            raise TokenRequestError("The Teams login endpoint answered a token without a lifetime.", status=200,
                                    error="invalid_response")
        log.info("teams_token_acquired", extra={"event": "teams_token_acquired", "resource": resource,
                                                "expires_in": int(lifetime)})
        return body["access_token"], lifetime


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # httpx's own default (certifi's CA bundle), built once: building it costs ~0.2 s per client.
    return ssl.create_default_context(cafile=certifi.where())


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def app_auth_options(credentials: TeamsCredentials, endpoints: TeamsEndpoints,
                     tokens: ClientCredentialsTokens | None = None) -> dict[str, Any]:
    """Keyword arguments for the SDK's `App(...)` covering identity, for serving and for sending alike.

    `App(**app_auth_options(credentials, endpoints), http_server_adapter=...)`. Raises TeamsAuthError
    when the environment would silently switch the SDK onto another identity path.
    """
    if os.environ.get("CLIENT_SECRET"):
        # The SDK reads CLIENT_SECRET itself and it wins over token=, sending the secret through MSAL to
        # Microsoft's public login host whatever TEAMS_LOGIN_URL says (apps/app.py `_init_credentials`).
        raise TeamsAuthError("CLIENT_SECRET is set in the environment; the Teams SDK would use it instead of "
                             "TEAMS_CLIENT_SECRET. Unset it (the bot reads TEAMS_CLIENT_SECRET).")
    return {
        "client_id": credentials.client_id,
        "tenant_id": credentials.tenant_id,
        "token": tokens or ClientCredentialsTokens(credentials, endpoints.login_url),
        "cloud": endpoints.cloud(),
        "service_url": endpoints.service_url.rstrip("/"),
        # Explicit, so DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS in the environment cannot turn checks off.
        "dangerously_allow_unauthenticated_requests": False,
    }
