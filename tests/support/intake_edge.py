"""One call of the API's intake statement (`intake.submit`) at the edge, for the tests that
check what it writes: an empty command, issued now, no merge key unless given (then a
report of the same key within 15 minutes merges into the open request)."""

from __future__ import annotations

from datetime import UTC, datetime

from dispatcher.record.edge import intake


async def submit(
    db: intake.FetchesRow,
    *,
    bot_id: str,
    key: str | None,
    request_id: str,
    community_id: str,
    webhook: intake.WebhookId | None = None,
    merge_key: str | None = None,
) -> intake.Submitted:
    return await intake.submit(
        db,
        webhook=webhook,
        bot_id=bot_id,
        key=key,
        fingerprint="f",
        request_id=request_id,
        community_id=community_id,
        merge_key=merge_key,
        command_json="{}",
        window_s=900.0,
        issued_at=datetime.now(UTC),
    )
