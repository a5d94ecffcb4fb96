"""Generic signed webhook (Standard Webhooks) for self-hosted push relays."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import httpx

from dispatcher.push.channels.base import HttpChannel, json_bytes
from dispatcher.push.model import Delivery, DeliveryResult
from dispatcher.push.signing import standard_webhook_signature


class WebhookChannel(HttpChannel):
    @cached_property
    def _url(self) -> httpx.URL:
        """Parsed once (httpx parses a string URL at every request): the endpoint's URL is
        fixed for the channel's life (a changed endpoint gets a new channel)."""
        return httpx.URL(str(self.endpoint.url))

    def build_request(self, delivery: Delivery) -> httpx.Request:
        return self._signed(delivery.delivery_id, f"push.{delivery.kind.value}", _data(delivery))

    def build_batch_request(self, batch_id: str, deliveries: Sequence[Delivery]) -> httpx.Request:
        """One POST for several deliveries: `data.deliveries` holds each one's `data` as a
        single push would carry it (its own delivery_id, for the receiver to dedupe)."""
        return self._signed(batch_id, "push.batch", {"deliveries": [_data(d) for d in deliveries]})

    async def send_batch(self, batch_id: str, deliveries: Sequence[Delivery]) -> DeliveryResult:
        return await self.send_request(self.build_batch_request(batch_id, deliveries))

    def _signed(self, webhook_id: str, kind: str, data: dict[str, Any]) -> httpx.Request:
        assert self.endpoint.secret is not None  # enforced by EndpointConfig
        timestamp = int(self._wall_clock())
        payload = {
            "type": kind,
            "timestamp": datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z"),
            "data": data,
        }
        body = json_bytes(payload)
        # The same id on every retry lets the receiver deduplicate.
        signature = standard_webhook_signature(
            self.endpoint.secret.get_secret_value(), webhook_id, timestamp, body
        )
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }
        return self.post_bytes(self._url, body, headers)


def _data(delivery: Delivery) -> dict[str, Any]:
    return {
        **delivery.data,
        "delivery_id": delivery.delivery_id,
        "kind": delivery.kind.value,
        "recipient": delivery.recipient,
        "title": delivery.message.title,
        "text": delivery.message.text,
    }
