"""The job API: submit, follow, fetch images, list and delete, each scoped to the caller's tenant."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Annotated

import redis
from fastapi import APIRouter, Depends, Header, Query, Request, Response, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader

from services.contract.imaging import ACCEPTED_FORMATS, sniff_format
from services.contract.jobs import JobNotFound
from services.contract.record import JobRecord, JobStatus
from services.contract.schemas import JobDocument, JobResult
from services.contract.storage import (
    ObjectNotFound,
    StorageUnavailable,
    annotated_key,
    job_prefix,
    original_key,
    result_key,
)
from services.gateway.auth import API_KEY_HEADER, Caller
from services.gateway.documents import job_document, job_links, job_summary
from services.gateway.errors import ApiError, error_responses
from services.gateway.intake import SUBMIT_REQUEST_BODY, read_submission
from services.gateway.logs import job_id_var, tenant_var
from services.gateway.models import JOB_ID_EXAMPLE, LINKS_EXAMPLE, JobList, SubmitAccepted
from services.gateway.resources import Resources
from services.gateway.submit import submit, unavailable

log = logging.getLogger("fakeweb.gateway.jobs")

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="Your API key (`FAKEWEB_API_KEYS`); `fakeweb-dev-key` locally."
)

# Every /v1 answer may be one of these besides the route's own.
COMMON_ERRORS = (401, 429, 503)

JOB_DOCUMENT_EXAMPLE = {
    "id": JOB_ID_EXAMPLE,
    "status": "completed",
    "stage": None,
    "created_at": 1790000000.0,
    "updated_at": 1790000002.5,
    "threshold": 0.5,
    "progress": {"faces_total": 2, "faces_judgeable": 1, "faces_scored": 1, "faces_annotated": 2},
    "timings": {"detect": {"started_at": 1790000000.1, "finished_at": 1790000000.6, "seconds": 0.5}},
    "error": None,
    "faces": [
        {
            "index": 0,
            "box": [120, 80, 96, 110],
            "detector_score": 0.93,
            "manipulated_probability": 0.87,
            "verdict": "manipulated",
            "reason": None,
            "model": {"name": "fakeweb", "version": 3},
            "mesh": True,
            "mesh_note": None,
            "landmarks": None,
        },
        {
            "index": 1,
            "box": [400, 60, 14, 16],
            "detector_score": 0.71,
            "manipulated_probability": None,
            "verdict": "unjudgeable",
            "reason": "too_small",
            "model": None,
            "mesh": False,
            "mesh_note": None,
            "landmarks": None,
        },
    ],
    "links": LINKS_EXAMPLE,
    "cached": False,
    "webhook": None,
}


def _resources(request: Request) -> Resources:
    return request.app.state.resources


def authenticate(request: Request, api_key: Annotated[str | None, Security(api_key_header)] = None) -> Caller:
    """The tenant behind ``X-API-Key``; 401 without a valid key, 429 past the key's rate limit."""
    resources = _resources(request)
    if not api_key:
        raise ApiError(401, "missing_api_key", f"Send your API key in the {API_KEY_HEADER} header.", _challenge())
    caller = resources.keyring.identify(api_key)
    if caller is None:
        raise ApiError(401, "invalid_api_key", "The API key is not valid.", _challenge())
    request.state.caller = caller
    tenant_var.set(caller.tenant)
    try:
        decision = resources.limiter.take(caller.key_id)
    except redis.RedisError as exc:
        raise unavailable("The rate limiter") from exc
    if not decision.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"Too many requests for this API key; retry in {decision.retry_after_s} s.",
            {"Retry-After": str(decision.retry_after_s)},
        )
    return caller


CallerDep = Annotated[Caller, Depends(authenticate)]
router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'}


def _base_url(request: Request) -> str:
    return _resources(request).settings.public_url or str(request.base_url)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubmitAccepted,
    summary="Submit a photo (upload or URL)",
    openapi_extra={"requestBody": SUBMIT_REQUEST_BODY},
    responses={
        202: {
            "description": "Accepted; poll the `Location`. A repeated `Idempotency-Key` answers the same job.",
            "headers": {"Location": {"description": "URL of the job.", "schema": {"type": "string"}}},
        },
        **error_responses(400, 409, 413, 415, 422, *COMMON_ERRORS),
    },
)
async def submit_job(
    request: Request,
    response: Response,
    caller: CallerDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Repeat a submission safely: the same key and request return the same job.",
        ),
    ] = None,
) -> SubmitAccepted:
    """Multipart `image` or JSON `{"url": ...}`, optional `threshold`, `callback_url`, `include_landmarks`."""
    resources = _resources(request)
    submission = await read_submission(request, resources.settings)
    created = await run_in_threadpool(submit, resources, caller, submission, idempotency_key)
    request.state.job_id = created.job_id
    links = job_links(_base_url(request), created.job_id)
    response.headers["Location"] = links.self
    if created.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return SubmitAccepted(id=created.job_id, status=created.status, links=links)


