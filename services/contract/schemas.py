"""Documents exchanged between stages (via S3) and returned by the API."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from services.contract.provenance import Provenance


class Verdict(StrEnum):
    """What FakeWeb concludes about one face."""

    MANIPULATED = "manipulated"
    GENUINE = "genuine"
    UNJUDGEABLE = "unjudgeable"


class UnjudgeableReason(StrEnum):
    """Why a face was not scored."""

    TOO_SMALL = "too_small"
    TOO_BLURRY = "too_blurry"
    CUT_OFF = "cut_off"


class DetectedFace(BaseModel):
    """One face as the detector stores it in ``faces.json``."""

    index: int
    box: list[int] = Field(description="[x, y, w, h] in original-image pixels (EXIF orientation applied).")
    detector_score: float
    keypoints: list[list[float]] = Field(default_factory=list, description="Detector keypoints [[x, y], ...].")
    crop_key: str | None = Field(None, description="S3 key of the crop; None when the face is unjudgeable.")
    unjudgeable_reason: UnjudgeableReason | None = None
    chunk: int | None = Field(None, description="Classify chunk that scores this face.")


class DetectionResult(BaseModel):
    """Detector output for one photo (``faces.json``)."""

    width: int
    height: int
    engine: str
    crop_policy: str
    faces: list[DetectedFace]
    chunks: int


class ModelRef(BaseModel):
    """The served model version that scored a face."""

    name: str
    version: int


class FaceResult(BaseModel):
    """One face in the final result."""

    index: int
    box: list[int] = Field(description="[x, y, w, h] in original-image pixels.")
    detector_score: float
    manipulated_probability: float | None = Field(None, ge=0.0, le=1.0)
    verdict: Verdict
    reason: UnjudgeableReason | None = None
    model: ModelRef | None = None
    mesh: bool = Field(False, description="True if a face mesh was drawn over this face.")
    mesh_note: str | None = Field(None, description="Why no mesh was drawn when one was due.")
    landmarks: list[list[float]] | None = Field(None, description="Mesh landmarks [[x, y], ...] in image pixels.")


class JobResult(BaseModel):
    """The annotator's ``result.json``."""

    width: int
    height: int
    threshold: float
    faces: list[FaceResult]


class ErrorBody(BaseModel):
    """Error ``{code, message}`` in every 4xx/5xx body and in failed jobs."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Body of every error answer."""

    error: ErrorBody


class JobLinks(BaseModel):
    """Where to find the job and its outputs."""

    self: str
    image: str
    original: str | None = Field(None, description="The photo as submitted.")


class StageTiming(BaseModel):
    """Start/finish of one stage (epoch seconds) and its duration."""

    started_at: float | None = None
    finished_at: float | None = None
    seconds: float | None = None


class WebhookState(BaseModel):
    """Delivery of the job's ``callback_url`` notification."""

    status: str = Field(description="pending, delivered or failed.")
    attempts: int = 0
    last_http_status: int | None = Field(None, description="HTTP status of the last attempt, if one was answered.")


class JobDocument(BaseModel):
    """What ``GET /v1/jobs/{id}`` returns."""

    id: str
    status: str = Field(description="queued, running, completed, failed or no_face.")
    stage: str | None = Field(None, description="Current stage while running: provenance, detect, classify, annotate.")
    created_at: float
    updated_at: float
    threshold: float
    progress: dict[str, int] = Field(default_factory=dict)
    timings: dict[str, StageTiming] = Field(default_factory=dict)
    error: ErrorBody | None = None
    faces: list[FaceResult] | None = None
    links: JobLinks
    cached: bool = Field(False, description="True if the result was reused from an identical earlier photo.")
    webhook: WebhookState | None = Field(None, description="Present when the job has a `callback_url`.")
    provenance: Provenance = Field(
        default_factory=Provenance,
        description="Content Credentials (C2PA) and IPTC/XMP source type of the file as sent; never changes a verdict.",
    )
    summary: str = Field(
        "",
        description="Plain words on the result: what the file's credentials declare, and where they disagree "
        "with the faces' verdicts.",
    )
