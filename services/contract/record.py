"""The job record, typed: what the Redis hash ``fakeweb:job:{id}`` holds, and how it is written.

On the wire the record stays a flat hash of strings, field for field as earlier versions wrote
it: booleans ``"1"``/``"0"``, numbers and epoch seconds as decimal text, ``""`` for "not set",
per-stage times as ``<stage>_started``/``<stage>_finished``. :meth:`JobRecord.from_redis` reads
that (fields it does not know, written by another version, are ignored); :meth:`JobRecord.to_redis`
gives back only the fields set or changed since the record was made or read, so a writer never
overwrites what another process wrote meanwhile.

``updated_at`` and ``updated_by`` (which process) are stamped together by ``JobStore`` on every
write that moves the job (creation, stage start and finish, chunk scores, the end, a failure);
bookkeeping after the end (webhook delivery, cache entry) leaves both alone, because
``updated_at`` is the job's last progress: the sweeper's idle clock and ``/metrics``' job duration.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator

from services.contract.pipeline import STAGE_NAMES
from services.contract.provenance import Provenance

TIMING_SUFFIXES = {"started": "_started", "finished": "_finished"}
_FROM_REDIS = {"from": "redis"}


class JobStatus(StrEnum):
    """Life cycle of a job as the API reports it."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    NO_FACE = "no_face"


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.NO_FACE})
# Ended with a result (result.json and annotated.jpg exist).
RESULT_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.NO_FACE})


def _field(default: Any, writer: str, meaning: str) -> Any:
    return Field(default, description=meaning, json_schema_extra={"writer": writer})


