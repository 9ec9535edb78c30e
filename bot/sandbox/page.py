"""The sandbox's web page: a small Slack-like workspace in the browser, driving the real bot.

Pages are rendered on the server (Block Kit to HTML in `blockkit`); a few lines of script reload
the page when the workspace changes and nothing is being typed.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from bot.sandbox import blockkit
from bot.sandbox.runtime import DEMO_PEOPLE, GENERAL, Sandbox
from bot.sandbox.slack_api import BOT_USER_ID

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
CLOSE_ICON = Markup('<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">'
                    '<path d="M3.5 3.5l9 9M12.5 3.5l-9 9" stroke="currentColor" stroke-width="2" '
                    'stroke-linecap="round"/></svg>')

def state_values(form: MultiDict[str, str]) -> dict[str, Any]:
    """view.state.values as Slack builds it from a modal's controls (each control named v|block|action|type)."""
    values: dict[str, dict[str, Any]] = {}
    for name in form.getlist("present"):
        try:
            _, block_id, action_id, kind = name.split("|", 3)
        except ValueError:
            continue
        raw = [v for v in form.getlist(name) if v != ""]
        element: dict[str, Any] = {"type": kind}
        key = blockkit.STATE_KEYS.get(kind, "value")
        if key in ("selected_options",):
            element[key] = [{"value": v} for v in raw]
        elif key == "selected_option":
            element[key] = {"value": raw[0]} if raw else None
        elif key == "selected_users":
            element[key] = raw
        else:
            element[key] = raw[0] if raw else None
        values.setdefault(block_id, {})[action_id] = element
    return values


def settle(sandbox: Sandbox, quiet: float = 0.35, limit: float = 6.0) -> None:
    """Wait until the bot has finished what a click started (it answers Slack at once, then works),
    then run a scheduler tick, so what the click made due (circulation, say) shows at once. The tick
    sends in this thread, so once it returns there is nothing more to wait for."""
    _quiet(sandbox, quiet, limit)
    sandbox.tick()


