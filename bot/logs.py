"""Log lines as stable event names with key=value fields; never typed text, a name or a secret.

Three things keep the log clean whatever level it is set to: our own events carry ids and counts
only; the libraries that would log request bodies, SQL with its values or tokens are held at
WARNING; and a traceback shows where an error happened (the frames) but not its message, since a
database driver's message can quote the row it refused ("Failing row contains (...)").
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "event"}

# Our own loggers: `logging.getLogger(__name__)` in each package, "pmccg" for the CLI and Flask.
OURS = ("pmccg", "bot", "handlers", "storage")
# Libraries whose INFO or DEBUG lines carry request bodies (slack_sdk, slack_bolt), SQL statements
# with their parameters (sqlalchemy.engine, when its logger is enabled) or URLs holding a response_url
# token (urllib3): never below WARNING.
HELD_AT_WARNING = ("slack_sdk", "slack_bolt", "pmccg.bolt", "sqlalchemy", "urllib3")
MANAGED = ("", *OURS, *HELD_AT_WARNING)

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}

WITHHELD = "(message withheld from the log: it may quote what was typed)"


def traceback_without_messages(error: BaseException) -> str:
    """The traceback of `error` and its causes, frames and exception types only."""
    lines: list[str] = []
    _describe(error, lines, set())
    return "".join(lines).rstrip("\n")


def _describe(error: BaseException, lines: list[str], seen: set[int]) -> None:
    seen.add(id(error))
    cause, context = error.__cause__, error.__context__
    if cause is not None and id(cause) not in seen:
        _describe(cause, lines, seen)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif context is not None and not error.__suppress_context__ and id(context) not in seen:
        _describe(context, lines, seen)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    if error.__traceback__ is not None:
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_list(traceback.extract_tb(error.__traceback__)))
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    lines.append(f"{name} {WITHHELD}\n")


class EventFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_one_line(v)}" for k, v in sorted(vars(record).items()) if k not in _STANDARD)
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {_one_line(record.getMessage())}"
        if fields:
            line += f" {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line

    def formatException(self, ei: tuple[type[BaseException], BaseException, TracebackType | None]  # noqa: N802
                        | tuple[None, None, None]) -> str:
        error = ei[1]
        return traceback_without_messages(error) if error is not None else ""


def _one_line(value: object) -> str:
    # One record, one line: a field can never forge a second log line.
    return str(value).replace("\r", "\\r").replace("\n", "\\n")


def parse_level(raw: str) -> int:
    """PMCCG_LOG_LEVEL's value as a logging level; ValueError naming the choices."""
    level = LEVELS.get(raw.strip().upper())
    if level is None:
        raise ValueError(f"PMCCG_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {raw!r}.")
    return level


def configure(level: int = logging.WARNING, *, libraries: int | None = None) -> None:
    """Send log records to stderr as event lines: ours from `level`, other libraries' from
    `libraries` (default: WARNING), the libraries in HELD_AT_WARNING from WARNING only."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EventFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(libraries if libraries is not None else logging.WARNING)
    for name in OURS:
        logging.getLogger(name).setLevel(level)
    for name in HELD_AT_WARNING:
        logging.getLogger(name).setLevel(logging.WARNING)
    # An exception that escapes a thread or the command would otherwise be printed by Python with
    # its message: send it through the formatter above instead.
    threading.excepthook = _thread_failed
    sys.excepthook = _uncaught


def _thread_failed(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    logging.getLogger("pmccg").error("thread_failed", exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
                                     extra={"event": "thread_failed",
                                            "thread": args.thread.name if args.thread else ""})


def _uncaught(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    logging.getLogger("pmccg").critical("uncaught_error", exc_info=(kind, error, tb),
                                        extra={"event": "uncaught_error", "error": kind.__name__})
