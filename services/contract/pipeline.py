"""The pipeline, declared once: its stages in order, the task and queue of each, the worker that runs it.

A stage's worker ends its task with :func:`send_next` instead of naming the next task; the gateway
starts a job with :func:`send_first`. Celery's routes and queues (``tasks.make_celery``), the
stage names in the job record, ``/metrics`` and the local launcher are derived from
:data:`PIPELINE`; what cannot be derived (Compose, Kubernetes, supervisord, the web page and the
CLI) is checked against it by ``tests/deploy/test_pipeline_declared.py``. ``docs/architecture.md``
shows the table (:func:`markdown_table`) and the checklist for adding a stage.

How a stage receives its work (``per``):

- ``Per.JOB``: one task per job, ``task(job_id)``.
- ``Per.CHUNK``: one task per chunk of the previous stage's output,
  ``task(job_id, chunk, chunks=N, **payload)``. The sender passes one payload dict per chunk; with
  no chunks the stage is skipped. The stage counts its finished chunks in Redis (a Lua script in
  ``JobStore``, no Celery chord) and the call that finishes the last one sends the next stage.

This module imports nothing outside the standard library, so the launcher and the tests can read it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery


class Per(StrEnum):
    """How many tasks a stage gets for one job."""

    JOB = "job"
    CHUNK = "chunk"


@dataclass(frozen=True)
class StageSpec:
    """One stage of the pipeline. ``task``, ``queue`` and ``worker`` follow the convention unless given."""

    name: str  # the record's ``stage``, ``<name>_started``/``_finished``, the API's ``stage`` and ``timings``
    service: str  # the worker's program (supervisord), Compose service and Kubernetes Deployment
    per: Per
    does: str  # one line for docs/architecture.md
    task: str = ""  # Celery task name: ``fakeweb.<name>``
    queue: str = ""  # Celery queue, a Redis list of that name (KEDA scales on its length): ``<name>``
    worker: str = ""  # the Celery app module, ``celery -A <worker> worker -Q <queue>``: ``services.<service>.worker``

    def __post_init__(self) -> None:
        defaults = {"task": f"fakeweb.{self.name}", "queue": self.name, "worker": f"services.{self.service}.worker"}
        for field, value in defaults.items():
            if not getattr(self, field):
                object.__setattr__(self, field, value)

    @property
    def package(self) -> str:
        """The service package the worker lives in (``services.detector``)."""
        return self.worker.rsplit(".", 1)[0]


@dataclass(frozen=True)
class Consumer:
    """A Celery queue outside the pipeline's chain of stages and the worker that consumes it."""

    task: str
    queue: str
    service: str  # the local program (supervisord)
    worker: str
    per_job: str  # how many tasks a job gets, in words
    does: str
    deployed_as: str = ""  # the Compose service and Kubernetes Deployment: ``service`` unless given
    part_of: str = ""  # the stage whose work it shares out (the record shows that stage running); "" for none

    def __post_init__(self) -> None:
        if not self.deployed_as:
            object.__setattr__(self, "deployed_as", self.service)


PIPELINE: tuple[StageSpec, ...] = (
    StageSpec(
        "provenance",
        "provenance",
        Per.JOB,
        "read Content Credentials (C2PA) and the XMP source type of the original into the record",
    ),
    StageSpec("detect", "detector", Per.JOB, "find every face; store crops and faces.json; chunk the crops"),
    StageSpec("classify", "classifier", Per.CHUNK, "score a chunk of crops through TF Serving"),
    StageSpec("annotate", "annotator", Per.JOB, "draw meshes; store annotated.jpg and result.json; end the job"),
)

# A video's sampled frames, a chunk per task, spread over detector processes: queued by ``detect``
# for a video job, args [job_id, chunk], kwargs chunks=N, first=, stop= (sample numbers). The chunk
# that completes the count (``JobStore.record_frame_chunk``) links the tracks and sends classify, as
# ``detect`` does for a photo; photos never see this queue. A consumer rather than a stage of its
# own, so a photo's ``detect`` still hands straight to ``classify`` (docs/architecture.md).
DETECT_FRAMES = Consumer(
    task="fakeweb.detect_frames",
    queue="detect_frames",
    service="detector-frames",
    worker="services.detector.worker",
    per_job="one per chunk of a video's sampled frames, counted fan-in",
    does="find the faces in a chunk of sampled frames; the last chunk links tracks and sends classify",
    part_of="detect",
)
# Webhook delivery: queued once a job has ended (``tasks.notify_job_ended``), args [job_id]; not a stage.
WEBHOOK = Consumer(
    task="fakeweb.webhook",
    queue="webhook",
    service="webhook",
    worker="services.webhooks.worker",
    per_job="one per ended job with a `callback_url`",
    does="POST the signed job document, retrying with backoff",
    deployed_as="webhooks",
)
CONSUMERS: tuple[Consumer, ...] = (DETECT_FRAMES, WEBHOOK)

