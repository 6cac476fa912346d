"""The stuck-job sweeper: a job whose stage has not moved for ``stuck_job_timeout_s`` ends ``failed``/``timeout``.

The same process runs the retention sweeper in a thread (services/sweeper/retention.py).

Every stage writes ``updated_at`` when it starts (again on each retry) and when it records
progress, so a job whose ``updated_at`` is older than the deadline is stuck: its task was lost,
or a worker hangs. The sweeper fails such jobs atomically (a stage that moves at the same moment
wins) and queues the end-of-job notification like any failure.

It runs as its own small process (``python -m services.sweeper``; the local stack's
``sweeper`` program): one per deployment is enough, it is harmless when two run, and a request
storm on the gateway cannot starve it. Jobs are visited in creation order from a watermark below
which every job is known to have ended, so a pass costs the jobs still open, not the history.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass

import redis
from celery import Celery

from services.contract.jobs import JOBS_INDEX_KEY, JobStore
from services.contract.settings import Settings, get_settings
from services.contract.tasks import make_celery, notify_job_ended
from services.sweeper import retention

log = logging.getLogger("fakeweb.sweeper")

TIMEOUT_REASON = "timeout"
WATERMARK_KEY = "fakeweb:sweeper:settled_until"
PAGE = 500


@dataclass(frozen=True)
class SweepReport:
    """What one pass did."""

    visited: int
    failed: list[str]


def sweep_interval(timeout_s: float) -> float:
    """Seconds between passes: a tenth of the deadline, between 1 s and 60 s."""
    return min(60.0, max(1.0, timeout_s / 10))


def sweep_once(jobs: JobStore, timeout_s: float, app: Celery | None = None, now: float | None = None) -> SweepReport:
    """Fail every open job idle for more than ``timeout_s``; queue their end-of-job notifications."""
    now = time.time() if now is None else now
    cutoff = now - timeout_s
    client = jobs.redis
    start = client.get(WATERMARK_KEY) or "-inf"
    settled_until: float | None = None
    all_settled = True
    visited = 0
    failed: list[str] = []
    offset = 0
    while True:
        # A job created after the cutoff cannot have been idle since before it.
        page = client.zrangebyscore(JOBS_INDEX_KEY, start, cutoff, start=offset, num=PAGE, withscores=True)
        if not page:
            break
        offset += len(page)
        records = jobs.peek_many([job_id for job_id, _ in page], ["stage", "updated_at"])
        for (job_id, created), record in zip(page, records, strict=True):
            visited += 1
            still_open = record is not None and not record.is_final
            if record is not None and still_open and record.updated_at <= cutoff:
                where = f"the {record.stage} stage" if record.stage else "the queue"
                message = f"The job made no progress in {where} for more than {timeout_s:g} s."
                if jobs.fail_if_idle(job_id, cutoff, TIMEOUT_REASON, message, now):
                    still_open = False
                    failed.append(job_id)
                    log.warning("job %s: failed by the sweeper: %s", job_id, message)
                    if app is not None:
                        notify_job_ended(app, jobs, job_id)
            if still_open:
                all_settled = False
            elif all_settled:
                settled_until = created
    if settled_until is not None:
        client.set(WATERMARK_KEY, repr(settled_until))
    return SweepReport(visited=visited, failed=failed)


def run(settings: Settings, stop: threading.Event) -> None:
    """Sweep every ``sweep_interval`` until ``stop`` is set; Redis outages are logged and waited out."""
    timeout_s = settings.stuck_job_timeout_s
    if timeout_s <= settings.visibility_timeout_s:
        log.warning(
            "stuck_job_timeout_s (%s) is not above visibility_timeout_s (%s): jobs waiting for a redelivery "
            "will be failed as stuck",
            timeout_s,
            settings.visibility_timeout_s,
        )
    jobs = JobStore.from_url(settings.redis_url, service="sweeper")
    app = make_celery("sweeper", settings)
    interval = sweep_interval(timeout_s)
    log.info("sweeper: failing jobs idle for more than %s s, checking every %s s", timeout_s, interval)
    while not stop.is_set():
        try:
            report = sweep_once(jobs, timeout_s, app)
            if report.failed:
                log.info("sweeper: %d jobs visited, %d failed as stuck", report.visited, len(report.failed))
        except redis.RedisError as exc:
            log.warning("sweeper: Redis unavailable (%s); trying again in %s s", type(exc).__name__, interval)
        stop.wait(interval)


def main() -> None:
    """Run the stuck-job sweep and the retention sweep (services/sweeper/retention.py) until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    settings = get_settings()
    retention_thread = threading.Thread(target=retention.run, args=(settings, stop), name="retention", daemon=True)
    retention_thread.start()
    run(settings, stop)
    retention_thread.join(timeout=30)
