"""Where the outbound client may connect: a name that resolves inside the deployment is
refused at connect time.

The configuration's write path (`dispatcher/config/outbound.py`) refuses a community's staff
an endpoint, robot or API base whose host is written as an internal address (`10.0.0.5`,
`127.1`, `localhost`): only district staff, who run the deployment, may name one (a relay on
the LAN). A *name* cannot be judged when it is written: `relay.example.com` may resolve to
a public address that day and to `169.254.169.254` the next (DNS rebinding). So the client
resolves a name itself, here, refuses it if any address it resolves to is not public, and
connects to exactly the addresses it checked (no second lookup in between). Names the
deployment does route inside (an internal relay's name) are listed in the
`outbound_private_hosts` setting, which only those who run the deployment write.

Hosts written as an address (or `localhost`) are connected to as they are: the write path
judged them, knowing who wrote them. TLS still verifies the certificate against the name
(httpcore sends the URL's host as SNI whatever address the stream connects to).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable


class EgressRefused(OSError):
    """A name that resolves to an address inside the deployment, not listed as private."""


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`host` as an address, if it is written as one (legacy IPv4 spellings included:
    `127.1`, `2130706433`, `0x7f.0.0.1`, which the resolver accepts); None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        try:  # what getaddrinfo would make of a legacy spelling
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None


def _normal(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _literal(host: str) -> bool:
    """Whether `host` is written as an address or is `localhost`: nothing to resolve."""
    host = _normal(host)
    return host == "localhost" or host.endswith(".localhost") or _address(host) is not None


def internal_name_or_address(host: str) -> bool:
    """Whether `host`, as written, is not a public internet address (a name is judged
    public here: see the module's note)."""
    host = _normal(host)
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    address = _address(host)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global


class EgressPolicy:
    def __init__(self, private_hosts: Iterable[str] = ()) -> None:
        self.private_hosts = frozenset(_normal(h) for h in private_hosts)

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`, in the resolver's order: `host` itself
        when it is written as an address (or is listed as private), else what it resolves
        to, every one of them public. Raises `EgressRefused` (or the resolver's error)."""
        if _literal(host) or _normal(host) in self.private_hosts:
            return [host]
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        inside = [a for a in found if internal_name_or_address(a)]
        if inside:
            # The name, not its addresses, in the message: the name is what staff wrote.
            raise EgressRefused(
                f"{host} resolves to an address inside the deployment; only a name listed in "
                "DISPATCH_OUTBOUND_PRIVATE_HOSTS may"
            )
        if not found:
            raise EgressRefused(f"{host} resolves to no address")
        return found


# The default for clients made without one: no name is private.
PUBLIC_ONLY = EgressPolicy()
