"""Where a configuration entity makes this service send requests, and whether that is inside
the deployment.

Endpoints, a bot's reply robots, a Feishu `api_base` and DingTalk's session-webhook prefixes
are URLs the worker or the API will POST to, signed. A community's staff may write them for
their community, so without a check they could point the service at the cloud's metadata
address, the worker's own web port or a database on the LAN (blind SSRF). Only district
staff, who run the deployment, may name an address that is not public (a relay on the LAN
is a supported set-up).

Checked here: the host as written, including the legacy IPv4 spellings the resolver accepts
(`127.1`, `2130706433`, `0x7f.0.0.1`) and `localhost`. A name that resolves to an internal
address cannot be judged when it is written (DNS can change after the write): the outbound
client refuses it when it connects (`dispatcher/push/egress.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from dispatcher.push.egress import internal_name_or_address
from schemas.config import ConfigKind


def internal_host(url: str) -> bool:
    """Whether `url` names a host that is not a public internet address."""
    return internal_name_or_address(urlsplit(url).hostname or "")


def outbound_urls(kind: ConfigKind, state: Mapping[str, Any]) -> Iterator[str]:
    """The URLs an entity's state (as written) makes this service call."""
    if kind is ConfigKind.ENDPOINT:
        if isinstance(state.get("url"), str):
            yield state["url"]
    elif kind is ConfigKind.BOT:
        for robot in (state.get("robots") or {}).values():
            if isinstance(robot, Mapping) and isinstance(robot.get("url"), str):
                yield robot["url"]
        platform = state.get("platform")
        if isinstance(platform, Mapping):
            if isinstance(platform.get("api_base"), str):
                yield platform["api_base"]
            for prefix in platform.get("session_webhook_prefixes") or ():
                if isinstance(prefix, str):
                    yield prefix
