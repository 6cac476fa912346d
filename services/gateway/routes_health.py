"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The gateway process is alive")
async def healthz() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Redis, S3 and serving are reachable",
    responses={503: {"description": "A dependency is not reachable; the body says which."}},
)
async def readyz(request: Request) -> JSONResponse:
    """200 when every dependency answers, else 503 naming the ones that do not."""
    checks = await run_in_threadpool(request.app.state.resources.check)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )
