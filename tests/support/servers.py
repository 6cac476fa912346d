"""Servers for tests: real Redis and SeaweedFS processes (helpers in deploy/local/servers.py, which bench/ uses
too), and a gateway app served by uvicorn in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from deploy.local.servers import make_test_settings, running, settings_env, wait_for_redis, wait_for_s3
from deploy.local.stack import free_port


@contextmanager
def live_app(app: object, timeout_s: float = 20.0) -> Iterator[str]:
    """Serve an ASGI ``app`` on a free port in a thread; yield its base URL once ``/healthz`` answers 200."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


__all__ = ["live_app", "make_test_settings", "running", "settings_env", "wait_for_redis", "wait_for_s3"]
