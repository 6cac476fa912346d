"""Create a job from a submission: idempotency, photo intake and checks, result cache, record and first stage.

Idempotency: ``fakeweb:idem:{tenant}:{sha256(key)}`` holds ``"{job_id} {fingerprint}"``. It is
claimed (SET NX, short TTL) before anything is stored and extended to ``idempotency_ttl_s`` once
the record exists; a repeat with the same key and request returns the same job, a repeat with a
different request is refused, and a repeat while the first is still being created answers 409.

Result cache (``services.contract.result_cache``): when an earlier job of the same scope scored the
same bytes at the same threshold with the model version that now serves, its ``result.json`` and
``annotated.jpg`` are copied to the new job's keys and the new record is written already ended.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

from services.contract.imaging import ImageInfo, ImageRejected, check_pixels
from services.contract.pipeline import send_first
from services.contract.record import JobRecord, JobStatus, wire_text
from services.contract.result_cache import SHARED_SCOPE, find_cached_job, model_spec
from services.contract.storage import (
    ObjectNotFound,
    StorageUnavailable,
    annotated_key,
    annotated_video_key,
    original_key,
    result_key,
)
from services.contract.tasks import notify_job_ended
from services.contract.video import VideoInfo, inspect_video, sniff_video, video_limits
from services.gateway.auth import Caller
from services.gateway.errors import ApiError
from services.gateway.intake import largest_upload
from services.gateway.models import Submission, SubmissionOptions, SubmitByUpload
from services.gateway.resources import Resources
from services.runtime.fetch import FetchFailed, fetch_image
from services.runtime.logs import job_id_var
from services.runtime.netguard import UrlRefused, check_literal_host

log = logging.getLogger("fakeweb.gateway.submit")

IDEMPOTENCY_KEY = "fakeweb:idem:{tenant}:{digest}"
CLAIM_TTL_S = 120
# The provenance too: the same bytes carry the same credentials (read against the trust list of that day).
PROGRESS_COPIED = (
    "faces_total",
    "faces_judgeable",
    "faces_scored",
    "faces_annotated",
    "chunks_total",
    "frames_total",
    "frames_detected",
    "provenance",
)


@dataclass(frozen=True)
class Created:
    """The job a submission resulted in."""

    job_id: str
    status: str
    replayed: bool = False
    media: str = "photo"


def unavailable(part: str) -> ApiError:
    """503 naming the part that is down."""
    return ApiError(503, "service_unavailable", f"{part} is not reachable; try again shortly.", {"Retry-After": "5"})


def submit(resources: Resources, caller: Caller, submission: Submission, idempotency_key: str | None) -> Created:
    """Run a submission to a created (or replayed) job; raise ApiError for every refusal."""
    settings = resources.settings
    options = submission.record_fields(settings.threshold)
    if options.get("delete_after_s"):
        options["delete_after_s"] = min(options["delete_after_s"], settings.retention_s)  # never longer
    if submission.callback_url:
        try:
            check_literal_host(submission.callback_url, resources.policy)
        except UrlRefused as exc:
            raise ApiError(422, exc.code, f"callback_url: {exc.message}") from exc

    claim_key = None
    fingerprint = ""
    if idempotency_key is not None:
        claim_key = IDEMPOTENCY_KEY.format(tenant=caller.tenant, digest=_sha256(idempotency_key.encode()))
        fingerprint = _fingerprint(submission, options)
        replay = _replay(resources, claim_key, fingerprint)
        if replay:
            return replay

    job_id = secrets.token_hex(16)
    resources.admission.admit(caller.tenant, job_id)  # 503 overloaded / 429 too_many_jobs, before anything is stored
    try:
        created = _admitted(resources, caller, submission, options, job_id, claim_key, fingerprint)
    except BaseException:
        resources.admission.release(caller.tenant, job_id)
        raise
    if created.job_id != job_id:  # a concurrent twin with the same Idempotency-Key won
        resources.admission.release(caller.tenant, job_id)
    return created


def _admitted(
    resources: Resources,
    caller: Caller,
    submission: Submission,
    options: dict[str, Any],
    job_id: str,
    claim_key: str | None,
    fingerprint: str,
) -> Created:
    """The rest of a submission once admission reserved a place for ``job_id``."""
    data = submission.image if isinstance(submission, SubmitByUpload) else _fetch(resources, submission.url)
    info = _check_image(resources, data)
    sha256 = _sha256(data)
    job_id_var.set(job_id)

    if claim_key is not None:
        try:
            claimed = resources.jobs.redis.set(claim_key, f"{job_id} {fingerprint}", nx=True, ex=CLAIM_TTL_S)
        except redis.RedisError as exc:
            raise unavailable("The job store") from exc
        if not claimed:
            replay = _replay(resources, claim_key, fingerprint)
            if replay:
                return replay
            raise ApiError(
                409, "idempotency_in_progress", "A request with this Idempotency-Key is still being created."
            )
    try:
        created = _create(
            resources, caller, options | {"source": submission.source}, job_id, data, info, sha256, claim_key
        )
    except BaseException:
        if claim_key is not None:
            _release_claim(resources, claim_key, job_id)
        raise
    resources.metrics.upload_bytes.observe(len(data))
    resources.metrics.submissions.labels(
        submission.source, "yes" if created.status != JobStatus.QUEUED.value else "no"
    ).inc()
    return created


def _create(
    resources: Resources,
    caller: Caller,
    submitted: dict[str, Any],
    job_id: str,
    data: bytes,
    info: ImageInfo | VideoInfo,
    sha256: str,
    claim_key: str | None,
) -> Created:
    settings = resources.settings
    spec = model_spec(settings) if settings.result_cache_ttl_s > 0 else None
    scope = SHARED_SCOPE if settings.result_cache_shared else f"tenant-{caller.tenant}"
    media = "video" if isinstance(info, VideoInfo) else "photo"
    record = JobRecord(
        **submitted,
        sha256=sha256,
        bytes=len(data),
        width=info.width,
        height=info.height,
        media_type=info.media_type,
        media=media,
        duration_s=info.duration_s if isinstance(info, VideoInfo) else None,
        model_spec=spec or "",
        cache_scope=scope,
        cache_ttl_s=settings.result_cache_ttl_s,
        idempotency_key=claim_key or "",
    )
    record.touch(*SubmissionOptions.model_fields)  # every option is written, even at its default
    try:
        resources.store.put_bytes(original_key(job_id), data, info.media_type)
    except StorageUnavailable as exc:
        raise unavailable("Object storage") from exc
    try:
        source = None
        if spec:
            model = resources.served_model.current()
            source = find_cached_job(
                resources.jobs.redis, scope, sha256, record.threshold or 0.0, record.include_landmarks, model
            )
        status = _reuse(resources, caller, job_id, source, record) if source else None
        if status is None:
            resources.jobs.create_for_tenant(job_id, caller.tenant, record)
            send_first(resources.celery, job_id)
            status = JobStatus.QUEUED.value
            log.info("job created", extra={"fields": {"source": record.source, "bytes": len(data)}})
        if claim_key is not None:
            resources.jobs.redis.expire(claim_key, settings.idempotency_ttl_s)
    except (redis.RedisError, OSError) as exc:
        raise unavailable("The job queue") from exc
    return Created(job_id=job_id, status=status, media=record.media)


def _reuse(resources: Resources, caller: Caller, job_id: str, source: str, record: JobRecord) -> str | None:
    """Copy an earlier job's result into this job and write its record as ended; None if that result is gone."""
    earlier = resources.jobs.find(source)
    if earlier is None or not earlier.has_result:
        return None
    try:
        keys = [result_key, annotated_key] + ([annotated_video_key] if earlier.media == "video" else [])
        for key in keys:
            resources.store.copy(key(source), key(job_id))
    except ObjectNotFound:
        log.info("cached result is gone; scoring again")
        return None
    except StorageUnavailable as exc:
        raise unavailable("Object storage") from exc
    for name in PROGRESS_COPIED:
        if getattr(earlier, name) is not None:
            setattr(record, name, getattr(earlier, name))
    record.status, record.stage = earlier.status, None
    record.cached, record.cached_from, record.ended_at = True, source, time.time()
    resources.jobs.create_for_tenant(job_id, caller.tenant, record)
    notify_job_ended(resources.celery, resources.jobs, job_id)
    log.info("job answered from the result cache")
    return earlier.status.value


