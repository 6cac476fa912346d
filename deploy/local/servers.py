"""Single local-stack processes on free ports, for the tests and the benchmarks alike.

Real Redis and SeaweedFS started with the local stack's own launch commands, and the TF Serving
stand-in over a model repository. (Moved here from tests/ so that bench/ need not import tests.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import redis

from deploy.local.launch import command
from deploy.local.stack import free_port, free_port_range, stop_process_group
from services.contract.settings import Settings
from services.contract.storage import ObjectStore

ROOT = Path(__file__).resolve().parents[2]


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


@contextmanager
def serving_stand_in(
    base: Path, poll_s: float = 0.5, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, Path]]:
    """Run ``python -m deploy.local.serving`` on a free port over ``base``; yield (address, log path)."""
    port = free_port()
    log_path = base.parent / f"serving-{port}.log"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    argv = [sys.executable, "-m", "deploy.local.serving", "--port", str(port)]
    argv += ["--model-config-file", str(base / "models.config"), "--model-base-path", str(base)]
    argv += ["--poll-seconds", str(poll_s)]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        channel = grpc.insecure_channel(address)
        try:
            grpc.channel_ready_future(channel).result(timeout=120)
        except grpc.FutureTimeoutError as exc:
            raise RuntimeError(f"serving did not start:\n{log_path.read_text(errors='replace')}") from exc
        finally:
            channel.close()
        yield address, log_path
    finally:
        stop_process_group(proc.pid, timeout_s=15)
