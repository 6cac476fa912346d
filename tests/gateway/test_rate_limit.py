"""Per-key token bucket in Redis: past the burst a key gets 429 with Retry-After; other keys are unaffected."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from services.gateway.app import create_app
from services.gateway.ratelimit import RateLimiter
from tests.gateway.conftest import ALPHA, BETA, gateway_settings


def test_burst_then_429_with_retry_after_and_keys_are_independent(backends):
    settings = gateway_settings(backends, rate_limit_per_s=0.2, rate_limit_burst=3)
    with TestClient(create_app(settings)) as client:
        codes = [client.get("/v1/jobs", headers=ALPHA).status_code for _ in range(4)]
        limited = client.get("/v1/jobs", headers=ALPHA)
        other = client.get("/v1/jobs", headers=BETA)
    assert codes == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 5
    assert other.status_code == 200


def test_empty_bucket_names_the_wait_and_refills_over_time(backends):
    slow = RateLimiter(backends.redis, rate_per_s=0.01, burst=2)
    assert slow.take("slow-key").allowed and slow.take("slow-key").allowed
    refused = slow.take("slow-key")
    assert not refused.allowed
    assert 90 <= refused.retry_after_s <= 100  # one token at 0.01/s

    fast = RateLimiter(backends.redis, rate_per_s=50.0, burst=1)
    assert fast.take("fast-key").allowed
    time.sleep(0.1)  # 5 tokens' worth of refill, capped at the burst of 1
    assert fast.take("fast-key").allowed


def test_rate_zero_disables_the_limit(backends):
    limiter = RateLimiter(backends.redis, rate_per_s=0, burst=1)
    assert all(limiter.take("off").allowed for _ in range(5))
