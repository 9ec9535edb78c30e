"""The bot's forms in Slack: open a modal with its form record, find the record a request names, answer refusals.

The rules are bot/domain/forms.py's; this module knows where Slack puts things (private_metadata, view ids,
response URLs) and which hosts are Slack's own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.config import Settings
from bot.domain import forms
from bot.domain.forms import Form, FormKind, FormRefused, Origin
from bot.services import Services
from handlers.slack.modals import message_modal
from handlers.slack.replies import refusal_text

log = logging.getLogger(__name__)

SLACK_HOOKS = ("https", "hooks.slack.com")


def reply_hosts(settings: Settings) -> frozenset[tuple[str, str]]:
    """Slack's own hosts for response URLs: hooks.slack.com, and the configured Web API's host with its
    `hooks.` sibling (GovSlack's hooks.slack-gov.com, an enterprise proxy, the local stand-in)."""
    hosts = {SLACK_HOOKS}
    api = forms.host_of(settings.slack_api_url)
    if api is not None:
        scheme, netloc = api
        hosts |= {api, (scheme, netloc if netloc.startswith("hooks.") else f"hooks.{netloc}")}
    return frozenset(hosts)


def foreign_reply_url(body: Mapping[str, Any], hosts: frozenset[tuple[str, str]]) -> bool:
    """True if the request carries a response URL that is not on Slack's hosts (an edited request)."""
    urls: list[Any] = []
    if body.get("response_url"):
        urls.append(body["response_url"])
    listed = body.get("response_urls")
    if listed:
        if not isinstance(listed, list):
            return True
        urls += [entry.get("response_url") if isinstance(entry, dict) else entry for entry in listed]
    return any(forms.trusted_reply_url(url, hosts) is None for url in urls)


def open_modal(client: WebClient, services: Services, trigger_id: str, view: dict[str, Any], *, kind: FormKind,
               user_id: str, subject: str, origin: Origin | None = None, rows: int = 1) -> str:
    """Record the form, open the modal carrying only its nonce, and keep the view id Slack gives it."""
    nonce = forms.open_form(services.sessions, kind=kind, user_id=user_id, subject=subject, now=services.clock(),
                            origin=origin or Origin(), rows=rows)
    response = client.views_open(trigger_id=trigger_id, view={**view, "private_metadata": nonce})
    opened = response.get("view") or {}
    forms.record_view(services.sessions, nonce, str(opened.get("id") or "") if isinstance(opened, dict) else "")
    return nonce


def form_of(services: Services, body: dict[str, Any], kind: FormKind) -> Form:
    """The form a view submission or an in-modal click names (its nonce), checked against the signed user
    and the view it came from. Raises FormRefused or AlreadySubmitted."""
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    return forms.find(services.sessions, view.get("private_metadata"), body["user"]["id"], kind, view.get("id"))


def answer_not_taken(ack: Ack, exc: FormRefused | forms.AlreadySubmitted) -> None:
    """A refused form says so; a repeated one is answered quietly: saved once, nothing more changed."""
    if isinstance(exc, FormRefused):
        ack(response_action="update", view=message_modal("Not saved", refusal_text(exc)))
    else:
        ack(response_action="update", view=message_modal("Already saved", f":white_check_mark: {exc.message}"))
