"""Read a submission body: multipart with an ``image`` file, or JSON with a ``url``; sizes bounded while reading."""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect
from starlette.types import Message

from services.contract.settings import Settings
from services.gateway.errors import ApiError
from services.gateway.models import FormJsonSchema, Submission, SubmitByUpload, SubmitByUrl

Body = TypeVar("Body", SubmitByUpload, SubmitByUrl)

# Multipart framing around the file part and the small fields.
MULTIPART_OVERHEAD = 64 * 1024
MAX_JSON_BYTES = 16 * 1024

# The OpenAPI request body of POST /v1/jobs (FastAPI cannot infer a route taking either content type).
SUBMIT_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": SubmitByUpload.model_json_schema(schema_generator=FormJsonSchema),
            "encoding": {
                "image": {"contentType": "image/jpeg, image/png, image/webp, video/mp4, video/quicktime, video/webm"}
            },
        },
        "application/json": {
            "schema": {"$ref": "#/components/schemas/SubmitByUrl"},
            "example": {"url": "https://example.com/photos/press.jpg", "threshold": 0.6},
        },
    },
}


async def read_submission(request: Request, settings: Settings) -> Submission:
    """Parse the body by its declared type; raise ApiError (413, 415, 422) on anything else."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _read_multipart(request, settings)
    if content_type == "application/json":
        return _parse_json(await _read_limited(request, MAX_JSON_BYTES, "JSON bodies"))
    raise ApiError(
        415, "unsupported_content_type", "Send multipart/form-data with an `image` file, or JSON with a `url`."
    )


async def _read_limited(request: Request, limit: int, what: str) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"{what} are limited to {limit} bytes.")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise ApiError(413, "payload_too_large", f"{what} are limited to {limit} bytes.")
    except ClientDisconnect as exc:
        raise ApiError(400, "incomplete_body", "The request body ended early.") from exc
    return bytes(body)


def largest_upload(settings: Settings) -> int:
    """Bytes read from an upload or a URL before its content is known: the larger of the photo and video limits.

    Which limit applies is decided once the bytes say what they are (``submit``).
    """
    return max(settings.max_upload_bytes, settings.max_video_bytes)


async def _read_multipart(request: Request, settings: Settings) -> SubmitByUpload:
    limit = largest_upload(settings)
    body = await _read_limited(request, limit + MULTIPART_OVERHEAD, "Uploads")
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=16)
    except Exception as exc:  # starlette raises several types for malformed multipart
        raise ApiError(400, "malformed_body", "The multipart body cannot be parsed.") from exc
    try:
        image = form.get("image")
        if not isinstance(image, UploadFile):
            raise ApiError(422, "invalid_request", "image: a file field named `image` is required.")
        data = await image.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, "payload_too_large", f"Uploads are limited to {limit} bytes.")
        fields = {name: form[name] for name in SubmitByUpload.model_fields.keys() & form.keys()}
        return _validated(SubmitByUpload, {**fields, "image": data})
    finally:
        await form.close()


def _parse_json(body: bytes) -> SubmitByUrl:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_body", "The JSON body cannot be parsed.") from exc
    return _validated(SubmitByUrl, payload)


def _validated(model: type[Body], payload: object) -> Body:
    """The body as ``model``; 422 naming the first field that does not fit."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise ApiError(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}") from exc
