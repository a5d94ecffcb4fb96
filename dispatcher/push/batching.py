"""Merging offers for one group robot into a single @-message.

A wave of offers for one request usually targets several helpers in the same group; the
robot allows ~20 messages a minute, so one message that @-mentions all of them is both
kinder to the group and within the limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from dispatcher.push.model import Delivery, Mention, PushMessage


def merge_deliveries(deliveries: Sequence[Delivery]) -> Delivery:
    """One delivery with the distinct texts (in order) and every mention once."""
    if not deliveries:
        raise ValueError("nothing to merge")
    first = deliveries[0]
    if len(deliveries) == 1:
        return first
    texts = list(dict.fromkeys(d.message.text for d in deliveries))
    mentions: dict[tuple[str | None, str | None], Mention] = {}
    for delivery in deliveries:
        for mention in delivery.mentions:
            mentions.setdefault((mention.mobile, mention.open_id), mention)
    return first.model_copy(
        update={
            "delivery_id": batch_id(deliveries),
            "message": PushMessage(title=first.message.title, text="\n\n".join(texts)),
            "mentions": tuple(mentions.values()),
            "recipient": None,
        }
    )


def batch_id(deliveries: Sequence[Delivery]) -> str:
    """The id of a merged or batched send: the same members give the same id on a retry."""
    ids = "\n".join(d.delivery_id for d in deliveries).encode()
    return "batch-" + hashlib.sha256(ids).hexdigest()[:24]
