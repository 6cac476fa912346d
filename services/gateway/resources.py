"""Connections the gateway holds for its lifetime, and the readiness checks over them."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import redis
from celery import Celery

from services.contract.jobs import JobStore
from services.contract.settings import Settings
from services.contract.storage import ObjectStore, StorageUnavailable
from services.contract.tasks import make_celery
from services.gateway.admission import Admission
from services.gateway.auth import Keyring, check_deployment
from services.gateway.metrics import GatewayMetrics
from services.gateway.ratelimit import RateLimiter
from services.gateway.served_model import ServedModel
from services.runtime.netguard import AddressPolicy, parse_allowlist


@dataclass
class Resources:
    """Job store, object store, Celery producer, keys, rate limiter, admission and metrics shared by all requests."""

    settings: Settings
    jobs: JobStore
    store: ObjectStore
    celery: Celery
    keyring: Keyring
    limiter: RateLimiter
    policy: AddressPolicy
    metrics: GatewayMetrics
    served_model: ServedModel
    admission: Admission

    @classmethod
    def connect(cls, settings: Settings, metrics: GatewayMetrics | None = None) -> Resources:
        """Create clients; nothing is contacted until first use. Raise UnsafeConfiguration on bad settings."""
        keyring = Keyring(check_deployment(settings))
        jobs = JobStore.from_url(settings.redis_url, service="gateway")
        metrics = metrics or GatewayMetrics()
        metrics.watch_jobs(jobs, settings.metrics_window_jobs)
        return cls(
            settings=settings,
            jobs=jobs,
            store=ObjectStore(settings),
            celery=make_celery("gateway", settings),
            keyring=keyring,
            limiter=RateLimiter(jobs.redis, settings.rate_limit_per_s, settings.rate_limit_burst),
            policy=AddressPolicy(parse_allowlist(settings.ssrf_allowlist)),
            metrics=metrics,
            served_model=ServedModel(settings),
            admission=Admission(jobs, settings, metrics.registry),
        )

    def check(self) -> dict[str, str]:
        """Probe Redis, S3 and serving; return ``{part: "ok" | reason}``."""
        checks: dict[str, str] = {}
        try:
            self.jobs.redis.ping()
            checks["redis"] = "ok"
        except redis.RedisError as exc:
            checks["redis"] = f"unreachable ({type(exc).__name__})"
        try:
            self.store.ensure_bucket()
            checks["s3"] = "ok"
        except StorageUnavailable as exc:
            checks["s3"] = f"unreachable ({exc})"
        except Exception as exc:  # noqa: BLE001 - report any S3 refusal (auth, config) as not ready
            checks["s3"] = f"error ({type(exc).__name__})"
        checks["serving"] = _grpc_reachable(self.settings.serving_address)
        return checks

    def close(self) -> None:
        """Release connection pools."""
        self.jobs.redis.close()
        self.served_model.close()


def _grpc_reachable(address: str, timeout_s: float = 1.0) -> str:
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
        return "ok"
    except grpc.FutureTimeoutError:
        return "unreachable"
    finally:
        channel.close()
