"""Logging set-up: readable lines by default, JSON lines with DISPATCH_LOG_JSON=true.

Never log phone numbers, addresses or free text: models mark those fields repr=False,
handlers log ids only, error text goes through `dispatcher.redact.describe`, and every
formatted line (tracebacks included) has mobile numbers masked as a last line of defence,
in any digit form ("①③⑧…", "𝟏𝟑𝟖…", keycaps: `mask_phones` folds them first). JSON lines
are masked before JSON escapes them: a phone split by newlines or tabs is still one there.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from dispatcher.redact import mask_phones
from dispatcher.settings import Settings

CONTEXT_FIELDS = (
    "request_id",
    "community_id",
    "command_id",
    "event_id",
    "offer_id",
    "helper_id",
    "stage",
    "topic",
    "partition",
    "offset",
)


class JsonFormatter(logging.Formatter):
    def __init__(self, process_name: str = "") -> None:
        super().__init__()
        self.process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": "neighbour-dispatch",
            "process": self.process_name or record.processName,
            "pid": record.process,
            "logger": record.name,
            "msg": mask_phones(record.getMessage()),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                doc[key] = value
        if record.exc_info:
            doc["exc"] = mask_phones(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)


class Redacting(logging.Formatter):
    """Wraps a formatter; the line it produces has phone numbers masked."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return mask_phones(self.inner.format(record))


def configure_logging(settings: Settings, name: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    inner: logging.Formatter
    if settings.log_json:
        inner = JsonFormatter(name)
    else:
        prefix = f"[{name}] " if name else ""
        inner = logging.Formatter(
            f"{prefix}%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"
        )
    handler.setFormatter(Redacting(inner))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # httpx/httpcore: a line per outbound request, whose URL may hold a credential.
    for noisy in ("aiokafka", "faust", "mode", "uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
