"""Submit a photo, follow the job, fetch the annotated image."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

import redis
from fastapi import APIRouter, File, Form, Request, Response, UploadFile, status

from services.contract.imaging import ImageRejected, decode_rgb
from services.contract.jobs import JobNotFound, JobStatus
from services.contract.schemas import JobDocument, JobResult
from services.contract.storage import ObjectNotFound, StorageUnavailable, annotated_key, original_key, result_key
from services.contract.tasks import DETECT_TASK, send_stage
from services.gateway.documents import job_document, job_links
from services.gateway.errors import ApiError, error_responses
from services.gateway.resources import Resources

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

# Multipart framing around the file part; a body larger than the limit plus this is refused unread.
MULTIPART_OVERHEAD = 64 * 1024

SUBMIT_EXAMPLE = {
    "id": "3f9c2b7e4a1d4c0e9b8a7f6e5d4c3b2a",
    "status": "queued",
    "links": {"self": "http://127.0.0.1:8000/v1/jobs/3f9c…", "image": "http://127.0.0.1:8000/v1/jobs/3f9c…/image"},
}


def _resources(request: Request) -> Resources:
    return request.app.state.resources


def _base_url(request: Request) -> str:
    return _resources(request).settings.public_url or str(request.base_url)


def _unavailable(part: str) -> ApiError:
    return ApiError(503, "service_unavailable", f"{part} is not reachable; try again shortly.", {"Retry-After": "5"})


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a photo",
    responses={
        202: {
            "description": "Accepted; poll the Location.",
            "content": {"application/json": {"example": SUBMIT_EXAMPLE}},
        },
        **error_responses(400, 413, 415, 422, 503),
    },
)
def submit_job(
    request: Request,
    response: Response,
    image: Annotated[UploadFile, File(description="JPEG, PNG or WebP photo.")],
    threshold: Annotated[float | None, Form(ge=0.0, le=1.0, description="Manipulated at or above this.")] = None,
    include_landmarks: Annotated[bool, Form(description="Keep mesh landmarks in the result.")] = False,
) -> dict[str, object]:
    """Validate and store the photo, create the job and queue its first stage."""
    resources = _resources(request)
    settings = resources.settings
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes + MULTIPART_OVERHEAD:
        raise ApiError(413, "payload_too_large", f"Uploads are limited to {settings.max_upload_bytes} bytes.")
    data = image.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ApiError(413, "payload_too_large", f"Uploads are limited to {settings.max_upload_bytes} bytes.")
    try:
        pixels = decode_rgb(data, settings.max_pixels, settings.max_side)
    except ImageRejected as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    height, width = pixels.shape[:2]
    del pixels

    job_id = secrets.token_hex(16)
    try:
        resources.store.put_bytes(original_key(job_id), data)
    except StorageUnavailable as exc:
        raise _unavailable("Object storage") from exc
    try:
        resources.jobs.create(
            job_id,
            {
                "threshold": settings.threshold if threshold is None else threshold,
                "include_landmarks": include_landmarks,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "width": width,
                "height": height,
            },
        )
        send_stage(resources.celery, DETECT_TASK, job_id)
    except (redis.RedisError, OSError) as exc:
        raise _unavailable("The job queue") from exc
    links = job_links(_base_url(request), job_id)
    response.headers["Location"] = links.self
    return {"id": job_id, "status": JobStatus.QUEUED.value, "links": links.model_dump()}


@router.get(
    "/{job_id}", response_model=JobDocument, summary="Status and result of a job", responses=error_responses(404, 503)
)
def get_job(request: Request, job_id: str) -> JobDocument:
    """Status, stage, progress and timings; the faces once the job has ended."""
    resources = _resources(request)
    record = _record(resources, job_id)
    result = None
    if record.get("status") in (JobStatus.COMPLETED.value, JobStatus.NO_FACE.value):
        try:
            result = JobResult.model_validate(resources.store.get_json(result_key(job_id)))
        except StorageUnavailable as exc:
            raise _unavailable("Object storage") from exc
        except ObjectNotFound as exc:
            raise ApiError(410, "result_missing", "The job's stored result is gone.") from exc
    return job_document(job_id, record, _base_url(request), result)


@router.get(
    "/{job_id}/image",
    summary="The annotated photo (JPEG)",
    responses={200: {"content": {"image/jpeg": {}}}, **error_responses(404, 409, 503)},
    response_class=Response,
)
def get_annotated_image(request: Request, job_id: str) -> Response:
    """The full-size photo with meshes over manipulated faces; 409 until the job has ended."""
    resources = _resources(request)
    record = _record(resources, job_id)
    job_status = record.get("status")
    if job_status == JobStatus.FAILED.value:
        raise ApiError(409, "job_failed", "The job failed; it has no annotated image.")
    if job_status not in (JobStatus.COMPLETED.value, JobStatus.NO_FACE.value):
        raise ApiError(409, "not_ready", f"The job is {job_status}; poll it until it has ended.", {"Retry-After": "1"})
    try:
        data = resources.store.get_bytes(annotated_key(job_id))
    except StorageUnavailable as exc:
        raise _unavailable("Object storage") from exc
    except ObjectNotFound as exc:
        raise ApiError(410, "result_missing", "The annotated image is gone.") from exc
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


def _record(resources: Resources, job_id: str) -> dict[str, str]:
    if len(job_id) > 64 or not job_id.isalnum():
        raise ApiError(404, "not_found", "No such job.")
    try:
        return resources.jobs.get(job_id)
    except JobNotFound as exc:
        raise ApiError(404, "not_found", "No such job.") from exc
    except redis.RedisError as exc:
        raise _unavailable("The job store") from exc
