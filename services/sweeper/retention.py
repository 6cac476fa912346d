"""The retention sweeper: deletes jobs past their retention, and carries out "forget me" requests.

Runs in the sweeper process beside the stuck-job sweep (its own thread). Every second it finishes
an unfinished batch (a previous process died midway) and any pending "forget me" request; every
``retention_scan_interval_s`` it deletes, ``retention_batch_size`` jobs at a time, every job older
than ``retention_s`` or past its own ``delete_after_s``. See services/contract/retention.py for
what is deleted and why a batch survives a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import redis

from services.contract.jobs import JobStore
from services.contract.retention import delete_batch, expired, forget, pending_forgets, unfinished
from services.contract.settings import Settings
from services.contract.storage import ObjectStore, StorageUnavailable, lifecycle_days
from services.runtime.testhooks import sleep_if_asked

log = logging.getLogger("fakeweb.sweeper.retention")

POLL_S = 1.0  # also how soon the prefix of a job deleted while it ran is deleted once more
TEST_HOOK_STAGE = "retention"  # tests hold the sweeper between two deletions of a batch with this hook


@dataclass(frozen=True)
class RetentionReport:
    """What one pass deleted."""

    resumed: int
    expired: int


def _hold_if_asked(jobs: JobStore) -> None:
    sleep_if_asked(jobs.redis, TEST_HOOK_STAGE)


def finish_unfinished(jobs: JobStore, store: ObjectStore) -> int:
    """Finish the batch a crashed sweeper left; return how many jobs it held."""
    return delete_batch(jobs, store, unfinished(jobs), lambda _: _hold_if_asked(jobs))


def sweep_expired(
    jobs: JobStore, store: ObjectStore, retention_s: float, batch_size: int, now: float | None = None
) -> RetentionReport:
    """Delete every job past its retention at ``now``, batch by batch; a left-over batch is finished first."""
    now = time.time() if now is None else now
    resumed = finish_unfinished(jobs, store)
    deleted = 0
    while True:
        batch = expired(jobs, retention_s, now, batch_size)
        if not batch:
            break
        deleted += delete_batch(jobs, store, batch, lambda _: _hold_if_asked(jobs))
    if deleted or resumed:
        log.info("retention: %d jobs deleted (%d from an unfinished batch)", deleted + resumed, resumed)
    return RetentionReport(resumed=resumed, expired=deleted)


def run_forgets(jobs: JobStore, store: ObjectStore, batch_size: int, keep_status_s: int) -> int:
    """Carry out every pending "forget me" request; return the jobs deleted."""
    return sum(forget(jobs, store, request_id, batch_size, keep_status_s) for request_id in pending_forgets(jobs))


def ensure_lifecycle_rule(store: ObjectStore, retention_s: int) -> None:
    """The storage's own guard: a lifecycle rule expiring ``jobs/`` a day after the retention (logged if refused)."""
    days = lifecycle_days(retention_s)
    try:
        if store.expire_jobs_after(days):
            log.info("retention: S3 lifecycle rule set: jobs/ objects expire after %d days", days)
    except Exception as exc:  # noqa: BLE001 - a store without lifecycle support leaves the sweeper as the guard
        log.warning("retention: S3 lifecycle rule not set (%s); the sweeper is the only guard", exc)


def run(settings: Settings, stop: threading.Event) -> None:
    """Loop until ``stop``: forget-me requests and left-over batches every second, expiry every scan interval."""
    jobs = JobStore.from_url(settings.redis_url, service="sweeper")
    store = ObjectStore(settings)
    log.info(
        "retention: deleting jobs older than %s s (or their own delete_after_s), checking every %s s",
        settings.retention_s,
        settings.retention_scan_interval_s,
    )
    ensure_lifecycle_rule(store, settings.retention_s)
    next_scan = 0.0
    while not stop.is_set():
        try:
            finish_unfinished(jobs, store)
            run_forgets(jobs, store, settings.retention_batch_size, settings.retention_s)
            if time.monotonic() >= next_scan:
                sweep_expired(jobs, store, settings.retention_s, settings.retention_batch_size)
                next_scan = time.monotonic() + settings.retention_scan_interval_s
        except (redis.RedisError, StorageUnavailable) as exc:
            log.warning("retention: %s unavailable (%s); trying again", type(exc).__name__, exc)
        stop.wait(POLL_S)