@router.get(
    "",
    response_model=JobList,
    summary="The caller's jobs, newest first",
    responses=error_responses(422, *COMMON_ERRORS),
)
def list_jobs(
    request: Request,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Jobs per page.")] = 20,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page.")] = None,
) -> JobList:
    """One page of the caller's jobs; follow `next_cursor` for the next."""
    resources = _resources(request)
    before = _decode_cursor(cursor) if cursor else None
    try:
        ids = resources.jobs.list_for_tenant(caller.tenant, limit + 1, before)
        records = resources.jobs.get_many(ids)
    except redis.RedisError as exc:
        raise unavailable("The job store") from exc
    base = _base_url(request)
    page = [job_summary(job_id, records[job_id], base) for job_id in ids[:limit] if job_id in records]
    next_cursor = None
    if len(ids) > limit and page:
        last = page[-1]
        next_cursor = _encode_cursor(records[last.id].created_at, last.id)
    return JobList(jobs=page, next_cursor=next_cursor)


@router.get(
    "/{job_id}",
    response_model=JobDocument,
    summary="Status and result of a job",
    responses={
        200: {"content": {"application/json": {"example": JOB_DOCUMENT_EXAMPLE}}},
        **error_responses(404, 410, *COMMON_ERRORS),
    },
)
def get_job(request: Request, caller: CallerDep, job_id: str) -> JobDocument:
    """Status, stage, progress and timings; the faces once the job has ended; `error {code, message}` on failure."""
    resources = _resources(request)
    record = _owned_record(request, resources, caller, job_id)
    result = None
    if record.has_result:
        try:
            result = JobResult.model_validate(resources.store.get_json(result_key(job_id)))
        except StorageUnavailable as exc:
            raise unavailable("Object storage") from exc
        except ObjectNotFound as exc:
            raise ApiError(410, "result_missing", "The job's stored result is gone.") from exc
    return job_document(job_id, record, _base_url(request), result)


@router.get(
    "/{job_id}/image",
    summary="The annotated photo (JPEG)",
    responses={
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404, 409, 410, *COMMON_ERRORS),
    },
    response_class=Response,
)
def get_annotated_image(request: Request, caller: CallerDep, job_id: str) -> Response:
    """The full-size photo with meshes over manipulated faces; 409 until the job has ended."""
    resources = _resources(request)
    record = _owned_record(request, resources, caller, job_id)
    if record.status == JobStatus.FAILED:
        raise ApiError(409, "job_failed", "The job failed; it has no annotated image.")
    if not record.has_result:
        message = f"The job is {record.status.value}; poll it until it has ended."
        raise ApiError(409, "not_ready", message, {"Retry-After": "1"})
    data = _object(resources, annotated_key(job_id), "The annotated image is gone.")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/{job_id}/original",
    summary="The photo as submitted",
    responses={
        200: {
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in ACCEPTED_FORMATS.values()
            }
        },
        **error_responses(404, 410, *COMMON_ERRORS),
    },
    response_class=Response,
)
def get_original(request: Request, caller: CallerDep, job_id: str) -> Response:
    """The submitted bytes, unchanged, with their detected media type."""
    resources = _resources(request)
    record = _owned_record(request, resources, caller, job_id)
    data = _object(resources, original_key(job_id), "The original photo is gone.")
    media_type = record.media_type or ACCEPTED_FORMATS.get(sniff_format(data) or "", "application/octet-stream")
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a job and everything stored for it",
    responses={204: {"description": "Deleted."}, **error_responses(404, *COMMON_ERRORS)},
    response_class=Response,
)
def delete_job(request: Request, caller: CallerDep, job_id: str) -> Response:
    """Stop the job if it is still running, delete every object under `jobs/{id}/` and then the record."""
    resources = _resources(request)
    record = _owned_record(request, resources, caller, job_id)
    try:
        if not record.is_final:
            resources.jobs.fail(job_id, "deleted", "The job was deleted while it ran.")
        removed = resources.store.delete_prefix(job_prefix(job_id))
        if record.idempotency_key:
            resources.jobs.redis.delete(record.idempotency_key)
        if record.cache_key and resources.jobs.redis.get(record.cache_key) == job_id:
            resources.jobs.redis.delete(record.cache_key)
        resources.jobs.delete(job_id)
        # A stage that was mid-write when the job was stopped may have added an object since.
        removed += resources.store.delete_prefix(job_prefix(job_id))
    except StorageUnavailable as exc:
        raise unavailable("Object storage") from exc
    except redis.RedisError as exc:
        raise unavailable("The job store") from exc
    log.info("job deleted", extra={"fields": {"objects_removed": removed}})
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _owned_record(request: Request, resources: Resources, caller: Caller, job_id: str) -> JobRecord:
    """The record if it exists AND belongs to the caller; otherwise the same 404 either way."""
    if len(job_id) > 64 or not job_id.isalnum():
        raise ApiError(404, "not_found", "No such job.")
    try:
        record = resources.jobs.get(job_id)
    except JobNotFound as exc:
        raise ApiError(404, "not_found", "No such job.") from exc
    except redis.RedisError as exc:
        raise unavailable("The job store") from exc
    if record.tenant != caller.tenant:
        raise ApiError(404, "not_found", "No such job.")
    request.state.job_id = job_id
    job_id_var.set(job_id)
    return record


def _object(resources: Resources, key: str, gone: str) -> bytes:
    try:
        return resources.store.get_bytes(key)
    except StorageUnavailable as exc:
        raise unavailable("Object storage") from exc
    except ObjectNotFound as exc:
        raise ApiError(410, "result_missing", gone) from exc


def _encode_cursor(created_at: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}:{job_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, job_id = text.split(":", 1)
        value = float(created_at)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid_cursor", "cursor: not a cursor this API returned.") from exc
    if not job_id.isalnum() or value != value:  # NaN
        raise ApiError(422, "invalid_cursor", "cursor: not a cursor this API returned.")
    return value, job_id
