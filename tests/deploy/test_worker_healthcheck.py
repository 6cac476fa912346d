"""The workers' Docker HEALTHCHECK command, run for real against a Celery worker on a real Redis.

The command is taken from services/Dockerfile as the worker images have it (all three use the same
one) and run with the environment a container has: FAKEWEB_REDIS_URL and HOSTNAME. The worker
is started without ``-n``, like in the images, so its node name is ``celery@<hostname>``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.code_scan import SERVICES
from tests.deploy.dockerfiles import service_dockerfile

pytestmark = pytest.mark.slow


def healthcheck_command(service: str) -> list[str]:
    (check,) = service_dockerfile(service).all("HEALTHCHECK")
    return json.loads(check[check.index("CMD ") + 4 :])


def test_all_workers_share_one_healthcheck():
    commands = {json.dumps(healthcheck_command(s)) for s in SERVICES if s not in ("gateway", "sweeper")}
    assert len(commands) == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


def run_check(command: list[str], redis_url: str, hostname: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FAKEWEB_REDIS_URL": redis_url, "HOSTNAME": hostname}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_healthcheck_passes_for_a_live_worker_and_fails_for_another_name(redis_url, tmp_path):
    command = healthcheck_command("detector")
    celery = str(Path(sys.executable).parent / "celery")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            celery,
            "-b",
            redis_url,
            "worker",
            "-Q",
            "detect",
            "-P",
            "solo",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        for _ in range(600):  # until Celery logs "celery@<host> ready." (bounded, not a timing assertion)
            if " ready." in (tmp_path / "worker.log").read_text():
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
        done = run_check(command, redis_url, socket.gethostname())
        assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "worker.log").read_text()
        # No node answers for another name: the check must fail (waiting 2 s instead of the image's 10).
        assert "--timeout 10" in command[-1]
        quick = [*command[:-1], command[-1].replace("--timeout 10", "--timeout 2")]
        other = run_check(quick, redis_url, "not-this-worker")
        assert other.returncode != 0
    finally:
        stop(worker)
        log.close()