class JobRecord(BaseModel):
    """One job's record. Assignments are validated; ``to_redis`` writes only what changed."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    # Ownership and life cycle.
    tenant: str = _field("", "gateway", "Tenant (API key owner) the job belongs to.")
    status: JobStatus = _field(
        JobStatus.QUEUED, "gateway; each stage; annotator (end); on failure: stage, sweeper, DELETE", "Life cycle."
    )
    stage: str | None = _field(None, "each stage (start); cleared at the end", "Stage running now.")
    reason: str | None = _field(None, "failing stage, sweeper, DELETE", "Error code of a failed job.")
    message: str | None = _field(None, "failing stage, sweeper, DELETE", "Error message of a failed job.")
    created_at: float = _field(0.0, "gateway", "Submission time (epoch s).")
    updated_at: float = _field(0.0, "every progress write", "Last progress (epoch s): the sweeper's idle clock.")
    updated_by: str = _field("", "every progress write", "Process of the last progress write (`service@host:pid`).")
    # The submission.
    threshold: float | None = _field(None, "gateway", "Probability at or above which a face is manipulated.")
    include_landmarks: bool = _field(False, "gateway", "Put mesh landmarks in the result.")
    source: Literal["upload", "url"] | None = _field(None, "gateway", "How the photo came.")
    sha256: str = _field("", "gateway", "SHA-256 of the photo bytes (result cache).")
    bytes: int | None = _field(None, "gateway", "Size of the photo.")
    media_type: str = _field("", "gateway", "Media type found by content.")
    width: int | None = _field(None, "gateway (header), detector (decoded)", "Photo width in pixels.")
    height: int | None = _field(None, "gateway (header), detector (decoded)", "Photo height in pixels.")
    media: Literal["photo", "video"] = _field("photo", "gateway", "What was submitted.")
    duration_s: float | None = _field(None, "gateway (header), detector (decoded)", "Video duration (s).")
    callback_url: str = _field("", "gateway", "Webhook URL, if any.")
    idempotency_key: str = _field("", "gateway", "Redis key of the Idempotency-Key claim (deleted with the job).")
    delete_after_s: int | None = _field(
        None, "gateway", "Asked retention (s after submission), at most `FAKEWEB_RETENTION_S`; unset: that setting."
    )
    # Result cache.
    model_spec: str = _field("", "gateway", "How the job was routed to a model (`fakeweb@stable`); empty: no cache.")
    cache_scope: str = _field("", "gateway", "Who may reuse the result (`tenant-<t>` or `shared`).")
    cache_ttl_s: int = _field(0, "gateway", "How long the result may be reused.")
    cached: bool = _field(False, "gateway (cache hit)", "Answered from an earlier job's result.")
    cached_from: str = _field("", "gateway (cache hit)", "The earlier job.")
    ended_at: float | None = _field(None, "gateway (cache hit)", "When a cache hit ended.")
    cache_key: str = _field("", "end-of-job notification", "The cache entry filed for this job's result.")
    # Progress.
    frames_total: int | None = _field(None, "detector (or cache hit)", "Video frames to analyse (sampled).")
    frames_detected: int | None = _field(
        None, "detector-frames (frame-chunk fan-in script, per chunk) (or cache hit)", "Video frames searched."
    )
    faces_total: int | None = _field(None, "detector (or cache hit)", "Faces found.")
    faces_judgeable: int | None = _field(None, "detector (or cache hit)", "Faces that can be scored.")
    chunks_total: int | None = _field(None, "detector (or cache hit)", "Classify chunks (fan-out).")
    chunks_done: int | None = _field(None, "classifier (fan-in script)", "Chunks scored.")
    faces_scored: int | None = _field(None, "classifier (fan-in script) (or cache hit)", "Faces scored.")
    faces_annotated: int | None = _field(None, "annotator (or cache hit)", "Faces in the result.")
    provenance: Provenance | None = _field(
        None, "provenance stage (or cache hit)", "Content Credentials and XMP source type of the original (JSON)."
    )
    started: dict[str, float] = Field(
        default_factory=dict,
        description="First start of each stage (epoch s), by stage name.",
        json_schema_extra={"writer": "each stage"},
    )
    finished: dict[str, float] = Field(
        default_factory=dict,
        description="End of each stage (epoch s), by stage name.",
        json_schema_extra={"writer": "each stage"},
    )
    # After the end.
    ended_notified: float | None = _field(None, "end-of-job notification", "When the cache entry and webhook went out.")
    webhook_status: Literal["pending", "delivered", "failed"] | None = _field(None, "webhook worker", "Delivery state.")
    webhook_attempts: int = _field(0, "webhook worker", "Delivery attempts so far.")
    webhook_last_http_status: int | None = _field(None, "webhook worker", "HTTP status of the last answer.")
    webhook_error: str = _field("", "webhook worker", "Why delivery failed.")

    _changed: set[str] = PrivateAttr(default_factory=set)

    def model_post_init(self, context: Any, /) -> None:
        """A record made in code writes the fields it was given; one read from Redis writes nothing back."""
        self._changed = set() if context is _FROM_REDIS else set(self.model_fields_set)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in type(self).model_fields:
            self._changed.add(name)

    @field_validator("stage")
    @classmethod
    def _declared_stage(cls, value: str | None, info: ValidationInfo) -> str | None:
        # What Redis holds may name a stage of another version (a rolling update): read it as it is.
        if value is not None and value not in STAGE_NAMES and info.context != _FROM_REDIS:
            raise ValueError(f"not a pipeline stage: {value!r}")
        return value

    @field_validator("provenance", mode="before")
    @classmethod
    def _provenance_json(cls, value: Any) -> Any:
        # On the wire a JSON object; a reader of another version may not know every key: ignore those.
        if isinstance(value, str):
            return Provenance.model_validate_json(value)
        return value

    @field_validator("started", "finished")
    @classmethod
    def _declared_stages(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(STAGE_NAMES)
        if unknown:
            raise ValueError(f"not pipeline stages: {sorted(unknown)}")
        return value

    @classmethod
    def from_redis(cls, mapping: Mapping[str, str]) -> JobRecord:
        """The record a hash holds; ``""`` means unset; fields of other versions are ignored."""
        data: dict[str, Any] = {"started": {}, "finished": {}}
        for key, value in mapping.items():
            if value == "":
                continue
            timing = _TIMING_KEYS.get(key)
            if timing is not None:
                data[timing[0]][timing[1]] = value
            elif key in _PLAIN_FIELDS:
                data[key] = value
        return cls.model_validate(data, context=_FROM_REDIS)

    @classmethod
    def wire_names(cls, fields: list[str]) -> list[str]:
        """The hash fields that hold these record fields (``started``: every stage's ``<stage>_started``)."""
        names: list[str] = []
        for field in dict.fromkeys(fields):
            if field not in cls.model_fields:
                raise AttributeError(f"JobRecord has no field {field!r}")
            suffix = TIMING_SUFFIXES.get(field)
            names += [f"{stage}{suffix}" for stage in STAGE_NAMES] if suffix else [field]
        return names

    def to_redis(self) -> dict[str, str]:
        """The hash fields to write: those set or changed since the record was made or read."""
        fields: dict[str, str] = {}
        for name in type(self).model_fields:
            if name not in self._changed:
                continue
            value = getattr(self, name)
            if name in TIMING_SUFFIXES:
                fields.update({f"{stage}{TIMING_SUFFIXES[name]}": wire_text(at) for stage, at in value.items()})
            else:
                fields[name] = wire_text(value)
        return fields

    def touch(self, *names: str) -> None:
        """Write these fields too, even where they still hold their defaults."""
        unknown = set(names) - set(type(self).model_fields)
        if unknown:
            raise AttributeError(f"JobRecord has no fields {sorted(unknown)}")
        self._changed.update(names)

    @property
    def is_final(self) -> bool:
        """True once the job has ended (completed, failed or no_face)."""
        return self.status in FINAL_STATUSES

    @property
    def has_result(self) -> bool:
        """True if the job ended with a stored result."""
        return self.status in RESULT_STATUSES


# Hash field -> (record field, stage) for the per-stage times; the other record fields by name.
_TIMING_KEYS = {
    f"{stage}{suffix}": (field, stage) for field, suffix in TIMING_SUFFIXES.items() for stage in STAGE_NAMES
}
_PLAIN_FIELDS = frozenset(JobRecord.model_fields) - set(TIMING_SUFFIXES)


def wire_text(value: Any) -> str:
    """One value as the hash stores it."""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, BaseModel):
        return value.model_dump_json(exclude_defaults=True)
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    return str(value)


def record_table_markdown() -> str:
    """The record's fields as the Markdown table docs/architecture.md shows (a test keeps them equal)."""
    lines = ["| field | type | default | written by | meaning |", "|---|---|---|---|---|"]
    for name, info in JobRecord.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        wire = f"`<stage>{TIMING_SUFFIXES[name]}`" if name in TIMING_SUFFIXES else f"`{name}`"
        default = "-" if info.default_factory is not None else _default_text(info.default)
        lines.append(f"| {wire} | {_type_text(info.annotation)} | {default} | {extra['writer']} | {info.description} |")
    return "\n".join(lines)


def _type_text(annotation: Any) -> str:
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    origin = get_origin(annotation)
    if origin is Literal:
        return " / ".join(f"`{arg}`" for arg in args)
    if origin is dict:
        return "float per stage"
    if origin in (Union, UnionType) and len(args) == 1:
        return _type_text(args[0])
    return annotation.__name__


def _default_text(default: Any) -> str:
    if default is None:
        return "unset"
    if isinstance(default, Enum):
        return f"`{default.value}`"
    return f"`{default!r}`" if not isinstance(default, str) or default else '`""`'
