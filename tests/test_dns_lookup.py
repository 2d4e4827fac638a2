"""Domain configuration: nameservers, the lookup's deadline and the shared domain."""

from __future__ import annotations

import pytest

from mailkeys.dns_lookup import Nameserver, TxtLookup, parse_nameserver
from mailkeys.errors import InvalidInputError
from mailkeys.http.app import create_app
from mailkeys.settings import DEFAULT_SHARED_DOMAIN, Settings
from tests.conftest import test_settings
from tests.dns_zone import DnsServer


def test_domain_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "MAILKEYS_SHARED_DOMAIN": "mail.platform.example",
            "MAILKEYS_DNS_NAMESERVERS": "127.0.0.1:5353, [::1]:53,10.0.0.2",
            "MAILKEYS_DNS_TIMEOUT_MS": "1500",
        }
    )
    defaults = Settings.from_env({})

    assert settings.shared_domain == "mail.platform.example"
    assert settings.dns_nameservers == ("127.0.0.1:5353", "[::1]:53", "10.0.0.2")
    assert settings.dns_timeout_ms == 1500
    assert (defaults.shared_domain, defaults.dns_nameservers, defaults.dns_timeout_ms) == (
        DEFAULT_SHARED_DOMAIN,
        (),
        3000,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", Nameserver("127.0.0.1", 53)),
        ("127.0.0.1:5353", Nameserver("127.0.0.1", 5353)),
        ("::1", Nameserver("::1", 53)),
        ("[::1]:5353", Nameserver("::1", 5353)),
    ],
)
def test_nameservers_are_addresses_with_an_optional_port(value: str, expected: Nameserver) -> None:
    assert parse_nameserver(value) == expected


@pytest.mark.parametrize("value", ["dns.example", "127.0.0.1:0", "127.0.0.1:x", "[::1]x", ""])
def test_a_bad_nameserver_stops_the_process_at_start(value: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        create_app(test_settings(dns_nameservers=(value,)))


def test_a_bad_shared_domain_stops_the_process_at_start() -> None:
    with pytest.raises(InvalidInputError, match="MAILKEYS_SHARED_DOMAIN"):
        create_app(test_settings(shared_domain="not a domain"))


async def test_txt_values_of_a_name_are_read_whole(dns_zone: DnsServer) -> None:
    dns_zone.publish("_mailkeys.acme.example", "mailkeys-verify=" + "x" * 300)  # > 255 bytes
    dns_zone.publish("_mailkeys.acme.example", "v=spf1 -all")
    lookup = TxtLookup([dns_zone.nameserver], timeout_seconds=2)

    values = await lookup.txt_values("_mailkeys.acme.example")
    nothing = await lookup.txt_values("_mailkeys.other.example")

    assert sorted(values) == ["mailkeys-verify=" + "x" * 300, "v=spf1 -all"]
    assert nothing == []
