"""Task names, queues and the Celery app every service builds from the same settings.

Services send tasks by name (``send_stage``) and never import each other's code.
Stages acknowledge late (they are idempotent), so a task held by a worker that dies is
delivered again; transient faults retry with exponential backoff; anything else fails
the job at once with a reason, because retrying a programming error only hides it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task

from services.contract.jobs import JobStore, Stage
from services.contract.settings import Settings, get_settings
from services.contract.storage import StorageUnavailable

log = logging.getLogger(__name__)

DETECT_TASK = "fakeweb.detect"
CLASSIFY_TASK = "fakeweb.classify"
ANNOTATE_TASK = "fakeweb.annotate"

QUEUES = {DETECT_TASK: Stage.DETECT.value, CLASSIFY_TASK: Stage.CLASSIFY.value, ANNOTATE_TASK: Stage.ANNOTATE.value}


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
        task_routes={task: {"queue": queue} for task, queue in QUEUES.items()},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


def send_stage(app: Celery, task_name: str, job_id: str, *args: Any) -> None:
    """Queue a stage task for a job on its own queue."""
    app.send_task(task_name, args=[job_id, *args], queue=QUEUES[task_name])


class StageTask(Task):
    """Base class for pipeline stages: retry transient faults, fail the job on anything else."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 1
    retry_jitter = True
    acks_late = True
    _jobs: JobStore | None = None

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
            StageTask._jobs = JobStore.from_url(self.settings.redis_url)
        return StageTask._jobs

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
