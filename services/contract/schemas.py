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
    TOO_FEW_FRAMES = "too_few_frames"  # a video track scored in fewer frames than a verdict needs


class DetectedFace(BaseModel):
    """One face as the detector stores it in ``faces.json``."""

    index: int
    box: list[int] = Field(description="[x, y, w, h] in original-image pixels (EXIF orientation applied).")
    detector_score: float
    keypoints: list[list[float]] = Field(default_factory=list, description="Detector keypoints [[x, y], ...].")
    crop_key: str | None = Field(None, description="S3 key of the crop; None when the face is unjudgeable.")
    unjudgeable_reason: UnjudgeableReason | None = None
    chunk: int | None = Field(None, description="Classify chunk that scores this face.")
    frame: int | None = Field(None, description="Video only: the sampled frame the face is in.")
    track: int | None = Field(None, description="Video only: the track (person) the face belongs to.")


class SampledFrameInfo(BaseModel):
    """One analysed frame of a video: the time it was sampled for and the time of the frame found."""

    index: int
    target_s: float
    time_s: float


class VideoDetection(BaseModel):
    """What the detector read of a video: duration, sampling, the frames analysed and the tracks linked."""

    duration_s: float | None
    sample_fps: float
    frames: list[SampledFrameInfo]
    tracks: int


class DetectionResult(BaseModel):
    """Detector output for one photo or video (``faces.json``); ``video`` is set for a video."""

    width: int
    height: int
    engine: str
    crop_policy: str
    faces: list[DetectedFace]
    chunks: int
    video: VideoDetection | None = None


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


class TrackPoint(BaseModel):
    """One sighting of a tracked face: when, where, and its own score (or why it has none)."""

    frame: int = Field(description="Sampled frame number.")
    time_s: float = Field(description="Time in the clip (s).")
    box: list[int] = Field(description="[x, y, w, h] in frame pixels.")
    manipulated_probability: float | None = Field(None, ge=0.0, le=1.0)
    reason: UnjudgeableReason | None = None


class TrackResult(BaseModel):
    """One person seen in a video: the verdict over every frame the face was scored in."""

    track: int
    verdict: Verdict
    reason: UnjudgeableReason | None = Field(None, description="`too_few_frames` when too few frames were scored.")
    manipulated_probability: float | None = Field(None, ge=0.0, le=1.0, description="Aggregated over the track.")
    frames_seen: int
    frames_scored: int
    first_s: float
    last_s: float
    model: ModelRef | None = None
    timeline: list[TrackPoint]


class VideoSummary(BaseModel):
    """How a video was analysed."""

    duration_s: float | None
    sample_fps: float
    frames_analysed: int
    aggregation: str = Field(description="How frame scores make a track's probability: `mean` or `confident`.")
    poster_frame: int | None = Field(None, description="The sampled frame shown as the job's image.")


class JobResult(BaseModel):
    """The annotator's ``result.json``; a video's also has its tracks (``faces``: the poster frame's faces)."""

    width: int
    height: int
    threshold: float
    faces: list[FaceResult]
    media: str = "photo"
    tracks: list[TrackResult] | None = None
    video: VideoSummary | None = None


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
    video: str | None = Field(None, description="Video jobs: the annotated clip (H.264 MP4).")


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
    media: str = Field("photo", description="`photo` or `video`.")
    tracks: list[TrackResult] | None = Field(None, description="Video jobs, once ended: one entry per person.")
    video: VideoSummary | None = Field(None, description="Video jobs, once ended: how the clip was analysed.")
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