STAGE_NAMES: tuple[str, ...] = tuple(spec.name for spec in PIPELINE)
_BY_NAME = {spec.name: spec for spec in PIPELINE}
_BY_TASK = {spec.task: spec for spec in PIPELINE}


def stage(name: str) -> StageSpec:
    """The stage called ``name``; KeyError names the declared ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no pipeline stage {name!r}; declared: {', '.join(STAGE_NAMES)}") from None


def stage_of_task(task: str) -> StageSpec | None:
    """The stage a Celery task name belongs to, or None (not a stage)."""
    return _BY_TASK.get(task)


def next_stage(name: str) -> StageSpec | None:
    """The stage after ``name``; None after the last."""
    position = STAGE_NAMES.index(stage(name).name)
    return PIPELINE[position + 1] if position + 1 < len(PIPELINE) else None


def queue_names() -> tuple[str, ...]:
    """Every Celery queue: the stages' in pipeline order, then the other consumers'."""
    return (*(spec.queue for spec in PIPELINE), *(consumer.queue for consumer in CONSUMERS))


def task_routes() -> dict[str, dict[str, str]]:
    """Celery ``task_routes``: each task to its queue."""
    return {each.task: {"queue": each.queue} for each in (*PIPELINE, *CONSUMERS)}


def send(app: Celery, spec: StageSpec | Consumer, job_id: str, *args: Any, **kwargs: Any) -> None:
    """Queue one task of a stage or another consumer for a job."""
    app.send_task(spec.task, args=[job_id, *args], kwargs=kwargs or None, queue=spec.queue)


def send_first(app: Celery, job_id: str) -> StageSpec:
    """Queue the first stage of a new job."""
    first = PIPELINE[0]
    if first.per is not Per.JOB:
        raise TypeError(f"the first stage {first.name!r} must take one task per job")
    send(app, first, job_id)
    return first


def send_next(
    app: Celery, after: StageSpec, job_id: str, chunks: Sequence[Mapping[str, Any]] | None = None
) -> StageSpec | None:
    """Queue the stage that follows ``after``; return it, or None when ``after`` is the last stage.

    A per-chunk stage gets one task per entry of ``chunks`` (each entry its keyword payload, plus
    ``chunks=len(chunks)`` so the stage knows when its fan-in is complete); with no chunks it is
    skipped and the stage after it is queued instead. A per-job stage ignores ``chunks``.
    """
    following = next_stage(after.name)
    while following is not None and following.per is Per.CHUNK and not chunks:
        if chunks is None:
            raise TypeError(f"{after.name} must hand chunks to the per-chunk stage {following.name}")
        following = next_stage(following.name)
    if following is None:
        return None
    if following.per is Per.CHUNK:
        for index, payload in enumerate(chunks or ()):
            send(app, following, job_id, index, chunks=len(chunks or ()), **payload)
    else:
        send(app, following, job_id)
    return following


def markdown_table() -> str:
    """The declaration as the Markdown table docs/architecture.md shows (a test keeps them equal)."""
    lines = [
        "| # | stage | task | queue | worker (service) | tasks per job | what it does |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, spec in enumerate(PIPELINE, 1):
        per = "one" if spec.per is Per.JOB else "one per chunk, counted fan-in"
        lines.append(
            f"| {number} | `{spec.name}` | `{spec.task}` | `{spec.queue}` | `{spec.worker}` ({spec.service}) "
            f"| {per} | {spec.does} |"
        )
    for consumer in CONSUMERS:
        role = f"(part of `{consumer.part_of}`)" if consumer.part_of else "(not a stage)"
        lines.append(
            f"| - | {role} | `{consumer.task}` | `{consumer.queue}` | `{consumer.worker}` ({consumer.service}) "
            f"| {consumer.per_job} | {consumer.does} |"
        )
    return "\n".join(lines)
