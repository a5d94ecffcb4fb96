"""Logging set-up: readable lines by default, JSON lines with DISPATCH_LOG_JSON=true.

Never log phone numbers, addresses or free text: models mark those fields repr=False, and
handlers log ids only.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from dispatcher.settings import Settings


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "community_id", "command_id", "event_id"):
            value = getattr(record, key, None)
            if value is not None:
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(settings: Settings, name: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        prefix = f"[{name}] " if name else ""
        handler.setFormatter(
            logging.Formatter(
                f"{prefix}%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("aiokafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
