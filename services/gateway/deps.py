"""What a /v1 route needs per request, as FastAPI dependencies: the resources, the caller, the caller's job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis
from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader

from services.contract.jobs import JobNotFound
from services.contract.record import JobRecord
from services.gateway.auth import API_KEY_HEADER, Caller
from services.gateway.errors import ApiError
from services.gateway.resources import Resources
from services.gateway.submit import unavailable
from services.runtime.logs import job_id_var, tenant_var

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="Your API key (`FAKEWEB_API_KEYS`); `fakeweb-dev-key` locally."
)


def get_resources(request: Request) -> Resources:
    """The connections the app opened at start-up."""
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def authenticate(
    request: Request, resources: ResourcesDep, api_key: Annotated[str | None, Security(api_key_header)] = None
) -> Caller:
    """The tenant behind ``X-API-Key``; 401 without a valid key, 429 past the key's rate limit."""
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


@dataclass(frozen=True)
class OwnedJob:
    """A job of the caller's tenant: its id (from the path) and its record."""

    id: str
    record: JobRecord


async def owned_job(request: Request, resources: ResourcesDep, caller: CallerDep, job_id: str) -> OwnedJob:
    """The job ``{job_id}`` if it exists AND belongs to the caller; otherwise the same 404 either way.

    Async so that the job id it sets for the logs holds in the route too; the lookup runs in a thread.
    """
    if len(job_id) > 64 or not job_id.isalnum():
        raise ApiError(404, "not_found", "No such job.")
    try:
        record = await run_in_threadpool(resources.jobs.get, job_id)
    except JobNotFound as exc:
        raise ApiError(404, "not_found", "No such job.") from exc
    except redis.RedisError as exc:
        raise unavailable("The job store") from exc
    if record.tenant != caller.tenant:
        raise ApiError(404, "not_found", "No such job.")
    request.state.job_id = job_id
    job_id_var.set(job_id)
    return OwnedJob(id=job_id, record=record)


OwnedJobDep = Annotated[OwnedJob, Depends(owned_job)]


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'}
