"""The Celery app every service builds from the same settings, and the base class of pipeline stages.

Routes and queues come from the pipeline declaration (``services.contract.pipeline``): services
send tasks by name (``pipeline.send_next``) and never import each other's code. Only the declared
queues exist (``task_create_missing_queues`` is off): a worker started on another queue refuses
to start, and sending to one raises ``celery.exceptions.QueueNotFound``.
Stages acknowledge late (they are idempotent), so a task held by a worker that dies is
delivered again; transient faults retry with exponential backoff; anything else fails
the job at once with a reason, because retrying a programming error only hides it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from kombu import Exchange, Queue

from services.contract.jobs import JobStore
from services.contract.pipeline import PIPELINE, WEBHOOK, queue_names, stage_of_task, task_routes
from services.contract.result_cache import remember_result
from services.contract.settings import Settings, get_settings
from services.contract.storage import ObjectStore, StorageUnavailable
from services.runtime.testhooks import sleep_if_asked

log = logging.getLogger(__name__)

# Derived from the declaration: each stage task's queue (what deployment tests compare against),
# and the webhook's task and queue.
QUEUES = {spec.task: spec.queue for spec in PIPELINE}
WEBHOOK_TASK = WEBHOOK.task
WEBHOOK_QUEUE = WEBHOOK.queue


class TransientError(Exception):
    """A neighbour (storage, serving, Redis) is briefly unavailable: retry the stage."""

    reason = "dependency_unavailable"


class ServingUnavailable(TransientError):
    """TF Serving did not answer in time or is not serving the model yet."""

    reason = "serving_unavailable"


class JobFailed(Exception):
    """A permanent, explained failure of this job (bad input, misconfiguration): never retried."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[JobFailed], tuple[str, str]]:
        # Celery pickles a task's exception before calling on_failure; without this the
        # reason is lost (it would see an UnpickleableExceptionWrapper, i.e. internal_error).
        return (type(self), (self.reason, self.message))


def _transient_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (TransientError, StorageUnavailable, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


TRANSIENT_ERRORS = _transient_errors()


def make_celery(name: str, settings: Settings | None = None) -> Celery:
    """A Celery app on the Redis broker with FakeWeb's reliability settings."""
    settings = settings or get_settings()
    app = Celery(name, broker=settings.redis_url)
    app.conf.update(
        task_routes=task_routes(),
        # A queue is the Redis list of its name; declaring exchange and routing key as Celery would
        # create them for a missing queue keeps the lists and their consumers as they were.
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in queue_names()],
        task_create_missing_queues=False,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            # Look for messages a dead worker held every 10 s. Kombu's default only scans on every
            # 10th tick (~100 s), which delayed redelivery far past the visibility timeout.
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


def load_at_start_up(worker: object, what: str, load: Callable[[], object]) -> None:
    """At Celery's ``worker_init``, call ``load`` (models, say) if this process runs the tasks, and log the time.

    Only a solo or threads pool runs tasks in the starting process. A prefork parent must not load
    MediaPipe or TensorFlow before it forks (the children would hang): there ``load`` is skipped and
    the models load on first use in each child.
    """
    pool = getattr(worker, "pool_cls", None)
    if getattr(pool, "__module__", "") not in ("celery.concurrency.solo", "celery.concurrency.thread"):
        return
    started = time.monotonic()
    load()
    log.info("%s loaded in %.1f s", what, time.monotonic() - started)


def notify_job_ended(app: Celery, jobs: JobStore, job_id: str) -> None:
    """Call once a job is final: file its result in the result cache and queue its webhook, if it has one.

    Safe to call more than once (a redelivered task): the record's ``ended_notified`` field makes
    later calls do nothing. Delivery is at least once: two racing calls may both queue the webhook.
    """
    record = jobs.find(job_id)
    if record is None or not record.is_final or record.ended_notified:
        return
    try:
        remember_result(jobs, job_id, record)
    except Exception:  # a cache entry is an optimisation; the webhook still matters
        log.exception("job %s: could not file the result in the cache", job_id)
    if record.callback_url:
        app.send_task(WEBHOOK_TASK, args=[job_id], queue=WEBHOOK_QUEUE)
    jobs.update_if_exists(job_id, ended_notified=time.time())


class StageTask(Task):
    """Base class for pipeline stages: retry transient faults, fail the job on anything else."""

    autoretry_for = TRANSIENT_ERRORS
    # Deterministic 1, 2, 4, 8, 16 ... s (capped): with full jitter the whole retry budget was
    # sometimes spent within a few seconds, so a short S3 or Redis blip failed jobs.
    retry_backoff = 1
    retry_jitter = False
    acks_late = True
    _jobs: JobStore | None = None
    _store: ObjectStore | None = None

    @property
    def settings(self) -> Settings:
        return get_settings()

    @property
    def retry_backoff_max(self) -> int:  # type: ignore[override]
        return self.settings.task_retry_backoff_max_s

    @property
    def max_retries(self) -> int:  # type: ignore[override]
        return self.settings.task_max_retries

    @property
    def jobs(self) -> JobStore:
        """One job store per worker process, made on first use."""
        if StageTask._jobs is None:
            StageTask._jobs = JobStore.from_url(self.settings.redis_url, service=self.app.main)
        return StageTask._jobs

    @property
    def store(self) -> ObjectStore:
        """One object store client per worker process, made on first use."""
        if StageTask._store is None:
            StageTask._store = ObjectStore(self.settings)
        return StageTask._store

    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        """TESTS ONLY (``services.runtime.testhooks``): hold the task for a delay a fault test asked for."""
        spec = stage_of_task(self.name)
        sleep_if_asked(self.jobs.redis, spec.name if spec else self.name)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Record why the job failed: explained, transient past its budget, or internal."""
        job_id = args[0] if args else kwargs.get("job_id")
        if not job_id:
            return
        if isinstance(exc, JobFailed):
            reason, message = exc.reason, exc.message
        elif isinstance(exc, TRANSIENT_ERRORS):
            reason = getattr(exc, "reason", "dependency_unavailable")
            message = f"{self.name}: gave up after {self.max_retries} retries: {exc}"
        else:
            reason, message = "internal_error", f"{self.name} failed unexpectedly ({type(exc).__name__})."
            log.error("job %s: %s", job_id, message, exc_info=exc)
        try:
            self.jobs.fail(job_id, reason, message)
        except Exception:
            log.exception("job %s: could not record failure", job_id)
            return
        try:
            notify_job_ended(self.app, self.jobs, job_id)
        except Exception:
            log.exception("job %s: could not queue the end-of-job notification", job_id)
