"""Reading a name's TXT records, for domain verification (dnspython's async resolver).

The nameservers are the configured ones (`MAILKEYS_DNS_NAMESERVERS`, `host[:port]` each) or
the system's; every lookup has one deadline for all its tries. A name with no TXT record is
an empty answer; a resolver that does not answer, or fails, is `DnsUnavailableError`
(retryable), never an internal error: it is nobody's mistake in the request.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdtypes.ANY.TXT
import dns.resolver

from mailkeys.errors import DnsUnavailableError

log = logging.getLogger("mailkeys.dns")
DEFAULT_PORT = 53


@dataclass(frozen=True)
class Nameserver:
    """A DNS server to ask: an IP address and a UDP/TCP port."""

    host: str
    port: int = DEFAULT_PORT


def parse_nameserver(value: str) -> Nameserver:
    """`127.0.0.1`, `127.0.0.1:5353`, `::1` or `[::1]:5353`; ValueError otherwise."""
    text = value.strip()
    port = DEFAULT_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"not a nameserver: {value!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    else:
        host = text
    ipaddress.ip_address(host)  # a name would need a resolver to find the resolver
    if not 0 < port < 65536:
        raise ValueError(f"not a port: {port}")
    return Nameserver(host, port)


class TxtLookup:
    """Asks the configured nameservers (or the system's) for TXT records, within a deadline."""

    def __init__(self, nameservers: Sequence[str], timeout_seconds: float) -> None:
        # Parsed now, so a bad MAILKEYS_DNS_NAMESERVERS stops the process at start-up.
        self._nameservers = [parse_nameserver(value) for value in nameservers]
        self._timeout = timeout_seconds
        self._resolver: dns.asyncresolver.Resolver | None = None

    def _build(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            if self._nameservers:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(ns.host, ns.port) for ns in self._nameservers
                ]
            else:
                resolver = dns.asyncresolver.Resolver()  # /etc/resolv.conf
            resolver.lifetime = self._timeout
            resolver.timeout = self._timeout
            self._resolver = resolver
        return self._resolver

    async def txt_values(self, name: str) -> list[str]:
        """Every TXT value published at `name` (the strings of each record joined)."""
        try:
            answer = await self._build().resolve(name, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.YXDOMAIN):
            return []
        except (dns.exception.DNSException, OSError) as error:
            # The name is the client's input: only the kind of failure is logged.
            log.warning("DNS lookup failed: %s", type(error).__name__)
            raise DnsUnavailableError() from error
        return [
            b"".join(record.strings).decode("utf-8", errors="replace")
            for record in answer
            if isinstance(record, dns.rdtypes.ANY.TXT.TXT)
        ]
