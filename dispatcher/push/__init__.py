"""Push-notification delivery: channels, message texts and the delivery engine.

The consumer (a Faust agent) builds `Delivery` objects with texts from `messages`, and
submits them to one long-lived `Deliverer`.
"""

from __future__ import annotations

from dispatcher.push.backoff import RetryPolicy
from dispatcher.push.breaker import BreakerState, CircuitBreaker
from dispatcher.push.endpoints import (
    EndpointConfig,
    EndpointKind,
    EndpointRegistry,
    UnknownEndpointError,
)
from dispatcher.push.engine import Deliverer
from dispatcher.push.http import make_client
from dispatcher.push.lane import (
    EngineConfig,
    LaneStats,
    OnDelivered,
    OnPermanentFailure,
    SubmitOutcome,
)
from dispatcher.push.ledger import DeliveredLedger, InMemoryLedger
from dispatcher.push.model import (
    Delivered,
    Delivery,
    DeliveryResult,
    Mention,
    PermanentFailure,
    PushKind,
    PushMessage,
    RetryLater,
)
from dispatcher.push.token_bucket import TokenBucket

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "Delivered",
    "DeliveredLedger",
    "Deliverer",
    "Delivery",
    "DeliveryResult",
    "EndpointConfig",
    "EndpointKind",
    "EndpointRegistry",
    "EngineConfig",
    "InMemoryLedger",
    "LaneStats",
    "Mention",
    "OnDelivered",
    "OnPermanentFailure",
    "PermanentFailure",
    "PushKind",
    "PushMessage",
    "RetryLater",
    "RetryPolicy",
    "SubmitOutcome",
    "TokenBucket",
    "UnknownEndpointError",
    "make_client",
]
