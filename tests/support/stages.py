"""Point one worker module at the session's real Redis and S3, with a clean database and bucket.

Stage tests call the task functions directly; they use Redis database 1 and their own bucket so
they never touch what the gateway tests keep in database 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import pytest

from services.contract.jobs import JobStore
from services.contract.settings import Settings, get_settings
from services.contract.storage import ObjectStore
from services.contract.tasks import StageTask
from tests.support.servers import settings_env

STAGE_BUCKET = "fakeweb-stages"


@dataclass
class StageContext:
    """What a stage test needs: the environment and settings the worker sees, its stores."""

    env: dict[str, str]
    settings: Settings
    store: ObjectStore
    jobs: JobStore


def point_stage_at(
    backends: object, monkeypatch: pytest.MonkeyPatch, worker: ModuleType, extra_env: dict[str, str] | None = None
) -> StageContext:
    """Set the worker's FAKEWEB_* environment to the backends, reset its per-process clients, clean up."""
    redis_url = backends.settings.redis_url.rsplit("/", 1)[0] + "/1"
    env = {**settings_env(backends.settings), "FAKEWEB_REDIS_URL": redis_url, "FAKEWEB_S3_BUCKET": STAGE_BUCKET}
    env.update(extra_env or {})
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.setattr(StageTask, "_jobs", None)
    monkeypatch.setattr(StageTask, "_store", None)
    worker.app.conf.broker_url = redis_url
    settings = get_settings()
    store = ObjectStore(settings)
    store.ensure_bucket()
    store.delete_prefix("jobs/")
    jobs = JobStore.from_url(redis_url)
    jobs.redis.flushdb()
    return StageContext(env=env, settings=settings, store=store, jobs=jobs)
