"""The requests a helper holds now, for the answer page (`/l/me`): a helper reached only
through a group robot has no private message to find an accepted request again.

Held as the accepted helper's page decides it (`requests.private_details`): assigned, not
released, not done, on an open request or on one referred to 120/110/119 that kept its
helpers (`EMERGENCY_SERVICES`). Public facts only (category, urgency, building label):
the contact stays on the assignment's own page, behind its checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dispatcher.record.db import Db
from schemas.vocab import EMERGENCY_SERVICES

_KEPT_BY = sorted(t.value for t in EMERGENCY_SERVICES)

# Candidates by the requests' partial indexes (open: `requests_open`; referred by community
# and closing time: 0410), never a scan of every assignment the helper ever had.
_HELD = """
WITH candidates AS (
    SELECT request_id FROM requests WHERE closed_at IS NULL AND community_id = $1
    UNION
    SELECT request_id FROM requests
    WHERE community_id = $1 AND status = 'referred' AND closed_at > $3
)
SELECT a.request_id, a.offer_id, r.category, r.urgency, r.building_label
FROM candidates c
JOIN requests r ON r.request_id = c.request_id
JOIN assignments a ON a.request_id = r.request_id AND a.helper_id = $2
WHERE a.released_at IS NULL AND a.done_at IS NULL
  AND (r.closed_at IS NULL OR r.referred_to = ANY($4::text[]))
ORDER BY a.assigned_at DESC
LIMIT 20
"""


@dataclass(frozen=True, slots=True)
class HeldRequest:
    request_id: str
    offer_id: str
    category: str
    urgency: str
    building_label: str | None


async def held_by(
    db: Db, community_id: str, helper_id: str, referred_since: datetime
) -> list[HeldRequest]:
    """The requests `helper_id` holds in `community_id`, newest accept first; a referral
    only if it closed after `referred_since` (its buttons' link lifetime: older ones are
    staff's to settle)."""
    rows = await db.fetch(_HELD, community_id, helper_id, referred_since, _KEPT_BY)
    return [HeldRequest(**dict(r)) for r in rows]
