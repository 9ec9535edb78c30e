"""The Teams sandbox's web page: a small Teams-like client in the browser, driving the real Teams app.

The server renders the frame (who you are, your chats, the clock, the messages' text); the cards are drawn
in the browser by Microsoft's Adaptive Cards renderer (static/vendor/adaptivecards, see its README), and
each card action comes back here as JSON to be sent to the bot as the invoke or message Teams would send.
After each action the page reloads; a few lines of script also reload it when something changed and
nothing is being typed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for

from bot.sandbox import blockkit
from bot.sandbox.runtime import DEMO_PEOPLE
from bot.sandbox.teams_runtime import Answer, TeamsSandbox, entra_id

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
# The emoji the bot's Teams cards use, drawn as the Slack page draws them (blockkit's SVGs), so no emoji font is
# needed: character -> the name of its drawing.
EMOJI_CHARACTERS = {"✅": "white_check_mark", "⚠": "warning", "❌": "x", "⛔": "no_entry", "🔴": "red_circle",
                    "🟢": "large_green_circle", "🟠": "large_orange_circle", "🟡": "large_yellow_circle",
                    "⏳": "hourglass_flowing_sand", "📋": "clipboard", "🚨": "rotating_light", "📅": "calendar",
                    "⚖": "scales", "🔔": "bell", "🔄": "arrows_counterclockwise", "📝": "memo", "📄": "page_facing_up"}


def emoji_drawings() -> dict[str, list[str]]:
    """character -> [what it says, its SVG drawing in a 16x16 box]."""
    return {char: list(blockkit.EMOJI[name]) for char, name in EMOJI_CHARACTERS.items()}


def create_teams_page(sandbox: TeamsSandbox) -> Flask:
    page = Flask("pmccg-teams-sandbox", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))

    def person(oid: str) -> str:
        if oid not in sandbox.people:
            abort(404)
        return sandbox.people[oid]

    def acting(oid: str) -> None:
        person(oid)
        sandbox.clear_notices(oid)

    def chat_or_404(oid: str, cid: str) -> str:
        if not cid or not sandbox.may_see(oid, cid):
            abort(404)
        return cid

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            abort(400)
        return data

    def answered(answer: Answer) -> Response:
        sandbox.settle()
        return jsonify(ok=not answer.error, error=answer.error, notice=answer.notice)

    @page.get("/")
    def choose() -> str:
        people = [(entra_id(uid), name, roles.replace("_", " ").replace(";", ", "), profs.replace(";", ", "))
                  for uid, (name, roles, profs) in DEMO_PEOPLE.items()]
        return render_template("teams_choose.html", people=people)

    @page.get("/as/<oid>")
    def start(oid: str) -> Any:
        person(oid)
        chats = sandbox.chats_of(oid)
        if not chats:  # the app removed: no chat with the bot; the page still shows the person's other chats
            return render_template_for(oid, "")
        return redirect(url_for("chat", oid=oid, c=chats[0]["id"]))

    @page.get("/switch")
    def switch() -> Any:
        """Become someone else, staying in the same chat if they are in it, else going to their 1:1 chat."""
        oid = request.args.get("who", "")
        person(oid)
        cid = request.args.get("c", "")
        if cid and sandbox.may_see(oid, cid) and sandbox.teams.conversation(cid).kind == "groupChat":
            return redirect(url_for("chat", oid=oid, c=cid))
        return redirect(url_for("start", oid=oid))

    @page.get("/as/<oid>/chat")
    def chat(oid: str) -> str:
        person(oid)
        cid = chat_or_404(oid, request.args.get("c", ""))
        sandbox.auto_refresh(oid, cid)  # as Teams does on opening a chat
        return render_template_for(oid, cid)

    def render_template_for(oid: str, cid: str) -> str:
        state = page_state(oid, cid)
        state["notices"] = sandbox.notices_for(oid, shown=True)
        return render_template("teams.html", **state, state=state, people=list(sandbox.people.items()))

    def page_state(oid: str, cid: str) -> dict[str, Any]:
        chats = sandbox.chats_of(oid)
        current = next((c for c in chats if c["id"] == cid), None)
        messages = sandbox.messages_for(oid, cid) if current else []
        dialog = sandbox.dialog_of(oid)
        upcoming = sandbox.upcoming()
        zone = sandbox.settings.zone
        directory = [{"title": u.display_name, "value": u.id} for u in sandbox.teams.users if u.account_enabled]
        return {
            "oid": oid, "me": sandbox.people[oid], "cid": cid, "chat": current, "chats": chats,
            "messages": messages, "problems": sandbox.problems_for(oid), "notices": sandbox.notices_for(oid),
            "dialog": {"title": dialog.title, "card": dialog.card, "error": dialog.error,
                       "width": dialog.width} if dialog else None,
            "now": f"{sandbox.clock().astimezone(zone):%a %d %b %Y, %H:%M}",
            "next_due": upcoming.describe(zone) if upcoming else "", "version": sandbox.changes(),
            "directory": directory, "installed": sandbox.app_installed(oid), "emoji": emoji_drawings(),
        }

    @page.get("/as/<oid>/state.json")
    def state_json(oid: str) -> Response:
        """What the page shows, as data: the tests read it, and so may a curious developer."""
        person(oid)
        cid = request.args.get("c", "")
        if cid:
            chat_or_404(oid, cid)
        return jsonify(page_state(oid, cid))

    @page.post("/as/<oid>/say")
    def say(oid: str) -> Response:
        acting(oid)
        data = body()
        cid = chat_or_404(oid, str(data.get("chat", "")))
        return answered(sandbox.say(oid, cid, str(data.get("text", ""))[:4000]))

    @page.post("/as/<oid>/execute")
    def execute(oid: str) -> Response:
        acting(oid)
        data = body()
        cid = chat_or_404(oid, str(data.get("chat", "")))
        action_data = data.get("data") if isinstance(data.get("data"), dict) else {}
        return answered(sandbox.execute(oid, cid, str(data.get("activity", "")), str(data.get("verb", "")),
                                        action_data))

    @page.post("/as/<oid>/submit")
    def submit(oid: str) -> Response:
        """An Action.Submit outside a dialog: a dialog opener (task/fetch) or a message carrying its data."""
        acting(oid)
        data = body()
        cid = chat_or_404(oid, str(data.get("chat", "")))
        action_data = data.get("data")
        msteams = action_data.get("msteams") if isinstance(action_data, dict) else None
        if isinstance(msteams, dict) and msteams.get("type") == "task/fetch":
            return answered(sandbox.open_dialog(oid, cid, str(data.get("activity", "")), action_data))
        return answered(sandbox.submit_message(oid, cid, action_data))

    @page.post("/as/<oid>/dialog/submit")
    def dialog_submit(oid: str) -> Response:
        acting(oid)
        data = body().get("data")
        return answered(sandbox.submit_dialog(oid, data if isinstance(data, dict) else {}))

    @page.post("/as/<oid>/dialog/close")
    def dialog_close(oid: str) -> Response:
        person(oid)
        sandbox.close_dialog(oid)
        return jsonify(ok=True)

    @page.post("/as/<oid>/dismiss")
    def dismiss(oid: str) -> Response:
        person(oid)
        sandbox.dismiss(oid)
        return jsonify(ok=True)

    @page.post("/as/<oid>/consent")
    def consent(oid: str) -> Response:
        acting(oid)
        data = body()
        return answered(sandbox.consent(oid, str(data.get("activity", "")), bool(data.get("accept"))))

    @page.get("/as/<oid>/files/<path:name>")
    def file(oid: str, name: str) -> Response:
        """A file in the person's OneDrive, as a file card's link opens it (a download, never drawn here)."""
        person(oid)
        content = sandbox.file_of(oid, name)
        if content is None:
            abort(404)
        return Response(content, mimetype="application/octet-stream",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                                 "X-Content-Type-Options": "nosniff"})

    @page.post("/as/<oid>/app")
    def app(oid: str) -> Response:
        person(oid)
        return answered(sandbox.set_app(oid, bool(body().get("installed"))))

    @page.post("/as/<oid>/clock")
    def move_clock(oid: str) -> Response:
        acting(oid)
        step = str(body().get("step", ""))
        try:
            said = sandbox.advance(step)
        except ValueError:
            abort(400)
        log.info("sandbox_clock", extra={"event": "sandbox_clock", "step": step})
        sandbox.settle()
        return jsonify(ok=True, notice=said)

    @page.get("/version")
    def version() -> Response:
        return jsonify(version=sandbox.changes())

    return page
