"""Shared fixtures: real Redis and SeaweedFS, and the whole local stack under supervisord."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from deploy.local.build_extension import extension_origin
from deploy.local.stack import LocalStack
from services.contract.settings import Settings
from services.contract.storage import ObjectStore
from tests.support.servers import make_test_settings, running, settings_env, wait_for_redis, wait_for_s3

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT / "../shared/data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The labelled data folder (../shared/data); tests that need it fail loudly if it is missing."""
    assert SHARED_DATA.is_dir(), f"{SHARED_DATA} is missing: clone the project beside shared/"
    return SHARED_DATA


@dataclass
class Backends:
    """Real Redis and S3 processes with the settings that reach them."""

    settings: Settings
    redis: redis.Redis
    store: ObjectStore


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    """A real redis-server and a real SeaweedFS S3 for the whole session."""
    data_dir = tmp_path_factory.mktemp("backends")
    settings = make_test_settings(data_dir)
    with running("redis", settings, data_dir), running("s3", settings, data_dir):
        client = wait_for_redis(settings.redis_url)
        store = wait_for_s3(settings)
        yield Backends(settings=settings, redis=client, store=store)


@dataclass
class StackHandle:
    """A running local stack and what tests need to reach it."""

    stack: LocalStack
    settings: Settings
    settings_env: dict[str, str]
    model_base_path: Path

    @property
    def gateway_url(self) -> str:
        return self.stack.gateway_url

    @property
    def serving_address(self) -> str:
        return self.settings.serving_address

    @property
    def redis_url(self) -> str:
        return self.settings.redis_url


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    """The whole stack (Redis, SeaweedFS, serving, four workers, gateway) on free ports.

    Serving loads a tiny deterministic model (tests/support/tiny_model.py) as version 1.
    """
    from tests.support.tiny_model import export_tiny_model

    data_dir = tmp_path_factory.mktemp("stack")
    model_base = data_dir / "models"
    export_tiny_model(model_base / "fakeweb" / "1")
    # The provenance worker re-reads this PEM file for every job: tests write their own CA into it.
    anchors = data_dir / "c2pa-trust-anchors.pem"
    # The browser extension's tests (tests/extension) call this gateway from the extension's origin.
    settings = make_test_settings(
        data_dir,
        model_base_path=model_base,
        model_config_poll_s=1.0,
        provenance_trust_anchors=anchors,
        cors_origins=extension_origin(),
    )
    env = settings_env(settings)
    stack = LocalStack(env=env, data_dir=data_dir)
    try:
        stack.start(timeout_s=240)
        yield StackHandle(stack=stack, settings=settings, settings_env=env, model_base_path=model_base)
    finally:
        stack.stop()
