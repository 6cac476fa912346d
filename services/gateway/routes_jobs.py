"""The job API: submit, follow, fetch images, list and delete, each scoped to the caller's tenant."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Annotated

import redis
from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from services.contract.documents import job_document, job_links
from services.contract.imaging import ACCEPTED_FORMATS, sniff_format
from services.contract.record import JobRecord, JobStatus
from services.contract.retention import purge_job
from services.contract.schemas import JobDocument, JobResult
from services.contract.storage import (
    ObjectNotFound,
    StorageUnavailable,
    annotated_key,
    annotated_video_key,
    original_key,
    result_key,
)
from services.contract.video import VIDEO_FORMATS, sniff_video
from services.gateway.deps import CallerDep, OwnedJobDep, ResourcesDep
from services.gateway.documents import job_summary
from services.gateway.errors import ApiError, error_responses
from services.gateway.intake import SUBMIT_REQUEST_BODY, read_submission
from services.gateway.models import JOB_SUMMARY_EXAMPLE, JobList, SubmitAccepted
from services.gateway.resources import Resources
from services.gateway.submit import submit, unavailable

log = logging.getLogger("fakeweb.gateway.jobs")

# Every /v1 answer may be one of these besides the route's own.
COMMON_ERRORS = (401, 429, 503)

JOB_DOCUMENT_EXAMPLE = {
    **JOB_SUMMARY_EXAMPLE,
    "timings": {"detect": {"started_at": 1790000000.1, "finished_at": 1790000000.6, "seconds": 0.5}},
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
    "webhook": None,
}


router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


def _base_url(request: Request, resources: Resources) -> str:
    return resources.settings.public_url or str(request.base_url)


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
        **error_responses(400, 409, 413, 415, 422, *COMMON_ERRORS, admission=True),
    },
)
async def submit_job(
    request: Request,
    response: Response,
    resources: ResourcesDep,
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
    submission = await read_submission(request, resources.settings)
    created = await run_in_threadpool(submit, resources, caller, submission, idempotency_key)
    request.state.job_id = created.job_id
    links = job_links(_base_url(request, resources), created.job_id, created.media)
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
    resources: ResourcesDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Jobs per page.")] = 20,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page.")] = None,
) -> JobList:
    """One page of the caller's jobs; follow `next_cursor` for the next."""
    before = _decode_cursor(cursor) if cursor else None
    try:
        ids = resources.jobs.list_for_tenant(caller.tenant, limit + 1, before)
        records = resources.jobs.get_many(ids)
    except redis.RedisError as exc:
        raise unavailable("The job store") from exc
    base = _base_url(request, resources)
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
def get_job(request: Request, resources: ResourcesDep, job: OwnedJobDep) -> JobDocument:
    """Status, stage, progress and timings; the faces once the job has ended; `error {code, message}` on failure."""
    result = None
    if job.record.has_result:
        try:
            result = JobResult.model_validate(resources.store.get_json(result_key(job.id)))
        except StorageUnavailable as exc:
            raise unavailable("Object storage") from exc
        except ObjectNotFound as exc:
            raise ApiError(410, "result_missing", "The job's stored result is gone.") from exc
    return job_document(job.id, job.record, _base_url(request, resources), result)


@router.get(
    "/{job_id}/image",
    summary="The annotated photo (JPEG)",
    responses={
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404, 409, 410, *COMMON_ERRORS),
    },
    response_class=Response,
)
def get_annotated_image(resources: ResourcesDep, job: OwnedJobDep) -> Response:
    """The full-size photo with meshes over manipulated faces; 409 until the job has ended."""
    _require_result(job.record)
    data = _object(resources, annotated_key(job.id), "The annotated image is gone.")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/{job_id}/video",
    summary="The annotated clip of a video job (H.264 MP4)",
    responses={
        200: {"content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404, 409, 410, *COMMON_ERRORS),
    },
    response_class=Response,
)
def get_annotated_video(resources: ResourcesDep, job: OwnedJobDep) -> Response:
    """The analysed frames with meshes over manipulated tracks; 404 for a photo job, 409 until the job has ended."""
    record = job.record
    if record.media != "video":
        raise ApiError(404, "not_a_video", "This job is a photo; it has no annotated clip.")
    _require_result(record)
    data = _object(resources, annotated_video_key(job.id), "The annotated clip is gone.")
    return Response(data, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/{job_id}/original",
    summary="The photo as submitted",
    responses={
        200: {
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in (*ACCEPTED_FORMATS.values(), *VIDEO_FORMATS.values())
            }
        },
        **error_responses(404, 410, *COMMON_ERRORS),
    },
    response_class=Response,
)
def get_original(resources: ResourcesDep, job: OwnedJobDep) -> Response:
    """The submitted bytes, unchanged, with their detected media type."""
    data = _object(resources, original_key(job.id), "The original photo is gone.")
    sniffed = ACCEPTED_FORMATS.get(sniff_format(data) or "") or VIDEO_FORMATS.get(sniff_video(data) or "")
    media_type = job.record.media_type or sniffed or "application/octet-stream"
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a job and everything stored for it",
    responses={204: {"description": "Deleted."}, **error_responses(404, *COMMON_ERRORS)},
    response_class=Response,
)
def delete_job(resources: ResourcesDep, job: OwnedJobDep) -> Response:
    """Stop the job if it is still running, delete its record and keys, then every object under `jobs/{id}/`."""
    try:
        removed = purge_job(resources.jobs, resources.store, job.id).objects
    except StorageUnavailable as exc:
        raise unavailable("Object storage") from exc
    except redis.RedisError as exc:
        raise unavailable("The job store") from exc
    log.info("job deleted", extra={"fields": {"objects_removed": removed}})
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _require_result(record: JobRecord) -> None:
    """409 unless the job has ended with a result."""
    if record.status == JobStatus.FAILED:
        raise ApiError(409, "job_failed", "The job failed; it has no annotated image.")
    if not record.has_result:
        message = f"The job is {record.status.value}; poll it until it has ended."
        raise ApiError(409, "not_ready", message, {"Retry-After": "1"})


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
