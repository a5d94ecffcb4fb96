"""Generic signed webhook (Standard Webhooks) for self-hosted push relays."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from dispatcher.push.channels.base import HttpChannel
from dispatcher.push.model import Delivery
from dispatcher.push.signing import standard_webhook_signature


class WebhookChannel(HttpChannel):
    def build_request(self, delivery: Delivery) -> httpx.Request:
        assert self.endpoint.secret is not None  # enforced by EndpointConfig
        timestamp = int(self._wall_clock())
        payload = {
            "type": f"push.{delivery.kind.value}",
            "timestamp": datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z"),
            "data": {
                **delivery.data,
                "delivery_id": delivery.delivery_id,
                "kind": delivery.kind.value,
                "recipient": delivery.recipient,
                "title": delivery.message.title,
                "text": delivery.message.text,
            },
        }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        # The same id on every retry lets the receiver deduplicate.
        signature = standard_webhook_signature(
            self.endpoint.secret.get_secret_value(), delivery.delivery_id, timestamp, body
        )
        headers = {
            "webhook-id": delivery.delivery_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }
        return self.post_bytes(str(self.endpoint.url), body, headers)
