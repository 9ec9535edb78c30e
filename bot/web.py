"""The WSGI app: Slack's one URL (POST /slack/events) and a health check for the load balancer."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from slack_bolt.adapter.flask import SlackRequestHandler
from sqlalchemy.engine import Engine

from bot.app import Bot
from storage.db import is_reachable


def create_web_app(bot: Bot, engine: Engine) -> Flask:
    web = Flask("pmccg")
    slack = SlackRequestHandler(bot.app)

    @web.post("/slack/events")
    def slack_events() -> Response:
        return slack.handle(request)

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        if is_reachable(engine):
            return jsonify(status="ok"), 200
        return jsonify(status="database unreachable"), 503

    return web
