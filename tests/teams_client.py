"""Serves a Teams SDK app on 127.0.0.1, as `pmccg teams` will: uvicorn in a thread with its own event loop.

The SDK is async and its HTTP clients belong to the loop that serves it, so a synchronous caller
(a test, a scheduler thread, the future synchronous Workspace) submits coroutines to that loop with
`run(...)`, never from the loop's own thread (that would deadlock).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from microsoft_teams.apps import App

T = TypeVar("T")


class RunningTeamsApp:
    """`App(..., http_server_adapter=FastAPIAdapter(app=fastapi))`, initialised and served at `url`."""

    def __init__(self, app: App, fastapi: FastAPI, *, startup_timeout: float = 10.0) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        config = uvicorn.Config(fastapi, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self._failure: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, name="teams-app", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + startup_timeout
        while not self.server.started:
            if self._failure is not None or not self.thread.is_alive():
                raise RuntimeError("the Teams app did not start") from self._failure
            if time.monotonic() > deadline:
                raise TimeoutError("the Teams app did not start in time")
            time.sleep(0.005)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.messages_url = f"{self.url}/api/messages"

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            # initialize() registers POST /api/messages (with JWT validation) on our FastAPI app.
            self.loop.run_until_complete(self.app.initialize())
            self.loop.run_until_complete(self.server.serve())
        except BaseException as exc:  # noqa: BLE001  (reported to the starting thread)
            self._failure = exc
        finally:
            self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run `coroutine` on the app's loop from another thread and wait for its result."""
        if threading.current_thread() is self.thread:
            raise RuntimeError("run() called from the app's own loop: it would deadlock")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
