"""Where a configuration entity makes this service send requests, and whether that is inside
the deployment.

Endpoints, a bot's reply robots, a Feishu `api_base` and DingTalk's session-webhook prefixes
are URLs the worker or the API will POST to, signed. A community's staff may write them for
their community, so without a check they could point the service at the cloud's metadata
address, the worker's own web port or a database on the LAN (blind SSRF). Only district
staff, who run the deployment, may name an address that is not public (a relay on the LAN
is a supported set-up).

Checked here: the host as written, including the legacy IPv4 spellings the resolver accepts
(`127.1`, `2130706433`, `0x7f.0.0.1`) and `localhost`. Not checked: a public name that
resolves to an internal address (DNS can change after the write); an egress policy in the
deployment is the guard for that.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from schemas.config import ConfigKind


def internal_host(url: str) -> bool:
    """Whether `url` names a host that is not a public internet address."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:  # what getaddrinfo would make of a legacy spelling ("127.1", "0x7f000001")
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False  # a name: see the module's note
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global


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
