"""API keys (``X-API-Key``), tenants and the start-up refusal of default credentials outside dev mode."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from services.contract.settings import Settings, UnsafeConfiguration, refuse_unsafe_prod

API_KEY_HEADER = "X-API-Key"
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Caller:
    """The authenticated tenant and a non-secret id of the key used (for rate limits and logs)."""

    tenant: str
    key_id: str


def key_id(key: str) -> str:
    """A stable, non-reversible id of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def parse_api_keys(text: str) -> list[tuple[str, str]]:
    """``tenant:key,...`` as (tenant, key) pairs; errors name the entry's position, never the key."""
    pairs: list[tuple[str, str]] = []
    for position, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        tenant, sep, key = entry.partition(":")
        if not sep or not key or not TENANT_PATTERN.match(tenant):
            raise UnsafeConfiguration(
                f"FAKEWEB_API_KEYS entry {position} is not `tenant:key` (tenant: letters, digits, _ . -)."
            )
        pairs.append((tenant, key))
    return pairs


class Keyring:
    """Finds the tenant of a key, comparing digests in constant time against every configured key."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._entries = [(tenant, hashlib.sha256(key.encode()).digest(), key_id(key)) for tenant, key in pairs]
        self.secrets = tuple(key for _, key in pairs)

    def identify(self, presented: str | None) -> Caller | None:
        """The caller for a presented key, or None."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found: Caller | None = None
        for tenant, expected, ident in self._entries:  # no early exit: same work whichever key matches
            if hmac.compare_digest(digest, expected):
                found = Caller(tenant=tenant, key_id=ident)
        return found


def check_deployment(settings: Settings) -> list[tuple[str, str]]:
    """Parse the API keys; in prod refuse default credentials, short keys and the SSRF allow-list.

    Settings already refuse prod with dev credentials when they are made (every process does);
    this checks again for settings copied without validation (``model_copy``).
    """
    pairs = parse_api_keys(settings.api_keys)
    if not pairs:
        raise UnsafeConfiguration("FAKEWEB_API_KEYS names no key; nobody could use the API.")
    refuse_unsafe_prod(settings)
    return pairs
