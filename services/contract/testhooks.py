"""TESTS ONLY: make a pipeline stage slow on purpose, so fault tests can kill a worker mid-task.

Off unless the worker runs with ``FAKEWEB_TEST_HOOKS=1`` and never in ``FAKEWEB_ENV=prod``. When on,
a stage task sleeps for ``fakeweb:test:delay:<stage>`` seconds (a Redis key the test sets and
clears) before its body runs, while the worker holds the unacknowledged message.
"""

from __future__ import annotations

import os
import time

import redis

TEST_HOOKS_ENV = "FAKEWEB_TEST_HOOKS"
STAGE_DELAY_KEY = "fakeweb:test:delay:{stage}"


def hooks_enabled() -> bool:
    """True only in a test stack: the hook variable is set and the deployment is not prod."""
    return os.environ.get(TEST_HOOKS_ENV) == "1" and os.environ.get("FAKEWEB_ENV", "dev") != "prod"


def set_stage_delay(client: redis.Redis, stage: str, seconds: float) -> None:
    """Make every later task of ``stage`` sleep ``seconds`` first (0 removes the delay)."""
    key = STAGE_DELAY_KEY.format(stage=stage)
    if seconds > 0:
        client.set(key, str(seconds))
    else:
        client.delete(key)


def sleep_if_asked(client: redis.Redis, stage: str) -> None:
    """Sleep for the delay a test set on ``stage``; do nothing outside a test stack."""
    if not hooks_enabled():
        return
    try:
        value = client.get(STAGE_DELAY_KEY.format(stage=stage))
    except redis.RedisError:  # the stage itself will meet (and retry) the outage
        return
    if value:
        time.sleep(float(value))
