"""Real Redis and SeaweedFS processes for tests, started with the local stack's own launch commands."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from deploy.local.launch import command
from deploy.local.stack import free_port, free_port_range, stop_process_group
from services.contract.settings import Settings
from services.contract.storage import ObjectStore


@contextmanager
def running(name: str, settings: Settings, log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run one local-stack process (``redis`` or ``s3``) until the block ends."""
    argv, extra_env = command(name, settings)
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, env={**os.environ, **extra_env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        stop_process_group(proc.pid, timeout_s=15)


def make_test_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings on fresh free ports under ``data_dir``."""
    values: dict[str, object] = {
        "redis_url": f"redis://127.0.0.1:{free_port()}/0",
        "s3_endpoint": f"127.0.0.1:{free_port_range(10)}",
        "serving_address": f"127.0.0.1:{free_port()}",
        "gateway_port": free_port(),
        "data_dir": data_dir,
    }
    values.update(overrides)
    return Settings(**values)


def settings_env(settings: Settings) -> dict[str, str]:
    """The FAKEWEB_* environment that reproduces ``settings`` in a child process."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        env[f"FAKEWEB_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def wait_for_redis(url: str, timeout_s: float = 15) -> redis.Redis:
    """A client once Redis answers PING."""
    client = redis.Redis.from_url(url, decode_responses=True)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.ping()
            return client
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_for_s3(settings: Settings, timeout_s: float = 30) -> ObjectStore:
    """An object store with the bucket created, once SeaweedFS answers."""
    store = ObjectStore(settings)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            store.ensure_bucket()
            return store
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
