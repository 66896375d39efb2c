"""The client address of a request, for the login limiter: X-Forwarded-For only from configured proxies.

``settings.forwarded_allow_ips`` lists the proxies (addresses, networks, or ``*``) whose ``X-Forwarded-For``
is believed; by default none is. Behind trusted proxies the client is the right-most address of the header
that is not itself a trusted proxy (what each proxy appended; anything left of it the client could have sent).

uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default and rewrites the request's client before the
app sees it. With no proxy configured here, a request whose client is one of the addresses its own
``X-Forwarded-For`` names was probably rewritten so: its true peer is unknown, and it is counted under one
shared ``forwarded`` address rather than under an address the client chose.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from starlette.types import Scope

logger = logging.getLogger("fastmango.auth")

#: The address of requests whose client address comes from a header no configured proxy vouches for.
UNVERIFIED_FORWARDED = "forwarded"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddresses:
    """Derives the client address of a request from its peer and the trusted proxies' ``X-Forwarded-For``."""

    def __init__(self, trusted: Iterable[str]) -> None:
        entries = list(trusted)
        self.trust_all = "*" in entries
        self.networks: list[IPNetwork] = [ipaddress.ip_network(e, strict=False) for e in entries if e != "*"]
        self._warned = False

    @property
    def trusts_any(self) -> bool:
        return self.trust_all or bool(self.networks)

    def is_trusted(self, host: str) -> bool:
        """Whether ``host`` is a configured proxy."""
        if self.trust_all:
            return True
        address = _parse(host)
        return address is not None and any(address in network for network in self.networks)

    def of(self, scope: Scope) -> str | None:
        """The client address of the request (None when the server gives no peer)."""
        client = scope.get("client")
        peer = str(client[0]) if client else None
        forwarded = _forwarded_for(scope)
        if peer is None or not forwarded:
            return peer
        if self.trusts_any:
            if not self.is_trusted(peer):
                return peer
            for hop in reversed(forwarded):
                if not self.is_trusted(hop):
                    return hop
            return forwarded[0]
        if peer in forwarded:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "requests carry X-Forwarded-For but no proxy is trusted: login limits count them under one "
                    "shared address; set FORWARDED_ALLOW_IPS to the proxies' addresses (docs/auth.md)"
                )
            return UNVERIFIED_FORWARDED
        return peer


def limit_key(address: str) -> str:
    """The form of ``address`` that login limits count: IPv6 addresses by their /64 (one site's allocation)."""
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed) if parsed is not None else address


def _parse(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return None


def _forwarded_for(scope: Scope) -> list[str]:
    hops: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            hops.extend(_host_of(part.strip()) for part in value.decode("latin-1").split(",") if part.strip())
    return hops


def _host_of(hop: str) -> str:
    """``hop`` without a port (``1.2.3.4:80``, ``[::1]:80``), as servers read it into the request's client."""
    if hop.startswith("["):
        return hop[1:].partition("]")[0]
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop
