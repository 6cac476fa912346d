"""SSRF guard, unit level: every blocked range in IPv4 and IPv6 forms, and DNS answers that point inside.

The resolver is replaced (a fake neighbour) so a public-looking host name can resolve anywhere.
"""

from __future__ import annotations

import ipaddress

import pytest

from services.runtime import netguard
from services.runtime.netguard import AddressPolicy, UrlRefused, blocked_reason, check_literal_host, target_for

BLOCKED = {
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "metadata",
    "169.254.1.1": "link_local",
    "100.100.100.200": "metadata",
    "100.64.0.1": "not_public",
    "0.0.0.0": "unspecified",
    "224.0.0.251": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "private",
    "255.255.255.255": "private",
    "192.0.0.8": "reserved",
    "192.0.0.9": "reserved",
    "198.18.0.1": "private",
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link_local",
    "fc00::1": "private",
    "fd00:ec2::254": "metadata",
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:10.0.0.1": "private",
    "::ffff:169.254.169.254": "metadata",
    "64:ff9b::7f00:1": "loopback",
    "64:ff9b::a9fe:a9fe": "metadata",
    "2002:7f00:1::1": "loopback",
    "2002:a00:1::1": "private",
    "::127.0.0.1": "reserved",
    "2001:db8::1": "private",
}


@pytest.mark.parametrize(("address", "reason"), sorted(BLOCKED.items()))
def test_blocked_ranges(address, reason):
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001::200e"])
def test_public_addresses_pass(address):
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.fixture
def fake_dns(monkeypatch):
    answers: dict[str, list[str]] = {}

    def resolve(host, port):
        if host not in answers:
            raise OSError("no such host")
        return [ipaddress.ip_address(a) for a in answers[host]]

    monkeypatch.setattr(netguard, "resolve", resolve)
    return answers


@pytest.mark.parametrize("inside", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "::1", "::ffff:192.168.0.1"])
def test_public_name_resolving_inside_is_refused(fake_dns, inside):
    fake_dns["photos.example.com"] = [inside]
    with pytest.raises(UrlRefused) as refused:
        target_for("https://photos.example.com/a.jpg", AddressPolicy())
    assert refused.value.code == "url_not_allowed"
    assert inside not in refused.value.message  # the caller learns the kind of address, not the address


def test_one_private_address_among_public_ones_is_enough_to_refuse(fake_dns):
    fake_dns["mixed.example.com"] = ["93.184.215.14", "10.0.0.7"]
    with pytest.raises(UrlRefused):
        target_for("http://mixed.example.com/", AddressPolicy())


def test_the_checked_address_is_the_one_connected_to(fake_dns):
    fake_dns["ok.example.com"] = ["93.184.215.14"]
    target = target_for("https://ok.example.com:8443/p/q.jpg?s=1", AddressPolicy())
    assert str(target.address) == "93.184.215.14"
    assert (target.host, target.port, target.path) == ("ok.example.com", 8443, "/p/q.jpg?s=1")
    assert target.host_header == "ok.example.com:8443"


def test_unresolvable_host_is_a_clear_refusal(fake_dns):
    with pytest.raises(UrlRefused) as refused:
        target_for("http://nowhere.example.com/", AddressPolicy())
    assert refused.value.code == "url_unresolvable"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/a.jpg", "url_not_allowed"),
        ("file:///etc/passwd", "url_not_allowed"),
        ("gopher://127.0.0.1:6379/_PING", "url_not_allowed"),
        ("http://user:pw@example.com/a.jpg", "url_not_allowed"),
        ("http:///a.jpg", "invalid_url"),
        ("http://example.com:99999/", "invalid_url"),
        ("http://example.com/" + "a" * 3000, "invalid_url"),
    ],
)
def test_url_forms_refused_before_any_lookup(fake_dns, url, code):
    with pytest.raises(UrlRefused) as refused:
        target_for(url, AddressPolicy())
    assert refused.value.code == code


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "0177.0.0.1"])
def test_odd_spellings_of_loopback_are_caught_after_resolution(host):
    # The real resolver turns these into 127.0.0.1; the check runs on what it returned.
    with pytest.raises(UrlRefused) as refused:
        target_for(f"http://{host}/", AddressPolicy())
    assert refused.value.code == "url_not_allowed"


def test_allowlist_admits_only_its_own_networks(fake_dns):
    policy = AddressPolicy(netguard.parse_allowlist("127.0.0.1/32, ::1"))
    fake_dns["local.test"] = ["127.0.0.1"]
    fake_dns["other.test"] = ["127.0.0.2"]
    assert str(target_for("http://local.test/", policy).address) == "127.0.0.1"
    with pytest.raises(UrlRefused):
        target_for("http://other.test/", policy)
    assert policy.refusal(ipaddress.ip_address("::1")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:127.0.0.2")) == "loopback"


def test_literal_private_callback_is_refused_at_submission():
    with pytest.raises(UrlRefused):
        check_literal_host("http://[::ffff:7f00:1]:8080/hook", AddressPolicy())
    check_literal_host("https://hooks.example.com/x", AddressPolicy())  # names are checked at delivery
