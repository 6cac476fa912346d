"""Webhook bodies and signatures: the job document, signed with HMAC-SHA256 of the exact body bytes.

Receivers verify ``X-FakeWeb-Signature: sha256=<hex>`` by recomputing
``hmac.new(secret, body, sha256).hexdigest()`` over the raw body and comparing in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-FakeWeb-Signature"
EVENT_HEADER = "X-FakeWeb-Event"
JOB_HEADER = "X-FakeWeb-Job"
ATTEMPT_HEADER = "X-FakeWeb-Attempt"


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header_value: str) -> bool:
    """True if ``header_value`` is the signature of ``body`` under ``secret`` (what a receiver does)."""
    return hmac.compare_digest(sign(secret, body), header_value or "")


def backoff_s(retries_done: int, cap_s: int, base_s: float = 2.0) -> float:
    """Exponential delay before the next attempt: base, 2*base, 4*base... capped."""
    return float(min(cap_s, base_s * (2**retries_done)))


def is_retryable_status(status: int) -> bool:
    """Server errors, 429 and 408 are retried; other answers are final."""
    return status >= 500 or status in (408, 429)
