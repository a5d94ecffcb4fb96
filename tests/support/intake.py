"""The API alone on the real stack (no worker: the intake path ends at Kafka's ack), and
help requests about incidents in buildings of their own (so tests do not merge each other's)."""

from __future__ import annotations

from typing import Any

from dispatcher.testing.stack import LocalStack
from tests.support import builders


async def start_api_only(stack: LocalStack, community: str) -> LocalStack:
    stack.bot_communities.add(community)
    await stack.start_api()
    return stack


def incident(community: str, building: str) -> dict[str, Any]:
    """A new chat message (new message id) about an incident in `building`."""
    return builders.request(
        community, place=builders.place(community, building=building, unit="2", floor=5)
    )
