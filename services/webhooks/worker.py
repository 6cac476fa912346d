"""Delivers job webhooks (queue ``webhook``) with retries and exponential backoff, under the SSRF guard.

Run: ``celery -A services.webhooks.worker worker -Q webhook -P solo``. Jobs queue a delivery
through ``services.contract.tasks.notify_job_ended``. Each attempt re-reads the record (a deleted
job is not announced), POSTs the job document to ``callback_url`` without following redirects,
and records ``webhook_status`` / ``webhook_attempts`` / ``webhook_last_http_status`` on the job.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time

import redis
from celery import Task

from services.contract.documents import job_document
from services.contract.held_model import HeldModel
from services.contract.jobs import JobStore
from services.contract.record import JobRecord
from services.contract.schemas import JobResult
from services.contract.settings import Settings, get_settings
from services.contract.storage import ObjectNotFound, ObjectStore, StorageUnavailable, result_key
from services.contract.tasks import WEBHOOK_TASK, make_celery
from services.runtime.fetch import FetchFailed, request_once
from services.runtime.logs import configure_logging, job_id_var
from services.runtime.netguard import AddressPolicy, UrlRefused, parse_allowlist
from services.webhooks.signing import (
    ATTEMPT_HEADER,
    EVENT_HEADER,
    JOB_HEADER,
    SIGNATURE_HEADER,
    backoff_s,
    is_retryable_status,
    sign,
)

log = logging.getLogger("fakeweb.webhook")

MAX_ANSWER_BYTES = 64 * 1024

app = make_celery("webhook")
configure_logging(get_settings().log_format, [get_settings().webhook_secret])


class RetryLater(Exception):
    """This attempt failed in a way worth retrying."""


class WebhookClients(HeldModel[tuple[JobStore, ObjectStore]]):
    """The job store and object store every delivery reads from, made on the first delivery."""

    def __init__(self) -> None:
        super().__init__("webhook clients (Redis, S3)")

    def _load(self) -> tuple[JobStore, ObjectStore]:
        settings = get_settings()
        self.version = f"s3 {settings.s3_endpoint}/{settings.s3_bucket}"  # never the Redis URL: it may hold a password
        return JobStore.from_url(settings.redis_url), ObjectStore(settings)


CLIENTS = WebhookClients()


def _base_url(settings: Settings) -> str:
    return settings.public_url or f"http://{settings.gateway_host}:{settings.gateway_port}"


def webhook_body(settings: Settings, store: ObjectStore, job_id: str, record: JobRecord) -> tuple[bytes, str]:
    """The job document as JSON bytes and its event name."""
    result = None
    if record.has_result:
        try:
            result = JobResult.model_validate(store.get_json(result_key(job_id)))
        except ObjectNotFound:
            result = None
    document = job_document(job_id, record, _base_url(settings), result)
    document.webhook = None  # the receiver is the webhook; its own delivery state is noise
    return document.model_dump_json().encode(), f"job.{record.status.value}"


def deliver(settings: Settings, jobs: JobStore, store: ObjectStore, job_id: str, attempt: int) -> str:
    """One delivery attempt: ``delivered``, ``failed`` (final) or ``gone``; raise RetryLater to try again."""
    record = jobs.find(job_id)
    if record is None:
        return "gone"
    if record.webhook_status == "delivered":
        return "delivered"
    url = record.callback_url
    if not url:
        return "gone"
    body, event = webhook_body(settings, store, job_id, record)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(settings.webhook_secret, body),
        EVENT_HEADER: event,
        JOB_HEADER: job_id,
        ATTEMPT_HEADER: str(attempt),
    }
    policy = AddressPolicy(parse_allowlist(settings.ssrf_allowlist))
    jobs.update_if_exists(job_id, webhook_attempts=attempt, webhook_status="pending")
    try:
        answer = request_once(
            "POST",
            url,
            policy,
            deadline=time.monotonic() + settings.webhook_timeout_s,
            max_bytes=MAX_ANSWER_BYTES,
            body=body,
            headers=headers,
        )
    except UrlRefused as exc:
        jobs.update_if_exists(job_id, webhook_status="failed", webhook_error=exc.code)
        log.warning("webhook refused: %s", exc.code)
        return "failed"
    except FetchFailed as exc:
        if exc.retryable:
            raise RetryLater(exc.code) from exc
        jobs.update_if_exists(job_id, webhook_status="failed", webhook_error=exc.code)
        return "failed"
    jobs.update_if_exists(job_id, webhook_last_http_status=answer.status)
    if 200 <= answer.status < 300:
        jobs.update_if_exists(job_id, webhook_status="delivered", webhook_error="")
        log.info("webhook delivered", extra={"fields": {"http_status": answer.status, "attempt": attempt}})
        return "delivered"
    if is_retryable_status(answer.status):
        raise RetryLater(f"http_{answer.status}")
    jobs.update_if_exists(job_id, webhook_status="failed", webhook_error=f"http_{answer.status}")
    log.warning("webhook answered %d: not retried", answer.status)
    return "failed"


@app.task(name=WEBHOOK_TASK, bind=True, acks_late=True, max_retries=None)
def deliver_webhook(self: Task, job_id: str) -> str:
    """Deliver one job's webhook; retry with exponential backoff up to ``webhook_max_retries``."""
    settings = get_settings()
    token = job_id_var.set(job_id)
    try:
        jobs, store = CLIENTS.load()
        attempt = self.request.retries + 1
        try:
            return deliver(settings, jobs, store, job_id, attempt)
        except (RetryLater, StorageUnavailable, redis.RedisError) as exc:
            if self.request.retries >= settings.webhook_max_retries:
                with contextlib.suppress(redis.RedisError):
                    jobs.update_if_exists(job_id, webhook_status="failed", webhook_error=str(exc)[:100])
                log.warning("webhook gave up after %d attempts: %s", attempt, exc)
                return "failed"
            delay = backoff_s(self.request.retries, settings.webhook_backoff_max_s) * random.uniform(0.8, 1.0)
            log.info("webhook attempt %d failed (%s); retrying in %.1f s", attempt, exc, delay)
            raise self.retry(countdown=delay, exc=exc) from exc
    finally:
        job_id_var.reset(token)
