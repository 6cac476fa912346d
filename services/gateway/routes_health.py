"""Liveness and readiness."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

router = APIRouter(tags=["operations"])


class Readiness(BaseModel):
    """Body of ``/readyz``."""

    status: str = Field(description="ready or not_ready.")
    checks: dict[str, str] = Field(description="`ok` or why not, for redis, s3 and serving.")
    admission: dict[str, object] | None = Field(
        None,
        description="Whether new jobs are accepted (`accepting`, `overloaded_by`), the stage queue depths and the "
        "share of Redis maxmemory in use. Overload does not make the gateway unready: it still serves jobs.",
    )


@router.get(
    "/healthz",
    summary="The gateway process is alive",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Redis, S3 and serving are reachable",
    responses={
        200: {
            "model": Readiness,
            "description": "Every dependency answers.",
            "content": {
                "application/json": {
                    "example": {
                        "status": "ready",
                        "checks": {"redis": "ok", "s3": "ok", "serving": "ok"},
                        "admission": {
                            "accepting": True,
                            "overloaded_by": None,
                            "queue_depths": {"detect": 3, "classify": 12, "annotate": 0},
                            "redis_memory_ratio": 0.12,
                        },
                    },
                }
            },
        },
        503: {
            "model": Readiness,
            "description": "A dependency is not reachable; the body says which.",
            "content": {
                "application/json": {
                    "example": {"status": "not_ready", "checks": {"redis": "ok", "s3": "ok", "serving": "unreachable"}},
                }
            },
        },
    },
)
async def readyz(request: Request) -> JSONResponse:
    """200 when every dependency answers, else 503 naming the ones that do not."""
    resources = request.app.state.resources
    checks = await run_in_threadpool(resources.check)
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": checks}
    if checks.get("redis") == "ok":
        try:
            body["admission"] = (await run_in_threadpool(resources.admission.load)).as_dict()
        except redis.RedisError:
            body["admission"] = None
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Job counts by status, stage latency histograms, queue depths, upload sizes and request counts."""
    registry = request.app.state.resources.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
