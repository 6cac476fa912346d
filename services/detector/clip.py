"""The detector's work on a video: sampled frames in chunks, faces per frame, tracks, one ``faces.json``.

Frames are sampled evenly (``FAKEWEB_VIDEO_SAMPLE_FPS``, at most ``FAKEWEB_MAX_VIDEO_FRAMES``;
``services.contract.video.sample_times``) and searched for faces by the same code as a photo
(``faces.analyse_photo``), so the crop policy, the judgeability rules and the crop keys are the
photo's. Every ``FAKEWEB_VIDEO_CHUNK_FRAMES`` frames the chunk's crops and then its detections
(``frame_chunk_key``) are stored; a redelivered task finds the stored chunks, skips their
detection and carries on with the first chunk that was not finished, so a killed worker redoes
at most one chunk. Once every frame is searched the faces are linked into tracks
(``tracking.link_tracks``) and the judgeable ones are split into classify chunks as a photo's are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

from pydantic import BaseModel

from services.contract.crop_policy import CROP_POLICY
from services.contract.imaging import ImageRejected, encode_png
from services.contract.jobs import JobStore
from services.contract.schemas import DetectedFace, DetectionResult, SampledFrameInfo, VideoDetection
from services.contract.settings import Settings
from services.contract.storage import ObjectNotFound, ObjectStore, frame_chunk_key
from services.contract.tasks import JobFailed
from services.contract.video import sample_times, video_limits
from services.contract.video_codec import DecodedVideo, SampledFrame
from services.detector.faces import analyse_photo
from services.detector.tracking import link_tracks
from services.runtime.testhooks import sleep_if_asked

log = logging.getLogger(__name__)
CROP_WRITERS = 4
# The test-only delay hook's name for "after a chunk of frames is stored" (services/runtime/testhooks.py).
CHUNK_HOOK = "detect-chunk"


class FrameFaces(BaseModel):
    """One sampled frame and the faces found in it."""

    frame: SampledFrameInfo
    faces: list[DetectedFace]


class FrameChunk(BaseModel):
    """What the detector stores per chunk of sampled frames (``frame_chunk_key``)."""

    frames: list[FrameFaces]


def analyse_video(data: bytes, job_id: str, settings: Settings, store: ObjectStore, jobs: JobStore) -> DetectionResult:
    """Search the sampled frames of a video for faces, chunk by chunk, and link them into tracks.

    Bad input (no video track, over a limit, undecodable) raises JobFailed with the error's code.
    """
    try:
        with DecodedVideo(data, video_limits(settings)) as video:
            duration = video.duration_s
            # A clip that does not say how long it is gets the samples of the longest clip the frame cap covers.
            span = duration or settings.max_video_frames / settings.video_sample_fps
            targets = sample_times(span, settings.video_sample_fps, settings.max_video_frames)
            jobs.update(job_id, frames_total=len(targets), duration_s=duration, width=video.width, height=video.height)
            frames = _detect_in_chunks(video.frames_at(targets), targets, job_id, settings, store, jobs)
            width, height = video.width, video.height
    except ImageRejected as exc:
        raise JobFailed(exc.code, exc.message) from exc
    if not frames:
        raise JobFailed("no_frames", "The video has no frame that can be decoded.")
    faces = [face for frame in frames for face in frame.faces]
    tracks = link_tracks([[tuple(face.box) for face in frame.faces] for frame in frames])
    for frame, numbers in zip(frames, tracks, strict=True):
        for face, number in zip(frame.faces, numbers, strict=True):
            face.track = number
    judgeable = [face for face in faces if face.crop_key is not None]
    for position, face in enumerate(judgeable):
        face.chunk = position // settings.classify_chunk_size
    return DetectionResult(
        width=width,
        height=height,
        engine=settings.detector_engine,
        crop_policy=CROP_POLICY.name,
        faces=faces,
        chunks=-(-len(judgeable) // settings.classify_chunk_size),
        video=VideoDetection(
            duration_s=duration,
            sample_fps=settings.video_sample_fps,
            frames=[frame.frame for frame in frames],
            tracks=1 + max((n for numbers in tracks for n in numbers), default=-1),
        ),
    )


def _detect_in_chunks(
    sampled: Iterator[SampledFrame],
    targets: list[float],
    job_id: str,
    settings: Settings,
    store: ObjectStore,
    jobs: JobStore,
) -> list[FrameFaces]:
    """Every sampled frame with its faces; a chunk stored by an earlier delivery is read back, not redone."""
    done: list[FrameFaces] = []
    chunk = 0
    while batch := list(islice(sampled, settings.video_chunk_frames)):
        key = frame_chunk_key(job_id, chunk)
        try:
            stored = FrameChunk.model_validate(store.get_json(key))
        except ObjectNotFound:
            stored = _detect_chunk(batch, targets, job_id, settings, store, sum(len(f.faces) for f in done))
            store.put_json(key, stored.model_dump(mode="json"))
        done += stored.frames
        jobs.update(job_id, frames_detected=len(done))
        sleep_if_asked(jobs.redis, CHUNK_HOOK)  # tests only: hold the task between two stored chunks
        chunk += 1
    return done


def _detect_chunk(
    batch: list[SampledFrame], targets: list[float], job_id: str, settings: Settings, store: ObjectStore, first: int
) -> FrameChunk:
    """Faces of a chunk's frames, their crops stored; face indexes continue from ``first``."""
    frames: list[FrameFaces] = []
    with ThreadPoolExecutor(max_workers=CROP_WRITERS) as pool:  # S3 writes are I/O bound
        writes = []
        for sampled in batch:
            output = analyse_photo(sampled.rgb, job_id, settings, first_index=first)
            for face in output.result.faces:
                face.frame = sampled.sample
                face.chunk = None  # set once the whole clip's judgeable faces are known
                if face.crop_key is not None:
                    png = encode_png(output.crops[face.index])
                    writes.append(pool.submit(store.put_bytes, face.crop_key, png, "image/png"))
            info = SampledFrameInfo(index=sampled.sample, target_s=targets[sampled.sample], time_s=sampled.time_s)
            frames.append(FrameFaces(frame=info, faces=output.result.faces))
            first += len(output.result.faces)
        for write in writes:
            write.result()
    return FrameChunk(frames=frames)
