"""Request and answer bodies that only the HTTP API uses (shared documents live in services.contract.schemas)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, NoDefault
from pydantic_core import core_schema

from services.contract.schemas import ErrorBody, JobLinks

JOB_ID_EXAMPLE = "3f9c2b7e4a1d4c0e9b8a7f6e5d4c3b2a"
LINKS_EXAMPLE = {
    "self": f"http://127.0.0.1:8000/v1/jobs/{JOB_ID_EXAMPLE}",
    "image": f"http://127.0.0.1:8000/v1/jobs/{JOB_ID_EXAMPLE}/image",
    "original": f"http://127.0.0.1:8000/v1/jobs/{JOB_ID_EXAMPLE}/original",
}


class SubmissionOptions(BaseModel):
    """What a submission may ask for besides the photo: each field declared here once, for both bodies.

    The job record keeps each under the same name (``record_fields``).
    """

    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Manipulated at or above this probability; default 0.5."
    )
    callback_url: str | None = Field(None, max_length=2048, description="Receives the job document when it ends.")
    include_landmarks: bool = Field(False, description="Keep mesh landmarks in the result.")
    delete_after_s: int | None = Field(
        None,
        gt=0,
        description="Delete the job and its photos this many seconds after submission; "
        "at most the service's retention (longer asks are shortened to it).",
    )

    def record_fields(self, default_threshold: float) -> dict[str, Any]:
        """The options as job record fields: the default threshold unless one was asked, unset ones left out."""
        asked = self.model_dump(include=set(SubmissionOptions.model_fields), exclude_none=True)
        return {"threshold": default_threshold, **asked}


class SubmitByUrl(SubmissionOptions):
    """JSON body of ``POST /v1/jobs`` for a photo on the web."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://example.com/photos/press.jpg",
                    "threshold": 0.6,
                    "callback_url": "https://hooks.example.com/fakeweb",
                }
            ]
        },
    )
    source: ClassVar[Literal["url"]] = "url"

    url: str = Field(max_length=2048, description="http(s) URL of a JPEG, PNG or WebP photo.")


class SubmitByUpload(SubmissionOptions):
    """Multipart form of ``POST /v1/jobs`` with the photo itself; other form fields are ignored."""

    source: ClassVar[Literal["upload"]] = "upload"

    image: bytes = Field(repr=False, description="JPEG, PNG or WebP photo, or an MP4, MOV or WebM video.")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """A form sends only text: spaces around a value are not part of it, and a blank field is one not sent."""
        if not isinstance(data, dict):
            return data
        text = {name: value.strip() if isinstance(value, str) else value for name, value in data.items()}
        return {name: value for name, value in text.items() if value != ""}


# What the gateway works on: one of the two bodies, told apart by ``source``.
Submission = SubmitByUpload | SubmitByUrl


class FormJsonSchema(GenerateJsonSchema):
    """JSON schema of a form: a field is sent or left out, never null, so optional fields are not nullable."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        default = super().get_default_value(schema)
        return NoDefault if default is None else default


class SubmitAccepted(BaseModel):
    """Answer to a submission."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": JOB_ID_EXAMPLE, "status": "queued", "links": LINKS_EXAMPLE}]}
    )

    id: str
    status: str = Field(description="queued, or completed/no_face when a cached result was reused.")
    links: JobLinks


class JobSummary(BaseModel):
    """One job in ``GET /v1/jobs``."""

    id: str
    status: str
    stage: str | None = None
    created_at: float
    updated_at: float
    threshold: float
    progress: dict[str, int] = Field(default_factory=dict)
    error: ErrorBody | None = None
    cached: bool = False
    media: str = "photo"
    links: JobLinks


# One ended job as the list shows it; the job document's example adds its faces and timings.
JOB_SUMMARY_EXAMPLE = {
    "id": JOB_ID_EXAMPLE,
    "status": "completed",
    "stage": None,
    "created_at": 1790000000.0,
    "updated_at": 1790000002.5,
    "threshold": 0.5,
    "progress": {"faces_total": 2, "faces_judgeable": 1, "faces_scored": 1, "faces_annotated": 2},
    "error": None,
    "cached": False,
    "links": LINKS_EXAMPLE,
}


class JobList(BaseModel):
    """A page of the caller's jobs, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "jobs": [JOB_SUMMARY_EXAMPLE],
                    "next_cursor": "MTc5MDAwMDAwMC4wOjNmOWM",
                }
            ]
        }
    )

    jobs: list[JobSummary]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")
