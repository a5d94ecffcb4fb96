"""A config record as one written before a write-path check existed (e.g. a place name with
a flat, stored before b2a5cb1): what a follower folds, or a test writes to the topic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.config import ConfigKind, ConfigRecord

WRITTEN_AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def old_record(
    kind: ConfigKind, entity_id: str, state: dict[str, Any], communities: tuple[str, ...] = ("c1",)
) -> ConfigRecord:
    """The record, through JSON as the topic carries it (no check of this code on the way)."""
    record = ConfigRecord(
        change_id=f"old-{kind.value}-{entity_id}",
        kind=kind,
        id=entity_id,
        actor="li",
        issued_at=WRITTEN_AT,
        communities=communities,
        state=state,
    )
    return ConfigRecord.model_validate_json(record.model_dump_json())
