"""Request and helper bodies for HTTP tests (realistic, from the seed stories)."""

from __future__ import annotations

import uuid
from typing import Any

from dispatcher.ops import district


def place(
    community: str, compound: str = "c1", building: str = "b3", **extra: Any
) -> dict[str, Any]:
    return district.place(
        community, "g1", compound, building, "图强小区", building.removeprefix("b"), **extra
    )


def helper(helper_id: str, community: str, skills: list[str], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "helper_id": helper_id,
        "name": f"邻居{helper_id}",
        "phone": "13800000000",
        "place": place(community, household_id=f"h-{helper_id}"),
        "skills": skills,
        "channels": ["webhook:default"],
    }
    body.update(extra)
    return body


def request(community: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "place": place(community, unit="2", floor=5, household_id="h-requester"),
        "category": "hospital_transport",
        "urgency": "critical",
        "skills": ["driving"],
        "helpers_needed": 1,
        "text": "亲爱的邻居们，我身体不舒服，谁能帮忙送我去医院？",
        "contact": {"name": "王女士", "phone": "13912345678", "address": "3号楼2单元501"},
        "source": {
            "bot_id": "test-bot",
            "group_id": "grid-1-group",
            "message_id": f"m-{uuid.uuid4().hex}",  # each call is a new chat message
        },
    }
    body.update(extra)
    return body
