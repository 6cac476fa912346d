"""Admission control: refuse a new job before anything of it is stored, when the tenant or the service is full.

- Per tenant: at most ``max_active_jobs_per_tenant`` jobs queued or running at once, else
  ``429 too_many_jobs``. Each admitted job is reserved in the sorted set
  ``fakeweb:tenant:{tenant}:active`` (scored by admission time) by a Lua script that checks the
  count and adds in one step, so concurrent gateways cannot overshoot. Entries leave lazily: each
  admission first drops the tenant's entries whose job has ended or is gone (a reservation with
  no record yet is kept for :data:`RESERVATION_GRACE_S`, the time a submission may take).
- Per service: when any stage's queue holds more than ``max_queue_depth`` tasks, or Redis uses at
  least ``max_redis_memory_ratio`` of its ``maxmemory``, every new job gets ``503 overloaded``.
  The figures are read at most four times a second per gateway process.

Both answers carry ``Retry-After``. Jobs already accepted are never touched: they always finish.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import redis
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.contract.jobs import TENANT_ACTIVE_KEY, JobStore
from services.contract.pipeline import PIPELINE
from services.contract.settings import Settings
from services.gateway.errors import ApiError

ACTIVE_JOBS_KEY = TENANT_ACTIVE_KEY
RESERVATION_GRACE_S = 300.0
LOAD_CACHE_S = 0.25
STAGE_QUEUES = tuple(spec.queue for spec in PIPELINE)

# KEYS: the tenant's active set. ARGV: cap, score, job id. Returns 1 if reserved.
_RESERVE_LUA = """
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class Load:
    """The service's load as admission sees it."""

    queue_depths: dict[str, int]
    redis_memory_ratio: float | None  # used / maxmemory; None when maxmemory is not set
    overloaded_by: str = ""  # why new jobs are refused; empty when they are accepted
    checked_at: float = field(default=0.0, compare=False)

    @property
    def accepting(self) -> bool:
        """True when new jobs are admitted."""
        return not self.overloaded_by

    def as_dict(self) -> dict[str, object]:
        """The load as ``/readyz`` shows it."""
        return {
            "accepting": self.accepting,
            "overloaded_by": self.overloaded_by or None,
            "queue_depths": self.queue_depths,
            "redis_memory_ratio": None if self.redis_memory_ratio is None else round(self.redis_memory_ratio, 4),
        }


class Admission:
    """Decides whether a new job may be created; counts refusals in ``registry``."""

    def __init__(self, jobs: JobStore, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.jobs = jobs
        self.settings = settings
        self._reserve = jobs.redis.register_script(_RESERVE_LUA)
        self._lock = threading.Lock()
        self._load: Load | None = None
        self.refused = Counter(
            "fakeweb_admission_refused",
            "New jobs refused by admission control, by error code.",
            ["code"],
            registry=registry,
        )
        if registry is not None:
            registry.register(LoadCollector(self))

    def load(self, max_age_s: float = LOAD_CACHE_S) -> Load:
        """Queue depths and Redis memory, read at most every ``max_age_s`` (raises redis errors)."""
        with self._lock:
            cached = self._load
            if cached is not None and time.monotonic() - cached.checked_at < max_age_s:
                return cached
        pipe = self.jobs.redis.pipeline(transaction=False)
        for queue in STAGE_QUEUES:
            pipe.llen(queue)
        pipe.info("memory")
        *lengths, memory = pipe.execute()
        depths = dict(zip(STAGE_QUEUES, (int(n) for n in lengths), strict=True))
        maxmemory = int(memory.get("maxmemory") or 0)
        ratio = int(memory.get("used_memory") or 0) / maxmemory if maxmemory else None
        load = Load(depths, ratio, self._overloaded_by(depths, ratio), time.monotonic())
        with self._lock:
            self._load = load
        return load

    def _overloaded_by(self, depths: dict[str, int], ratio: float | None) -> str:
        bound = self.settings.max_queue_depth
        deep = [
            f"queue {queue} holds {depth} tasks (bound {bound})" for queue, depth in depths.items() if depth > bound
        ]
        if bound > 0 and deep:
            return deep[0]
        if ratio is not None and ratio >= self.settings.max_redis_memory_ratio:
            return f"Redis uses {ratio:.0%} of its maxmemory (bound {self.settings.max_redis_memory_ratio:.0%})"
        return ""

    def admit(self, tenant: str, job_id: str) -> None:
        """Reserve a place for ``job_id``; raise ApiError 503 ``overloaded`` or 429 ``too_many_jobs``."""
        retry_after = {"Retry-After": str(self.settings.overload_retry_after_s)}
        try:
            load = self.load()
            if not load.accepting:
                self.refused.labels("overloaded").inc()
                raise ApiError(
                    503, "overloaded", f"FakeWeb is busy ({load.overloaded_by}); try again shortly.", retry_after
                )
            cap = self.settings.max_active_jobs_per_tenant
            if cap <= 0:
                return  # no cap: nothing to reserve
            key = ACTIVE_JOBS_KEY.format(tenant=tenant)
            self._drop_settled(key)
            reserved = self._reserve(keys=[key], args=[cap, repr(time.time()), job_id])
        except redis.RedisError as exc:
            raise ApiError(
                503, "service_unavailable", "The job store is not reachable; try again shortly.", {"Retry-After": "5"}
            ) from exc
        if not int(reserved):
            self.refused.labels("too_many_jobs").inc()
            raise ApiError(
                429,
                "too_many_jobs",
                f"This tenant has {cap} jobs queued or running, the most allowed; submit more once some have ended.",
                retry_after,
            )

    def release(self, tenant: str, job_id: str) -> None:
        """Give back the place of a submission that created no job."""
        # On a Redis error the reservation stays; having no record, it is dropped after the grace period.
        with contextlib.suppress(redis.RedisError):
            self.jobs.redis.zrem(ACTIVE_JOBS_KEY.format(tenant=tenant), job_id)

    def _drop_settled(self, key: str) -> None:
        entries = self.jobs.redis.zrange(key, 0, -1, withscores=True)
        if not entries:
            return
        records = self.jobs.peek_many([job_id for job_id, _ in entries], ["stage"])
        stale_before = time.time() - RESERVATION_GRACE_S
        settled = [
            job_id
            for (job_id, admitted), record in zip(entries, records, strict=True)
            if (record is None and admitted < stale_before) or (record is not None and record.is_final)
        ]
        if settled:
            self.jobs.redis.zrem(key, *settled)


class LoadCollector(Collector):
    """``fakeweb_overloaded`` and ``fakeweb_redis_memory_ratio`` at each scrape."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            load = self.admission.load()
        except redis.RedisError:
            return
        overloaded = GaugeMetricFamily("fakeweb_overloaded", "1 while new jobs get 503 overloaded.")
        overloaded.add_metric([], 0 if load.accepting else 1)
        yield overloaded
        if load.redis_memory_ratio is not None:
            memory = GaugeMetricFamily("fakeweb_redis_memory_ratio", "Redis used_memory / maxmemory.")
            memory.add_metric([], load.redis_memory_ratio)
            yield memory
