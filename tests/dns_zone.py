"""A real authoritative DNS server on 127.0.0.1 for the tests, whose records a test publishes.

dnslib's UDP server runs in a thread of the test process and answers from a zone the test
changes in place (`dns_zone.publish(name, value)`), so no restart is needed between changes.
mailkeys' own resolver (dnspython) reaches it over real UDP on a free port: nothing in
mailkeys is mocked.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer


@dataclass
class Zone(BaseResolver):  # type: ignore[misc]  # dnslib ships no type information
    """TXT records by lower-case name; any other question is answered NXDOMAIN."""

    records: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # When set, every question is answered SERVFAIL (a broken upstream).
    failing: bool = False

    def publish(self, name: str, value: str) -> None:
        """Add a TXT value at `name` (several values may share a name)."""
        with self.lock:
            self.records.setdefault(name.lower().rstrip("."), []).append(value)

    def withdraw(self, name: str) -> None:
        """Remove every TXT value at `name`."""
        with self.lock:
            self.records.pop(name.lower().rstrip("."), None)

    def clear(self) -> None:
        with self.lock:
            self.records.clear()
            self.failing = False

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        with self.lock:
            values = list(self.records.get(name, ()))
            failing = self.failing
        if failing:
            reply.header.rcode = RCODE.SERVFAIL
        elif request.q.qtype == QTYPE.TXT and values:
            for value in values:
                # A TXT record is a list of strings of at most 255 bytes each.
                raw = value.encode()
                strings = [raw[i : i + 255] for i in range(0, len(raw), 255)]
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(strings), ttl=1))
        elif not values:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@dataclass
class DnsServer:
    """The running server: where it listens and the zone it serves."""

    zone: Zone
    port: int

    @property
    def nameserver(self) -> str:
        """The value for `MAILKEYS_DNS_NAMESERVERS`."""
        return f"127.0.0.1:{self.port}"

    def publish(self, name: str, value: str) -> None:
        self.zone.publish(name, value)

    def withdraw(self, name: str) -> None:
        self.zone.withdraw(name)


@pytest.fixture(scope="session")
def _dns_server() -> Iterator[DnsServer]:
    zone = Zone()
    quiet = DNSLogger("-request,-reply,-truncated,-error", prefix=False)
    server = DNSServer(zone, address="127.0.0.1", port=0, logger=quiet)
    server.start_thread()
    try:
        yield DnsServer(zone, server.server.server_address[1])
    finally:
        server.stop()
        server.server.server_close()


@pytest.fixture
def dns_zone(_dns_server: DnsServer) -> Iterator[DnsServer]:
    """The DNS server, with an empty zone for this test."""
    _dns_server.zone.clear()
    yield _dns_server
    _dns_server.zone.clear()


@pytest.fixture
def silent_nameserver() -> Iterator[str]:
    """A UDP port that receives questions and never answers (a resolver that times out)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"
