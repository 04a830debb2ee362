"""Structured logs: one JSON object per line, for the process owner to switch on (``kb serve``, ``kb worker``)."""

from __future__ import annotations

import json
import logging
import sys
import time

#: The loggers whose records carry request fields (``extra={"fields": {...}}``).
ACCESS, ERRORS = "kb.access", "kb.error"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            **getattr(record, "fields", {}),
        }
        if record.name != ACCESS:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: int = logging.INFO) -> None:
    """kb's loggers write JSON lines to stderr (idempotent: a second call changes nothing)."""
    logger = logging.getLogger("kb")
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
