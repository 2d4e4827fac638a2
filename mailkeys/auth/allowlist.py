"""IP allowlists of keys and mailbox passwords: what may be stored, and whether a client fits.

An allowlist is null (any address) or a list of IPv4/IPv6 addresses and CIDR networks in
canonical form, checked on every use of the credential. It is read with the credential in
the same statement and compiled once per distinct list, so checking it costs a few integer
comparisons per entry.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from mailkeys.errors import InvalidInputError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_ENTRIES = 100
# The longest canonical entry, an IPv6 network, is 43 characters; the rest is not an entry.
_MAX_ENTRY_LENGTH = 64
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def clean_allowlist(field: str, entries: list[str] | None) -> list[str] | None:
    """A validated allowlist in canonical form, duplicates dropped, or None for any address.

    Raises:
        InvalidInputError: an entry is not an address or a network (a network's host bits
            must be zero), or there are none or more than `MAX_ENTRIES`.
    """
    if entries is None:
        return None
    if not entries:
        raise InvalidInputError(
            field, f"{field} needs at least one address or network; null allows any address."
        )
    if len(entries) > MAX_ENTRIES:
        raise InvalidInputError(field, f"{field} takes at most {MAX_ENTRIES} entries.")
    cleaned: list[str] = []
    for position, entry in enumerate(entries):
        canonical = _canonical(entry)
        if canonical is None:
            raise InvalidInputError(
                field,
                f"{field}[{position}] is not an IPv4 or IPv6 address or CIDR network "
                "(a network's host bits must be zero, e.g. 203.0.113.0/24 or 2001:db8::/32).",
            )
        if canonical not in cleaned:
            cleaned.append(canonical)
    return cleaned


def _canonical(entry: str) -> str | None:
    entry = entry.strip()
    if not entry or len(entry) > _MAX_ENTRY_LENGTH or "%" in entry:  # no IPv6 scope ids
        return None
    try:
        network = ipaddress.ip_network(entry, strict=True)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_IPV4_MAPPED):
        return None  # clients are compared in IPv4 form: an IPv4 entry says the same
    return str(network) if "/" in entry else str(network.network_address)


@lru_cache(maxsize=4096)  # every request parses its peer: the same few, over and over
def parse_address(value: str | None) -> IpAddress | None:
    """An address as a client's (IPv4-mapped IPv6 in IPv4 form), or None if it is not one."""
    if not value or "%" in value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip_input(field: str, value: str | None) -> IpAddress | None:
    """A client address sent by a gateway, or None when it sent none.

    Raises:
        InvalidInputError: the value is not an IPv4 or IPv6 address.
    """
    if value is None:
        return None
    address = parse_address(value)
    if address is None:
        raise InvalidInputError(field, f"{field} must be an IPv4 or IPv6 address.")
    return address


# (network, mask) as integers, per IP version: a match is `address & mask == network`.
_Compiled = dict[int, tuple[tuple[int, int], ...]]


@lru_cache(maxsize=4096)
def _compiled(entries: tuple[str, ...]) -> _Compiled:
    networks = [ipaddress.ip_network(entry) for entry in entries]
    return {
        version: tuple(
            (int(n.network_address), int(n.netmask)) for n in networks if n.version == version
        )
        for version in (4, 6)
    }


def admits(allowed_ips: list[str] | None, client: IpAddress | None) -> bool:
    """True if a credential with this allowlist may be used from `client`.

    No allowlist admits every client; an allowlist admits no client of unknown address.
    """
    if allowed_ips is None:
        return True
    if client is None:
        return False
    number = int(client)
    return any(
        number & mask == network for network, mask in _compiled(tuple(allowed_ips))[client.version]
    )
