"""FakeWeb's HTTP gateway: the only door into the pipeline."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi

from services.contract.settings import Settings, get_settings
from services.gateway.auth import check_deployment, parse_api_keys
from services.gateway.cors import install_cors
from services.gateway.errors import error_response, install_error_handlers
from services.gateway.models import SubmitByUrl
from services.gateway.resources import Resources
from services.gateway.routes_deletions import router as deletions_router
from services.gateway.routes_health import router as health_router
from services.gateway.routes_jobs import router as jobs_router
from services.gateway.web import mount_web
from services.runtime.logs import configure_logging, job_id_var, request_id_var, tenant_var
from services.runtime.memory import keep_freed_memory
from services.runtime.version import VERSION

log = logging.getLogger("fakeweb.gateway")

DESCRIPTION = """Finds every face in a photo and scores each as genuine or manipulated.

Every `/v1` request needs an API key in the `X-API-Key` header (locally: `fakeweb-dev-key`).
Errors answer `{"error": {"code", "message"}}`; `429` carries `Retry-After`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI application; raise UnsafeConfiguration on malformed keys or prod with dev credentials."""
    settings = settings or get_settings()
    check_deployment(settings)
    configure_logging(settings.log_format, _secrets(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keep_freed_memory(settings.malloc_keep_mb)
        app.state.resources = Resources.connect(settings)
        log.info("gateway ready", extra={"fields": {"env": settings.env}})
        try:
            yield
        finally:
            app.state.resources.close()

    app = FastAPI(title="FakeWeb", version=VERSION, description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(jobs_router)
    app.include_router(deletions_router)
    app.include_router(health_router)
    mount_web(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            # The JSON submit body is declared by hand (the route takes multipart or JSON); add its schema.
            schema.setdefault("components", {}).setdefault("schemas", {})["SubmitByUrl"] = (
                SubmitByUrl.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            _errors_use_one_schema(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.middleware("http")
    async def log_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = secrets.token_hex(8)
        request_id_var.set(request_id)
        job_id_var.set(None)
        tenant_var.set(None)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error", extra={"fields": {"method": request.method}})
            response = error_response(500, "internal_error", "Something went wrong on our side.")
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        caller = getattr(request.state, "caller", None)
        job_id = getattr(request.state, "job_id", None) or request.scope.get("path_params", {}).get("job_id")
        response.headers["X-Request-ID"] = request_id
        resources = getattr(request.app.state, "resources", None)
        if resources is not None:
            resources.metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        if template not in ("/healthz", "/metrics"):
            log.info(
                "request",
                extra={
                    "job_id": job_id,
                    "tenant": caller.tenant if caller else None,
                    "fields": {
                        "method": request.method,
                        "route": template,
                        "status": response.status_code,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                },
            )
        return response

    install_cors(app, settings)  # outermost: preflights are answered before the log and the routes
    return app


def _errors_use_one_schema(schema: dict[str, Any]) -> None:
    """Validation errors answer ``ErrorResponse`` like every error; drop FastAPI's default 422 schema."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422")
            if answer and "HTTPValidationError" in str(answer):
                operation["responses"]["422"] = {
                    "description": "Invalid request",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
                }
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def _secrets(settings: Settings) -> list[str]:
    keys = [key for _, key in parse_api_keys(settings.api_keys)]
    return [*keys, settings.webhook_secret, settings.s3_secret_key]


app = create_app()
