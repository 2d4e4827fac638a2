"""Who the client is: the peer, or what trusted proxies say the peer is.

`X-Forwarded-For` is believed only from a peer in `MAILKEYS_TRUSTED_PROXIES`; then the
right-most address in it that is not itself a trusted proxy is the client (each proxy appends
the address it saw, so everything to the left of that one is the client's own say-so). By
default no proxy is trusted and the header is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailkeys.auth.allowlist import IpAddress, parse_address
from mailkeys.settings import IpNetwork


def _trusted(address: IpAddress, proxies: Sequence[IpNetwork]) -> bool:
    return any(address in proxy for proxy in proxies if proxy.version == address.version)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[IpNetwork]
) -> IpAddress | None:
    """The client's address, or None when it cannot be known.

    `forwarded_for` holds every `X-Forwarded-For` header value, in order. An unreadable hop
    to the right of the client leaves the client unknown (an allowlist then refuses).
    """
    address = parse_address(peer)
    if address is None or not proxies or not _trusted(address, proxies):
        return address
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        hop_address = parse_address(hop)
        if hop_address is None:
            return None
        if not _trusted(hop_address, proxies):
            return hop_address
        address = hop_address
    return address  # every hop is a trusted proxy: the left-most one is the client