def _quiet(sandbox: Sandbox, quiet: float, limit: float) -> None:
    deadline = time.monotonic() + limit
    seen, since = sandbox.slack.version, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if sandbox.slack.version != seen:
            seen, since = sandbox.slack.version, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def create_page(sandbox: Sandbox) -> Flask:
    page = Flask("pmccg-sandbox", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    slack = sandbox.slack

    def person(uid: str) -> dict[str, Any]:
        if uid not in DEMO_PEOPLE:
            abort(404)
        return slack.users[uid]

    def general_id() -> str:
        return next(cid for cid, c in slack.channels.items() if c.get("name") == GENERAL)

    def viewer(uid: str) -> blockkit.Viewer:
        links = {c["id"]: url_for("channel", uid=uid, cid=c["id"]) for c in slack.channels_of(uid)}
        links[f"D{uid}"] = url_for("dm", uid=uid)
        return blockkit.viewer_for(slack.users, slack.channels, uid, sandbox.clock, links)

    def may_see(uid: str, cid: str) -> bool:
        channel = slack.channels.get(cid)
        if channel is None:
            return False
        if channel.get("is_im"):
            return channel.get("user") == uid
        return uid in slack._members.get(cid, [])

    def back(uid: str) -> Any:
        target = request.form.get("back") or url_for("channel", uid=uid, cid=general_id())
        return redirect(target if target.startswith("/") else "/")

    def flash_error(uid: str, text: str) -> None:
        from bot.sandbox.workspace import Rejection

        slack.reject(Rejection("sandbox", "error", (text,), uid))

    @page.get("/")
    def choose() -> str:
        people = [(uid, name, roles.replace("_", " ").replace(";", ", "), profs.replace(";", ", "))
                  for uid, (name, roles, profs) in DEMO_PEOPLE.items()]
        return render_template("choose.html", people=people)

    @page.get("/as/<uid>")
    def start(uid: str) -> Any:
        person(uid)
        return redirect(url_for("channel", uid=uid, cid=general_id()))

    @page.get("/switch")
    def switch() -> Any:
        """Become someone else, keeping the view where they may see it: the same channel if they are in it,
        their own direct messages for a DM, else their Home (opened as Slack opens it)."""
        uid = request.args.get("who", "")
        person(uid)
        cid = request.args.get("cid", "")
        channel = slack.channels.get(cid) or {}
        if channel.get("is_im"):
            return redirect(url_for("dm", uid=uid))
        if cid and request.args.get("home") != "1" and may_see(uid, cid):
            return redirect(url_for("channel", uid=uid, cid=cid))
        sandbox.open_home(uid)
        settle(sandbox)
        return redirect(url_for("home", uid=uid))

    def screen(uid: str, *, cid: str = "", home: bool = False) -> str:
        me = person(uid)
        v = viewer(uid)
        if home:
            view = slack.home_views.get(uid)
            title = "Home"
            private = False
            body = blockkit.render_blocks(view.get("blocks"), v) if view else Markup(
                '<p class="empty">Nothing published yet.</p>')
            messages: list[dict[str, Any]] = []
            ephemerals: list[Any] = []
        else:
            if not may_see(uid, cid):
                abort(404)
            channel = slack.channels[cid]
            title = "pmccg (app)" if channel.get("is_im") else "#" + str(channel.get("name"))
            private = bool(channel.get("is_private")) and not channel.get("is_im")
            body = Markup("")
            messages = [_message_view(m, v) for m in slack.messages_in(cid)]
            ephemerals = [{"id": e.id, "html": blockkit.render_blocks(e.blocks, v, fallback=e.text)}
                          for e in slack.ephemerals_for(uid, cid)]
        stack = slack.modal_stack(uid)
        modal = None
        if stack and stack[-1] in slack.views:
            view = slack.views[stack[-1]]
            errors = slack.screens.modal_errors.get(view["id"], {})
            modal = {"id": view["id"], "title": blockkit.text_object(view.get("title"), v),
                     "submit": blockkit.text_object(view.get("submit"), v) if view.get("submit") else "",
                     "close": blockkit.text_object(view.get("close") or {"text": "Cancel"}, v),
                     "errors": len(errors),
                     "html": blockkit.render_blocks(view.get("blocks"), v, errors=errors,
                                                    state=slack.modal_state(view["id"]))}
        channels = [{**c, "private": bool(c.get("is_private"))}
                    for c in sorted(slack.channels_of(uid), key=lambda c: str(c.get("name")))]
        rejections = [r.describe() for r in slack.rejections_for(uid)][-5:]
        now_local = sandbox.clock().astimezone(v.zone)
        upcoming = sandbox.upcoming()
        return render_template(
            "workspace.html", me=me, uid=uid, cid=cid, home=home, title=title, private=private, body=body,
            messages=messages, ephemerals=ephemerals, modal=modal, channels=channels, rejections=rejections,
            version=slack.version, now=f"{now_local:%a %d %b %Y, %H:%M}",
            next_due=upcoming.describe(v.zone) if upcoming else "", lock=blockkit.icon("lock", ""),
            warning=blockkit.icon("warning", ""), close_icon=CLOSE_ICON,
            people=[(u, n) for u, (n, _, _) in DEMO_PEOPLE.items()], dm=f"D{uid}", back=request.full_path.rstrip("?"))

    @page.get("/as/<uid>/c/<cid>")
    def channel(uid: str, cid: str) -> str:
        return screen(uid, cid=cid)

    @page.get("/as/<uid>/dm")
    def dm(uid: str) -> Any:
        person(uid)
        slack._dm_channel(uid)
        return redirect(url_for("channel", uid=uid, cid=f"D{uid}"))

    @page.get("/as/<uid>/home")
    def home(uid: str) -> str:
        return screen(uid, home=True)

    @page.post("/as/<uid>/home/open")
    def open_home(uid: str) -> Any:
        person(uid)
        sandbox.open_home(uid)  # Slack sends app_home_opened each time the Home tab is opened
        settle(sandbox)
        return redirect(url_for("home", uid=uid))

    @page.post("/as/<uid>/c/<cid>/send")
    def send(uid: str, cid: str) -> Any:
        person(uid)
        text = request.form.get("text", "").strip()
        if text.startswith("/"):
            if not text.startswith("/pmccg"):
                flash_error(uid, f"{text.split()[0]} is not a valid command. This workspace has /pmccg only.")
            else:
                reply = sandbox.command(uid, cid, text)
                if reply.status != 200:
                    flash_error(uid, f"/pmccg failed with the error \"dispatch_failed\" (HTTP {reply.status}).")
        elif text:
            with slack._lock:
                ts = slack._new_ts()
                slack.messages[ts] = {"type": "message", "user": uid, "text": text, "ts": ts, "channel": cid,
                                      "sent_at": sandbox.clock().timestamp()}
                slack.version += 1
        settle(sandbox)
        return redirect(url_for("channel", uid=uid, cid=cid))

    @page.post("/as/<uid>/act")
    def act(uid: str) -> Any:
        person(uid)
        action = _action(request.form)
        if action is not None:
            where = request.form.get("where", "message")
            if where == "home":
                sandbox.home_action(uid, action)
            else:
                sandbox.message_action(uid, action, channel=request.form.get("channel", ""),
                                       ts=request.form.get("ts", ""), ephemeral=int(request.form.get("eph") or 0))
            settle(sandbox)
        return back(uid)

    @page.post("/as/<uid>/modal/<view_id>")
    def modal(uid: str, view_id: str) -> Any:
        person(uid)
        if view_id not in slack.modal_stack(uid):
            abort(404)
        if "close_view" in request.form:
            sandbox.close_modal(uid)
        elif "submit_view" in request.form:
            error = sandbox.submit(uid, view_id, state_values(request.form))
            if error:
                flash_error(uid, error)
        elif (action := _action(request.form)) is not None:
            sandbox.view_action(uid, action, view_id, state_values(request.form))
        elif request.form.get("dispatch"):
            values = state_values(request.form)
            action = dispatched_action(slack.views[view_id], request.form["dispatch"], values)
            if action is not None:
                sandbox.view_action(uid, action, view_id, values)
        settle(sandbox)
        return back(uid)

    @page.post("/as/<uid>/dismiss/<int:eph>")
    def dismiss(uid: str, eph: int) -> Any:
        slack.dismiss_ephemeral(uid, eph)
        return back(uid)

    @page.post("/as/<uid>/clock")
    def move_clock(uid: str) -> Any:
        person(uid)
        try:
            sandbox.advance(request.form.get("step", ""))
        except ValueError:
            abort(400)
        log.info("sandbox_clock", extra={"event": "sandbox_clock", "step": request.form.get("step")})
        settle(sandbox)
        return back(uid)

    @page.get("/version")
    def version() -> Response:
        return jsonify(version=slack.version)

    return page


def _action(form: MultiDict[str, str]) -> dict[str, Any] | None:
    raw = form.get("act")
    if not raw:
        return None
    try:
        action = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return action if isinstance(action, dict) else None


def dispatched_action(view: dict[str, Any], name: str, values: dict[str, Any]) -> dict[str, Any] | None:
    """The block action Slack sends when a control of an input block with dispatch_action changes."""
    try:
        _, block_id, action_id, kind = name.split("|", 3)
    except ValueError:
        return None
    block = next((b for b in view.get("blocks") or [] if isinstance(b, dict) and b.get("type") == "input"
                  and b.get("block_id") == block_id and b.get("dispatch_action")), None)
    element = (block or {}).get("element") or {}
    if element.get("action_id") != action_id or element.get("type") != kind:
        return None
    entry = dict((values.get(block_id) or {}).get(action_id) or {"type": kind})
    if isinstance(entry.get("selected_option"), dict):  # Slack sends the chosen option whole, text and value
        chosen = entry["selected_option"]["value"]
        whole = next((o for o in blockkit.select_options(element) if str(o.get("value")) == chosen), None)
        entry["selected_option"] = whole or entry["selected_option"]
    return {**entry, "action_id": action_id, "block_id": block_id}


def _message_view(message: dict[str, Any], v: blockkit.Viewer) -> dict[str, Any]:
    author = message.get("user")
    is_bot = author == BOT_USER_ID or bool(message.get("bot_id"))
    sent_at = message.get("sent_at")
    when = datetime.fromtimestamp(sent_at, v.zone).strftime("%a %d %b, %H:%M") if sent_at else ""
    return {"ts": message["ts"], "channel": message["channel"], "bot": is_bot, "when": when,
            "author": "pmccg" if is_bot else v.names.get(str(author), str(author)),
            "edited": bool(message.get("edited")),
            "html": blockkit.render_blocks(message.get("blocks"), v, fallback=str(message.get("text") or ""))}
