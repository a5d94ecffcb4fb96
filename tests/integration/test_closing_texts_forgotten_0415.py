"""Migration 0415 on the real PostgreSQL (audit F1, session 42): a database at 0398 holding
what releases before sealing (session 32) and masking (session 34) recorded in the clear -
cancel reasons, resolve and referral notes, departments, platforms' failure texts, the staff
audit row of a referral - keeps, after every migration and a purge a year later, no phone
and no flat: the typed notes are empty, the rest masked as `dispatcher.redact.masked` masks.
Other kinds and other actions are untouched; a second run changes nothing. And the SQL mask
hides every character `masked` hides."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from dispatcher.record import migrate, retention
from dispatcher.redact import masked
from dispatcher.testing.stack import LocalStack
from tests.support.migrated_db import MIGRATIONS, database_at, log_bodies, log_events

MIGRATION = next(m for m in MIGRATIONS if m[0] == 415)
AT = datetime(2026, 12, 1, tzinfo=UTC)
PHONE = "13800138000"
DEPARTMENT = f"街道办 李主任 {PHONE}"
AUTO = "closed automatically at the end of the request's lifetime"

# event id → (type, body as the record agent logged it before session 32/34)
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "cancel": ("request_cancelled", {"by": "requester", "reason": f"已自己去医院，有事打{PHONE}"}),
    "resolve": (
        "request_resolved",
        {"by": "staff", "helper_ids": [], "duration_s": 60, "note": "王阿姨住3号楼2单元502"},
    ),
    "auto": ("request_resolved", {"by": "system", "helper_ids": [], "note": AUTO}),
    "refer": (
        "request_referred",
        {"to": "department", "note": f"转 李主任 {PHONE}", "department": DEPARTMENT},
    ),
    "failed": (
        "offer_failed",
        {"offer_id": "o1", "helper_id": "h1", "reason": f"sms gateway: invalid mobile {PHONE}"},
    ),
    "unreached": (
        "staff_not_reached",
        {"rung": "whistle", "step": 3, "reason": "wecom 400: user ①③⑧⓪⓪①③⑧⓪⓪⓪ not found"},
    ),
    # Another kind's reason is not the migration's.
    "other": ("command_rejected", {"command_type": "x", "reason": "unknown_request"}),
}
EXPECTED = {
    "cancel": {"by": "requester", "reason": ""},
    "resolve": {"by": "staff", "helper_ids": [], "duration_s": 60, "note": ""},
    "auto": ROWS["auto"][1],  # written by the core, typed by nobody
    "refer": {"to": "department", "note": "", "department": "街道办 李主任 ###########"},
    "failed": {
        "offer_id": "o1",
        "helper_id": "h1",
        "reason": "sms gateway: invalid mobile ###########",
    },
    "unreached": {"rung": "whistle", "step": 3, "reason": "wecom ###: user ########### not found"},
    "other": ROWS["other"][1],
}


async def kept(db: asyncpg.Connection) -> dict[str, Any]:
    return {
        "events": await log_bodies(db),
        "department": await db.fetchval(
            "SELECT referred_department FROM requests WHERE request_id = 'r-1'"
        ),
        "actions": dict(await db.fetch("SELECT command_id, detail FROM staff_actions")),
    }


async def test_0415_forgets_what_was_typed_when_a_request_ended(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database_at(stack, 398, monkeypatch) as db:
        await forgets_what_was_typed(db)


async def forgets_what_was_typed(db: asyncpg.Connection) -> None:
    await db.execute(
        "INSERT INTO requests (request_id, community_id, category, urgency, helpers_needed,"
        " status, opened_at, closed_at, last_event_id, referred_to, referred_department)"
        " VALUES ('r-1', 'c1', 'errand', 'normal', 1, 'referred', $1, $1, 'refer',"
        " 'department', $2)",
        AT,
        DEPARTMENT,
    )
    for command_id, action, detail in (
        ("cmd-refer", "refer", f"department:{DEPARTMENT}"),
        # A referral's target alone (staff_actions.py writes "120", "110"…): kept as it is
        # (session 42's review: masking the whole detail left "###").
        ("cmd-120", "refer", "120"),
        ("cmd-property", "refer", "property"),
        ("cmd-claim", "claim", "via 3号楼"),  # not a referral: not the migration's
    ):
        await db.execute(
            "INSERT INTO staff_actions (actor, action, request_id, community_id, command_id,"
            " detail, via, queued) VALUES ('zhang', $1, 'r-1', 'c1', $2, $3, 'dashboard', true)",
            action,
            command_id,
            detail,
        )
    await log_events(db, ROWS, AT, "c1")
    await migrate.apply_migrations(db)  # 0399 … 0415 and whatever came after
    await retention.purge(db, AT + timedelta(days=365), 30, signup_pending_days=30)
    after = await kept(db)
    assert after == {
        "events": EXPECTED,
        "department": "街道办 李主任 ###########",
        "actions": {
            "cmd-refer": "department:街道办 李主任 ###########",
            "cmd-120": "120",
            "cmd-property": "property",
            "cmd-claim": "via 3号楼",
        },
    }
    # A second run of its statements changes nothing.
    await db.execute(MIGRATION[2])
    assert await kept(db) == after


SAMPLES = [
    DEPARTMENT,
    "王阿姨住3号楼2单元502，已送到",
    "三号楼二单元五零二室",
    "栋五零二",
    "b座十二楼",
    "伍零贰",
    "1️⃣3️⃣8️⃣",
    "幺三八 零零一三 八零零零",
    "一 三 八 零 零 一 三 八 零 零 零",
    "𝟏𝟑𝟖𝟎𝟎𝟏𝟑𝟖𝟎𝟎𝟎",
    "+86 138-0013-8000",
    "第一社区卫生服务中心",
    "区委 A区",
]


async def test_0415_masks_what_masked_masks(stack: LocalStack) -> None:
    """Where `masked` keeps the length, each character it hides is hidden and each it keeps
    is kept; where it does not (a phone as [phone]), no digit is left."""
    db = await asyncpg.connect(stack._pg("postgres"))
    tx = db.transaction()  # the migration drops its function at the end; here a rollback
    await tx.start()
    try:
        await masks_as_masked(db)
    finally:
        await tx.rollback()
        await db.close()


async def masks_as_masked(db: asyncpg.Connection) -> None:
    sql = MIGRATION[2]
    await db.execute(sql[sql.index("CREATE OR REPLACE") : sql.index("$fn$;") + 5])
    for text in SAMPLES:
        out = await db.fetchval("SELECT masked_0415($1)", text)
        assert len(out) <= len(text), text
        assert await db.fetchval("SELECT masked_0415($1)", out) == out
        expected = masked(text)
        if len(expected) != len(text):  # a phone as [phone], a keycap's marks gone
            assert not re.search(r"\d|[一二三四五六七八九零〇幺𝟎-𝟿]", out), (text, out)
        else:
            hidden = [i for i, c in enumerate(expected) if c == "#" and text[i] != "#"]
            assert [out[i] for i in hidden] == ["#"] * len(hidden), (text, out)
            assert all(c == o for c, o, e in zip(text, out, expected, strict=True) if c == e)