def _replay(resources: Resources, claim_key: str, fingerprint: str) -> Created | None:
    try:
        held = resources.jobs.redis.get(claim_key)
        if not held:
            return None
        job_id, _, held_fingerprint = held.partition(" ")
        if held_fingerprint != fingerprint:
            raise ApiError(422, "idempotency_key_reused", "This Idempotency-Key was used for a different request.")
        record = resources.jobs.find(job_id)
    except redis.RedisError as exc:
        raise unavailable("The job store") from exc
    if record is None:
        raise ApiError(
            409,
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being created.",
            {"Retry-After": "1"},
        )
    job_id_var.set(job_id)
    return Created(job_id=job_id, status=record.status.value, replayed=True, media=record.media)


def _release_claim(resources: Resources, claim_key: str, job_id: str) -> None:
    try:
        held = resources.jobs.redis.get(claim_key)
        if held and held.split(" ", 1)[0] == job_id:
            resources.jobs.redis.delete(claim_key)
    except redis.RedisError:
        log.warning("could not release an idempotency claim; it expires in %d s", CLAIM_TTL_S)


def _fetch(resources: Resources, url: str) -> bytes:
    settings = resources.settings
    try:
        return fetch_image(
            url,
            resources.policy,
            timeout_s=settings.url_fetch_timeout_s,
            max_bytes=largest_upload(settings),
            max_redirects=settings.url_fetch_max_redirects,
        )
    except UrlRefused as exc:
        raise ApiError(422, exc.code, f"url: {exc.message}") from exc
    except FetchFailed as exc:
        raise ApiError(exc.status, exc.code, f"url: {exc.message}") from exc


def _check_image(resources: Resources, data: bytes) -> ImageInfo | VideoInfo:
    """A photo's or a video's header checked against its limits (a video is never decoded here)."""
    settings = resources.settings
    try:
        if data and sniff_video(data) is not None:
            return inspect_video(data, video_limits(settings))
        if len(data) > settings.max_upload_bytes:
            raise ApiError(413, "payload_too_large", f"Photos are limited to {settings.max_upload_bytes} bytes.")
        return check_pixels(data, settings.max_pixels, settings.max_side)
    except ImageRejected as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc


def _fingerprint(submission: Submission, options: dict[str, Any]) -> str:
    """The photo (its digest, or its URL) and every option as the record writes it, in declaration order."""
    source = _sha256(submission.image) if isinstance(submission, SubmitByUpload) else f"url:{submission.url}"
    parts = [source, *(wire_text(options.get(name)) for name in SubmissionOptions.model_fields)]
    return _sha256("\n".join(parts).encode())[:32]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
