"""Structured logs: one line per request, plus audit and denial events.

JSON lines when stderr is not a terminal (a log collector reads them), a readable line per
event on a terminal. Every line of a request carries its request id. Nothing here ever
holds a secret: records carry ids, kinds, codes and durations; tokens, passwords and
request bodies never reach a log call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.config
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from mailkeys.settings import LogFormat

request_log = logging.getLogger("mailkeys.requests")
audit_log = logging.getLogger("mailkeys.audit")


@dataclass(slots=True)
class RequestRecord:
    """What the request log line says about one request; filled in as the request runs."""

    request_id: str | None = None
    method: str = ""
    path: str = ""
    # Bounded: a route path, or the root field(s) of the GraphQL operation.
    operation: str | None = None
    # The client's own operationName (free text, so only logged, never a metric label).
    operation_name: str | None = None
    code: str | None = None
    status: int | None = None
    credential_id: str | None = None
    credential_kind: str | None = None
    team_id: str | None = None
    # Why authentication failed (server-side only: clients always see UNAUTHENTICATED); for
    # the gateways' credential check, why the checked credential was denied.
    auth_failure: str | None = None


current_request: ContextVar[RequestRecord | None] = ContextVar("current_request", default=None)
# The id of the request being served (set by the edge, `mailkeys.http.edge`); every log
# line, audit event and error of the request carries it.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def note_credential(
    credential_id: str | None, kind: str | None, team_id: str | None, failure: str | None
) -> None:
    """Record who the current request authenticated as (or why it did not)."""
    record = current_request.get()
    if record is not None:
        record.credential_id = credential_id
        record.credential_kind = kind
        record.team_id = team_id
        record.auth_failure = failure


def note_check_failure(failure: str | None) -> None:
    """Record why a credential check denied (its answer is the same for every reason)."""
    record = current_request.get()
    if record is not None:
        record.auth_failure = failure


# Attributes every LogRecord has; anything else was passed as `extra=` and is logged.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's colourised duplicate of the message
}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None}
    if "request_id" not in fields:
        current = current_request.get()
        if current is not None and current.request_id is not None:
            fields["request_id"] = current.request_id
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """A readable line for a terminal: time, level, logger, message, then `key=value`s."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = " ".join(f"{k}={_text(v)}" for k, v in _fields(record).items())
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line = f"{line}  {fields}" if fields else line
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if text and " " not in text else json.dumps(text)


class TurnBufferedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes the lines of one event-loop turn together.

    A request's log line written alone is a system call per request, a tenth of a small
    request's cost under load. Lines logged on the event loop wait for the end of the turn
    they were logged in (nothing else delays them) and go out in one write. Warnings and
    errors, and lines from other threads or outside a loop, are written at once, after
    whatever is waiting, so the order holds and nothing that matters waits.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._flush_loop: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or record.levelno >= logging.WARNING:
            self._write_pending()
            super().emit(record)
            return
        try:
            line = self.format(record) + self.terminator
        except Exception:  # as StreamHandler does: a bad record must not break the caller
            self.handleError(record)
            return
        if self._flush_loop is not loop:  # not yet due in this loop (or one that ended)
            self._flush_loop = loop
            loop.call_soon(self._write_pending)
        self._pending.append(line)

    def _write_pending(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            self._flush_loop = None
            if not self._pending:
                return
            text = "".join(self._pending)
            self._pending.clear()
            try:
                self.stream.write(text)
                self.stream.flush()
            except Exception:  # the stream is gone (closed at exit): nothing to tell
                return

    def flush(self) -> None:
        self._write_pending()
        super().flush()


def wants_json(log_format: LogFormat, stream: TextIO) -> bool:
    """JSON unless asked for text, or left on `auto` with a terminal to read it."""
    if log_format == "auto":
        return not stream.isatty()
    return log_format == "json"


def logging_config(
    level: str = "info", log_format: LogFormat = "auto", request_lines: bool = True
) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict for mailkeys and uvicorn's loggers, to stderr."""
    formatter = JsonFormatter if wants_json(log_format, sys.stderr) else TextFormatter
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"mailkeys": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "()": f"{__name__}.TurnBufferedHandler",
                "formatter": "mailkeys",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's loggers go through the same handler and format.
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": True, "level": level},
            # The request line is an INFO record; it is the access log.
            request_log.name: {"level": "INFO" if request_lines else "WARNING"},
            # Tortoise logs every connection open and close at INFO, and every query with its
            # parameters at DEBUG; aiosqlite logs each call with its parameters at DEBUG.
            # Parameters are client input: names, addresses, anything pasted into them.
            "tortoise": {"level": "WARNING"},
            "aiosqlite": {"level": "WARNING"},
            "asyncpg": {"level": "WARNING"},
        },
    }


def configure_logging(
    level: str = "info", log_format: LogFormat = "auto", request_lines: bool = True
) -> None:
    """Configure this process's logging (see `logging_config`)."""
    logging.config.dictConfig(logging_config(level, log_format, request_lines))
