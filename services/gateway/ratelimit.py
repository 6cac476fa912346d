"""Per-API-key token bucket kept in Redis, so every gateway process shares one budget per key."""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis

BUCKET_KEY = "fakeweb:ratelimit:{key_id}"

# Refill by elapsed time (Redis clock, so gateways on different hosts agree), then take `cost`.
# KEYS: bucket hash. ARGV: rate per second, burst, cost. Returns {allowed, seconds to wait, tokens left}.
_BUCKET_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, string.format('%.6f', wait), string.format('%.6f', tokens)}
"""


@dataclass(frozen=True)
class Decision:
    """Whether a request may proceed, and when to retry if not."""

    allowed: bool
    retry_after_s: int
    remaining: int


class RateLimiter:
    """Token bucket per key id: ``rate_per_s`` refill, ``burst`` capacity; rate 0 turns it off."""

    def __init__(self, client: redis.Redis, rate_per_s: float, burst: int) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._script = client.register_script(_BUCKET_LUA)

    def take(self, key_id: str, cost: int = 1) -> Decision:
        """Take ``cost`` tokens from the key's bucket (raises redis errors)."""
        if self.rate_per_s <= 0:
            return Decision(allowed=True, retry_after_s=0, remaining=self.burst)
        allowed, wait, tokens = self._script(
            keys=[BUCKET_KEY.format(key_id=key_id)], args=[self.rate_per_s, self.burst, cost]
        )
        return Decision(
            allowed=bool(int(allowed)),
            retry_after_s=max(1, math.ceil(float(wait))) if not int(allowed) else 0,
            remaining=int(float(tokens)),
        )
