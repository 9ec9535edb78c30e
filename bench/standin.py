"""The Slack Web API stand-in in its own process, so its work never steals the measuring process's CPU time.

`python -m bench.standin` starts a FakeSlack seeded with the bench's fictional directory, prints its URL
on one line and serves until its standard input closes. Lines on its standard input inject faults (each
answered "ok" on its standard output): `latency METHOD SECONDS` (METHOD `*` for every method, `response`
for response URLs), `reset METHOD on|off` (every connection reset, as when Slack is unreachable).
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

    def fault(self, line: str) -> None:
        """Send one fault line (see the module's note) and wait until the stand-in has applied it."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"the Slack stand-in refused the fault {line!r}: {answer!r}")

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


def apply(fake: FakeSlack, line: str) -> str:
    """One fault line applied to `fake`; "ok", or what was wrong with it."""
    words = line.split()
    try:
        if len(words) == 3 and words[0] == "latency":
            fake.set_latency(words[1], float(words[2]))
            return "ok"
        if len(words) == 3 and words[0] == "reset" and words[2] in ("on", "off"):
            fake.reset_connections(words[1], words[2] == "on")
            return "ok"
    except ValueError:
        pass
    return "unknown fault"


def main() -> None:
    with FakeSlack() as fake:
        seed_directory(fake)
        print(fake.url, flush=True)
        for line in sys.stdin:  # ends when the parent closes our stdin
            print(apply(fake, line), flush=True)


if __name__ == "__main__":
    main()
