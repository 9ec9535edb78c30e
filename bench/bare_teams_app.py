"""The Teams baseline: the least a Teams SDK app can do (check the Bot Framework token, route, answer) for an
Action.Execute, served as `pmccg teams` serves (FastAPI under uvicorn, one process, one loop).

`python -m bench.bare_teams_app` serves it on 127.0.0.1:$PORT, its identity and Microsoft's endpoints from the
same TEAMS_* settings as `pmccg teams` (pointed at the stand-in), so the difference is our own work.
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

warnings.filterwarnings("ignore", message="HtmlWidgetSecurityPolicy is in preview")


async def serve() -> None:
    from microsoft_teams.apps import App, FastAPIAdapter

    from bot.config import load_settings
    from handlers.teams.auth import app_auth_options
    from handlers.teams.settings import teams_credentials, teams_endpoints

    for name in ("microsoft_teams", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("microsoft_teams.apps.auth.token_validator").setLevel(logging.CRITICAL)
    settings = load_settings(dict(os.environ), dotenv=False)
    fastapi = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @fastapi.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = App(**app_auth_options(teams_credentials(settings), teams_endpoints(settings)),
              http_server_adapter=FastAPIAdapter(app=fastapi))

    @app.on_card_action_execute()
    async def just_answer(ctx: Any) -> dict[str, Any]:
        return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "ok"}

    await app.initialize()
    config = uvicorn.Config(fastapi, host="127.0.0.1", port=int(os.environ["PORT"]), lifespan="on",
                            access_log=False, log_level="warning")
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    asyncio.run(serve())
