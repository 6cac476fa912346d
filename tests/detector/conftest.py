"""Fixtures for detector tests: real Redis + SeaweedFS servers and photos from ../shared/data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.contract.jobs import JobStore
from services.contract.settings import Settings, get_settings
from services.contract.storage import ObjectStore
from services.contract.tasks import StageTask
from tests.detector.servers import Servers, ensure_bucket, running_servers, stage_env

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    """``FAKEWEB_SHARED_DATA_DIR`` (default ``../shared/data``) resolved against the repository root."""
    path = get_settings().shared_data_dir
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "wild_press_photos").is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with running_servers(tmp_path_factory.mktemp("detector-servers")) as running:
        yield running


@dataclass
class StageContext:
    """What a stage test needs: the settings the worker sees, its object store and job store."""

    settings: Settings
    store: ObjectStore
    jobs: JobStore


@pytest.fixture
def detector_stage(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> Iterator[StageContext]:
    """The detector worker module pointed at the test servers, with an empty Redis and bucket."""
    from services.detector import worker

    for name, value in stage_env(servers).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.setattr(StageTask, "_jobs", None)
    monkeypatch.setattr(worker, "_store", None)
    worker.app.conf.broker_url = servers.redis_url
    settings = get_settings()
    store = worker.object_store(settings)
    ensure_bucket(store)
    store.delete_prefix("jobs/")
    jobs = JobStore.from_url(servers.redis_url)
    jobs.redis.flushdb()
    yield StageContext(settings=settings, store=store, jobs=jobs)
    get_settings.cache_clear()
