"""SSRF guard: which addresses the gateway may contact on a caller's behalf, judged after DNS resolution.

Used for photo URLs and webhooks alike. A URL is refused unless it is http(s) without credentials
and EVERY address its host resolves to is public; the caller then connects to the address that
was checked (``fetch.py``), so a second DNS answer cannot swap in a private one.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from services.runtime.errors import CodedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
# Well-known cloud metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
# IETF protocol assignments: Python's is_global calls a few of these global; none is a web server.
SPECIAL_NETWORKS = (ipaddress.ip_network("192.0.0.0/24"),)
NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class UrlRefused(CodedError):
    """The URL may not be fetched (422); ``message`` never contains resolved addresses."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (the resolved address) and what to ask for."""

    scheme: str
    host: str
    port: int
    address: IPAddress
    path: str

    @property
    def host_header(self) -> str:
        """The Host header value (with the port when it is not the scheme's default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why a caller-supplied URL must not reach ``address``, or None if it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            inner_reason = blocked_reason(inner)
            if inner_reason:
                return inner_reason
        if address.scope_id:
            return "link_local"
    if address in METADATA_ADDRESSES:
        return "metadata"
    if any(address.version == net.version and address in net for net in SPECIAL_NETWORKS):
        return "reserved"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link_local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not_public", not address.is_global),
    )
    for reason, hit in checks:
        if hit:
            return reason
    return None


def parse_allowlist(text: str) -> tuple[IPNetwork, ...]:
    """The test-only allow-list: comma-separated addresses or CIDR networks."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses only, plus the networks of the (test-only) allow-list."""

    allowlist: tuple[IPNetwork, ...] = ()

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused, or None."""
        if any(address.version == net.version and address in net for net in self.allowlist):
            return None
        return blocked_reason(address)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (tests replace this to fake DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and len(sockaddr) >= 4 and sockaddr[3]:
            address = ipaddress.IPv6Address(f"{address}%{sockaddr[3]}")
        if address not in found:
            found.append(address)
    return found


def parse_url(url: str) -> SplitResult:
    """Check the URL's form (scheme, host, no credentials, sane port); raise UrlRefused."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused("invalid_url", f"URLs are limited to {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("invalid_url", "The URL cannot be parsed.") from exc
    if parts.scheme not in DEFAULT_PORTS:
        raise UrlRefused("url_not_allowed", "Only http and https URLs are accepted.")
    if not parts.hostname:
        raise UrlRefused("invalid_url", "The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("url_not_allowed", "URLs with credentials are not accepted.")
    if port == 0:
        raise UrlRefused("invalid_url", "The URL's port is invalid.")
    return parts


def check_literal_host(url: str, policy: AddressPolicy) -> None:
    """Cheap check at submission: form, and refusal of a literal IP host; DNS is checked at delivery."""
    parts = parse_url(url)
    try:
        address = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        return
    reason = policy.refusal(address)
    if reason:
        raise UrlRefused("url_not_allowed", f"The URL points to a {reason.replace('_', ' ')} address.")


def target_for(url: str, policy: AddressPolicy) -> Target:
    """Resolve the URL's host and return the address to connect to; raise UrlRefused if any address is refused."""
    parts = parse_url(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        raise UrlRefused("url_unresolvable", "The URL's host name does not resolve.") from exc
    if not addresses:
        raise UrlRefused("url_unresolvable", "The URL's host name does not resolve.")
    for address in addresses:
        reason = policy.refusal(address)
        if reason:
            raise UrlRefused("url_not_allowed", f"The URL's host resolves to a {reason.replace('_', ' ')} address.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, address=addresses[0], path=path)
