"""TESTS ONLY: hold a pipeline stage on purpose, so fault tests can catch a worker holding a task.

Off unless the worker runs with ``FAKEWEB_TEST_HOOKS=1``, and never in ``FAKEWEB_ENV=prod``. When on,
a stage task waits before its body runs, while its worker holds the unacknowledged message, for as
long as the Redis key ``fakeweb:test:delay:<stage>`` exists (at most its value in seconds): a test
sets the key, injects its fault, then deletes the key to let the task go on.
"""

from __future__ import annotations

import os
import time

import redis

TEST_HOOKS_ENV = "FAKEWEB_TEST_HOOKS"
STAGE_DELAY_KEY = "fakeweb:test:delay:{stage}"
POLL_S = 0.1


def hooks_enabled() -> bool:
    """True only in a test stack: the hook variable is set and the deployment is not prod."""
    return os.environ.get(TEST_HOOKS_ENV) == "1" and os.environ.get("FAKEWEB_ENV", "dev") != "prod"


def set_stage_delay(client: redis.Redis, stage: str, seconds: float) -> None:
    """Hold every later task of ``stage`` for up to ``seconds``; 0 releases the held ones and stops holding."""
    key = STAGE_DELAY_KEY.format(stage=stage)
    if seconds > 0:
        client.set(key, str(seconds))
    else:
        client.delete(key)


def sleep_if_asked(client: redis.Redis, stage: str) -> None:
    """Wait while a test holds ``stage`` (see the module doc); do nothing outside a test stack."""
    if not hooks_enabled():
        return
    key = STAGE_DELAY_KEY.format(stage=stage)
    try:
        value = client.get(key)
        if not value:
            return
        deadline = time.monotonic() + float(value)
        while time.monotonic() < deadline and client.exists(key):
            time.sleep(POLL_S)
    except redis.RedisError:  # the stage itself will meet (and retry) the outage
        return
