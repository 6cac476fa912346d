"""'Forget me': ``DELETE /v1/jobs`` deletes every job of the caller's tenant, asynchronously; poll its status.

The sweeper carries the request out (services/contract/retention.py): every job the tenant submitted
up to the request, with all its objects and keys, in crash-safe batches.
"""

from __future__ import annotations

from typing import Annotated, Literal

import redis
from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, Field

from services.contract.retention import forget_status, request_forget
from services.gateway.deps import CallerDep, ResourcesDep
from services.gateway.errors import ApiError, error_responses
from services.gateway.routes_jobs import COMMON_ERRORS
from services.gateway.submit import unavailable

router = APIRouter(tags=["jobs"])

DELETION_EXAMPLE = {
    "id": "9a0c4f1e2b3d4c5e6f708192a3b4c5d6",
    "status": "done",
    "requested_at": 1790000000.0,
    "finished_at": 1790000003.2,
    "jobs_deleted": 42,
    "links": {"self": "http://127.0.0.1:8000/v1/deletions/9a0c4f1e2b3d4c5e6f708192a3b4c5d6"},
}


class DeletionLinks(BaseModel):
    """Where to poll the request."""

    self: str


class Deletion(BaseModel):
    """A "forget me" request: every job of the tenant submitted up to ``requested_at`` is deleted."""

    model_config = {"json_schema_extra": {"examples": [DELETION_EXAMPLE]}}

    id: str
    status: Literal["pending", "running", "done"] = Field(description="`done` once every job is gone.")
    requested_at: float
    finished_at: float | None = None
    jobs_deleted: int = Field(description="Jobs deleted so far.")
    links: DeletionLinks


def _deletion(request: Request, resources: ResourcesDep, stored: dict[str, object]) -> Deletion:
    base = (resources.settings.public_url or str(request.base_url)).rstrip("/")
    fields = {name: value for name, value in stored.items() if name != "tenant"}
    return Deletion.model_validate({**fields, "links": {"self": f"{base}/v1/deletions/{stored['id']}"}})


@router.delete(
    "/v1/jobs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Deletion,
    summary="Forget me: delete every job of the caller's tenant",
    responses={
        202: {
            "description": "Accepted; poll the `Location` until `status` is `done`.",
            "headers": {"Location": {"description": "URL of the request.", "schema": {"type": "string"}}},
        },
        **error_responses(*COMMON_ERRORS),
    },
)
def forget_me(request: Request, response: Response, resources: ResourcesDep, caller: CallerDep) -> Deletion:
    """Every job submitted with the tenant's keys until now, its photos, crops, results and keys, is deleted."""
    try:
        stored = request_forget(resources.jobs, caller.tenant)
    except redis.RedisError as exc:
        raise unavailable("The job store") from exc
    deletion = _deletion(request, resources, stored)
    response.headers["Location"] = deletion.links.self
    return deletion


@router.get(
    "/v1/deletions/{deletion_id}",
    response_model=Deletion,
    summary="Status of a forget-me request",
    responses=error_responses(404, *COMMON_ERRORS),
)
def deletion_status(
    request: Request,
    resources: ResourcesDep,
    caller: CallerDep,
    deletion_id: Annotated[str, Path(max_length=64)],
) -> Deletion:
    """`pending`, `running` or `done`, with the jobs deleted so far; another tenant's request is 404."""
    if not deletion_id.isalnum():
        raise ApiError(404, "not_found", "No such deletion request.")
    try:
        stored = forget_status(resources.jobs, deletion_id)
    except redis.RedisError as exc:
        raise unavailable("The job store") from exc
    if stored is None or stored["tenant"] != caller.tenant:
        raise ApiError(404, "not_found", "No such deletion request.")
    return _deletion(request, resources, stored)
