"""The detector's work on a video: a plan of sampled frames, faces per chunk of frames, tracks, one ``faces.json``.

A video's ``detect`` task only plans (:func:`plan_video`): it reads the header, samples target
times evenly (``FAKEWEB_VIDEO_SAMPLE_FPS``, at most ``FAKEWEB_MAX_VIDEO_FRAMES``;
``services.contract.video.sample_times``) and cuts them into chunks of
``FAKEWEB_VIDEO_CHUNK_FRAMES``, one ``fakeweb.detect_frames`` task each, so a clip spreads over
every detector process that consumes that queue. Each chunk task (:func:`detect_chunk`) decodes
its own frames (seeking near its first target), searches them with the photo's code
(``faces.analyse_photo``: the photo's crop policy and judgeability rules), stores the crops and
then the chunk's detections (``frame_chunk_key``). A redelivered chunk finds its detections
stored and does not search again; a killed worker therefore redoes the one chunk it held. The
chunk that completes the fan-in (``JobStore.record_frame_chunk``) reads every chunk back, numbers
the faces across the clip, links them into tracks (``tracking.link_tracks``) and splits the
judgeable ones into classify chunks as a photo's are (:func:`link_clip`).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pydantic import BaseModel

from services.contract.crop_policy import CROP_POLICY
from services.contract.imaging import ImageRejected, encode_png
from services.contract.schemas import DetectedFace, DetectionResult, SampledFrameInfo, VideoDetection
from services.contract.settings import Settings
from services.contract.storage import ObjectNotFound, ObjectStore, frame_chunk_key, frame_crop_key
from services.contract.tasks import JobFailed
from services.contract.video import sample_times, video_limits
from services.contract.video_codec import DecodedVideo
from services.detector.faces import analyse_photo
from services.detector.tracking import link_tracks

log = logging.getLogger(__name__)
CROP_WRITERS = 4
CHUNK_READERS = 8
# The test-only delay hook's name for "after a chunk of frames is stored and counted" (services/runtime/testhooks.py).
CHUNK_HOOK = "detect-chunk"


class FrameFaces(BaseModel):
    """One sampled frame and the faces found in it."""

    frame: SampledFrameInfo
    faces: list[DetectedFace]


class FrameChunk(BaseModel):
    """What the detector stores per chunk of sampled frames (``frame_chunk_key``).

    The faces' ``index`` counts within the chunk (their crops are at ``frame_crop_key``); the
    clip-wide index is given when the chunks are linked.
    """

    frames: list[FrameFaces]
    width: int
    height: int
    detected_by: str = ""  # the process that searched the frames (``service@host:pid``)


@dataclass(frozen=True)
class VideoPlan:
    """What ``detect`` hands to the chunk tasks: the target times and how they are cut."""

    targets: list[float]
    duration_s: float | None
    width: int
    height: int
    chunk_frames: int

    def chunk_payloads(self, sample_fps: float) -> list[dict[str, object]]:
        """One ``detect_frames`` payload per chunk: its samples ``first`` to ``stop`` of ``targets``."""
        return [
            {
                "first": first,
                "stop": min(first + self.chunk_frames, len(self.targets)),
                "targets": self.targets,
                "duration_s": self.duration_s,
                "sample_fps": sample_fps,
            }
            for first in range(0, len(self.targets), self.chunk_frames)
        ]


def plan_video(data: bytes, settings: Settings) -> VideoPlan:
    """Sample target times from the header; bad input (no video track, over a limit) raises JobFailed."""
    try:
        with DecodedVideo(data, video_limits(settings)) as video:
            duration, width, height = video.duration_s, video.width, video.height
    except ImageRejected as exc:
        raise JobFailed(exc.code, exc.message) from exc
    # A clip that does not say how long it is gets the samples of the longest clip the frame cap covers.
    span = duration or settings.max_video_frames / settings.video_sample_fps
    targets = sample_times(span, settings.video_sample_fps, settings.max_video_frames)
    return VideoPlan(targets, duration, width, height, settings.video_chunk_frames)


def detect_chunk(
    data: bytes,
    job_id: str,
    chunk: int,
    targets: list[float],
    first: int,
    stop: int,
    settings: Settings,
    store: ObjectStore,
    worker: str,
) -> FrameChunk:
    """The faces of samples ``first`` to ``stop``; stored by an earlier delivery: read back, not searched again."""
    key = frame_chunk_key(job_id, chunk)
    try:
        return FrameChunk.model_validate(store.get_json(key))
    except ObjectNotFound:
        pass
    frames: list[FrameFaces] = []
    count = 0
    try:
        with (
            DecodedVideo(data, video_limits(settings)) as video,
            ThreadPoolExecutor(max_workers=CROP_WRITERS) as pool,  # S3 writes are I/O bound
        ):
            width, height = video.width, video.height
            writes = []
            for sampled in video.frames_at(targets, first, stop):
                output = analyse_photo(sampled.rgb, job_id, settings, first_index=count)
                for face in output.result.faces:
                    face.frame = sampled.sample
                    face.chunk = None  # set once the whole clip's judgeable faces are known
                    if face.crop_key is not None:
                        face.crop_key = frame_crop_key(job_id, chunk, face.index)
                        png = encode_png(output.crops[face.index])
                        writes.append(pool.submit(store.put_bytes, face.crop_key, png, "image/png"))
                info = SampledFrameInfo(index=sampled.sample, target_s=targets[sampled.sample], time_s=sampled.time_s)
                frames.append(FrameFaces(frame=info, faces=output.result.faces))
                count += len(output.result.faces)
            for write in writes:
                write.result()
    except ImageRejected as exc:
        raise JobFailed(exc.code, exc.message) from exc
    stored = FrameChunk(frames=frames, width=width, height=height, detected_by=worker)
    store.put_json(key, stored.model_dump(mode="json"))  # last: a stored chunk has all its crops
    return stored


def link_clip(
    job_id: str, chunks: int, duration_s: float | None, sample_fps: float, settings: Settings, store: ObjectStore
) -> DetectionResult:
    """Read every stored chunk, number the faces across the clip, link tracks and cut classify chunks."""
    with ThreadPoolExecutor(max_workers=CHUNK_READERS) as pool:  # S3 reads are I/O bound
        stored = list(pool.map(lambda chunk: _read_chunk(store, job_id, chunk), range(chunks)))
    frames = [frame for chunk in stored for frame in chunk.frames]
    if not frames:
        raise JobFailed("no_frames", "The video has no frame that can be decoded.")
    faces = [face for frame in frames for face in frame.faces]
    for index, face in enumerate(faces):
        face.index = index
    tracks = link_tracks([[tuple(face.box) for face in frame.faces] for frame in frames])
    for frame, numbers in zip(frames, tracks, strict=True):
        for face, number in zip(frame.faces, numbers, strict=True):
            face.track = number
    judgeable = [face for face in faces if face.crop_key is not None]
    for position, face in enumerate(judgeable):
        face.chunk = position // settings.classify_chunk_size
    return DetectionResult(
        width=stored[0].width,
        height=stored[0].height,
        engine=settings.detector_engine,
        crop_policy=CROP_POLICY.name,
        faces=faces,
        chunks=-(-len(judgeable) // settings.classify_chunk_size),
        video=VideoDetection(
            duration_s=duration_s,
            sample_fps=sample_fps,
            frames=[frame.frame for frame in frames],
            tracks=1 + max((n for numbers in tracks for n in numbers), default=-1),
        ),
    )


def _read_chunk(store: ObjectStore, job_id: str, chunk: int) -> FrameChunk:
    try:
        return FrameChunk.model_validate(store.get_json(frame_chunk_key(job_id, chunk)))
    except ObjectNotFound as exc:
        raise JobFailed("internal_error", f"detect: chunk {chunk} of the sampled frames is missing.") from exc
