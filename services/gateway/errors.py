"""Every error answer has the body ``{"error": {"code", "message"}}`` and a fitting status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.contract.schemas import ErrorResponse


class ApiError(Exception):
    """An error the API reports to the caller as-is."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error answer."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


# One typical error per status, shown as the OpenAPI example.
ERROR_EXAMPLES: dict[int, tuple[str, str]] = {
    400: ("empty_file", "The upload is empty."),
    401: ("missing_api_key", "Send your API key in the X-API-Key header."),
    404: ("not_found", "No such job."),
    409: ("not_ready", "The job is running; poll it until it has ended."),
    410: ("result_missing", "The job's stored result is gone."),
    413: ("image_too_large", "30000x30000 is more than the 50000000 pixels accepted."),
    415: ("unsupported_media_type", "Only JPEG, PNG and WebP images are accepted."),
    422: ("url_not_allowed", "url: The URL's host resolves to a private address."),
    429: ("rate_limited", "Too many requests for this API key; retry in 2 s."),
    503: ("service_unavailable", "Object storage is not reachable; try again shortly."),
}


# Admission control's codes (POST /v1/jobs only), shown as further OpenAPI examples of their status.
ADMISSION_EXAMPLES: dict[int, tuple[str, str]] = {
    429: (
        "too_many_jobs",
        "This tenant has 100 jobs queued or running, the most allowed; submit more once some have ended.",
    ),
    503: ("overloaded", "FakeWeb is busy (queue detect holds 1200 tasks (bound 1000)); try again shortly."),
}
# Statuses whose answers carry Retry-After.
RETRY_AFTER_STATUSES = frozenset({429, 503})
RETRY_AFTER_HEADER = {
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
}


def error_responses(*statuses: int, admission: bool = False) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` entries (schema, example, Retry-After where sent) for the given error statuses.

    ``admission``: the route creates jobs, so 429 and 503 also show admission control's codes.
    """
    entries: dict[int | str, dict[str, object]] = {}
    for status in statuses:
        pairs = [ERROR_EXAMPLES.get(status, ("error", "Something went wrong."))]
        if admission and status in ADMISSION_EXAMPLES:
            pairs.append(ADMISSION_EXAMPLES[status])
        bodies = {code: {"error": {"code": code, "message": message}} for code, message in pairs}
        media: dict[str, object] = (
            {"examples": {code: {"value": body} for code, body in bodies.items()}}
            if len(bodies) > 1
            else {"example": next(iter(bodies.values()))}
        )
        entry: dict[str, object] = {"model": ErrorResponse, "content": {"application/json": media}}
        if status in RETRY_AFTER_STATUSES:
            entry["headers"] = RETRY_AFTER_HEADER
        entries[status] = entry
    return entries


def install_error_handlers(app: FastAPI) -> None:
    """Map ApiError, HTTP errors and validation errors to the common error body."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid request')}")
