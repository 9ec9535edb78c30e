"""The Slack Web API stand-in in its own process, so its work never steals the measuring process's CPU time.

`python -m bench.standin` starts a FakeSlack seeded with the bench's fictional directory, prints its URL
on one line and serves until its standard input closes.
"""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType

from bench.people import seed_directory
from bot.sandbox.slack_api import FakeSlack


class StandIn:
    """A FakeSlack child process; `url` is what SLACK_API_URL should be."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.standin"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError("the Slack stand-in did not start")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # the child's signal to stop
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def main() -> None:
    with FakeSlack() as fake:
        seed_directory(fake)
        print(fake.url, flush=True)
        sys.stdin.read()  # blocks until the parent closes our stdin


if __name__ == "__main__":
    main()
