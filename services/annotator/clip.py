"""A video job's result: one verdict per track, the poster frame and the annotated clip.

A track's probability is made from the scores of its judgeable frames by the job's rule
(``FAKEWEB_VIDEO_AGGREGATION``, written into the result as ``video.aggregation``):

- ``mean``: the mean of the frame probabilities.
- ``confident``: the rule of the DFDC challenge's winning entry (Seferbekov, 2020): when more
  than 11 frames, and more than a 2.5th of them, score above 0.8, the mean of those; else when more
  than 90% score below 0.2, the mean of those; else the mean of all. A few confidently fake
  frames then outweigh many unsure ones.

A track scored in fewer than ``FAKEWEB_VIDEO_MIN_TRACK_FRAMES`` frames has no verdict
(``unjudgeable``, reason ``too_few_frames``). The clip is drawn frame by frame as a photo is
(``result.annotate_photo``), each face with its track's verdict and probability.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.annotator.result import AnnotateOptions, Annotation, ScoreMissing, annotate_photo
from services.contract.schemas import (
    DetectedFace,
    DetectionResult,
    JobResult,
    ModelRef,
    TrackPoint,
    TrackResult,
    UnjudgeableReason,
    Verdict,
    VideoSummary,
)
from services.contract.video import VideoLimits
from services.contract.video_codec import DecodedVideo, encode_h264

CONFIDENT_P = 0.8
CONFIDENT_MIN_FRAMES = 11
CONFIDENT_SHARE = 2.5
REAL_P = 0.2
REAL_SHARE = 0.9


@dataclass(frozen=True)
class VideoOptions:
    """How tracks are judged, on top of the photo's drawing options."""

    photo: AnnotateOptions
    aggregation: str
    min_track_frames: int


@dataclass
class VideoAnnotation:
    """The annotated clip (MP4 bytes), the annotated poster frame and the result document."""

    clip: bytes
    poster: np.ndarray
    result: JobResult


def aggregate(probabilities: list[float], rule: str) -> float:
    """One probability for a track from its frames' probabilities (``mean`` or ``confident``)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if rule == "confident":
        fakes = p[p > CONFIDENT_P]
        if len(fakes) > CONFIDENT_MIN_FRAMES and len(fakes) > len(p) // CONFIDENT_SHARE:
            return float(fakes.mean())
        reals = p[p < REAL_P]
        if len(reals) > REAL_SHARE * len(p):
            return float(reals.mean())
    return float(p.mean())


def judge_tracks(
    detection: DetectionResult, scores: dict[int, dict[str, Any]], options: VideoOptions
) -> list[TrackResult]:
    """One TrackResult per track, in track order, with its timeline; ScoreMissing if a judgeable face has no score."""
    times = {frame.index: frame.time_s for frame in detection.video.frames} if detection.video else {}
    by_track: dict[int, list[DetectedFace]] = {}
    for face in detection.faces:
        by_track.setdefault(face.track or 0, []).append(face)
    tracks: list[TrackResult] = []
    for number in sorted(by_track):
        timeline: list[TrackPoint] = []
        scored: list[float] = []
        model: dict[str, Any] | None = None
        for face in by_track[number]:
            p = None
            if face.unjudgeable_reason is None:
                score = scores.get(face.index)
                if score is None:
                    raise ScoreMissing(f"face {face.index} has no score")
                p = float(score["p"])
                scored.append(p)
                model = model or score.get("model")
            frame = face.frame or 0
            timeline.append(
                TrackPoint(
                    frame=frame,
                    time_s=times.get(frame, 0.0),
                    box=face.box,
                    manipulated_probability=p,
                    reason=face.unjudgeable_reason,
                )
            )
        common = {
            "track": number,
            "frames_seen": len(timeline),
            "frames_scored": len(scored),
            "first_s": timeline[0].time_s,
            "last_s": timeline[-1].time_s,
            "model": ModelRef(**model) if model else None,
            "timeline": timeline,
        }
        if len(scored) < options.min_track_frames:
            tracks.append(TrackResult(**common, verdict=Verdict.UNJUDGEABLE, reason=UnjudgeableReason.TOO_FEW_FRAMES))
            continue
        p = round(aggregate(scored, options.aggregation), 6)
        verdict = Verdict.MANIPULATED if p >= options.photo.threshold else Verdict.GENUINE
        tracks.append(TrackResult(**common, verdict=verdict, manipulated_probability=p))
    return tracks


def poster_frame(tracks: list[TrackResult], detection: DetectionResult) -> int:
    """The frame where the most manipulated track scores highest; without a judged track, the one with most faces."""
    judged = [track for track in tracks if track.manipulated_probability is not None]
    if judged:
        top = max(judged, key=lambda track: (track.manipulated_probability or 0.0, -track.track))
        best = max(
            (point for point in top.timeline if point.manipulated_probability is not None),
            key=lambda point: (point.manipulated_probability or 0.0, -point.frame),
        )
        return best.frame
    counts: dict[int, int] = {}
    for face in detection.faces:
        counts[face.frame or 0] = counts.get(face.frame or 0, 0) + 1
    return max(sorted(counts), key=lambda frame: counts[frame]) if counts else 0


def _frame_detection(
    detection: DetectionResult, faces: list[DetectedFace], tracks: dict[int, TrackResult]
) -> tuple[DetectionResult, dict[int, dict[str, Any]]]:
    """A frame as a photo to draw: its faces, each scored with its track's probability (or unjudgeable)."""
    drawn: list[DetectedFace] = []
    scores: dict[int, dict[str, Any]] = {}
    for face in faces:
        track = tracks[face.track or 0]
        if face.unjudgeable_reason is None and track.manipulated_probability is None:
            face = face.model_copy(update={"unjudgeable_reason": track.reason, "crop_key": None})
        elif face.unjudgeable_reason is None:
            model = track.model.model_dump() if track.model else None
            scores[face.index] = {"p": track.manipulated_probability, "model": model}
        drawn.append(face)
    frame = detection.model_copy(update={"faces": drawn, "video": None})
    return frame, scores


def annotate_video(
    data: bytes,
    detection: DetectionResult,
    scores: dict[int, dict[str, Any]],
    options: VideoOptions,
    limits: VideoLimits,
) -> VideoAnnotation:
    """Judge the tracks, draw every analysed frame, encode the clip and keep the poster frame's annotation."""
    video_info = detection.video
    if video_info is None:
        raise ValueError("not a video detection")
    tracks = judge_tracks(detection, scores, options)
    poster_index = poster_frame(tracks, detection)
    by_number = {track.track: track for track in tracks}
    by_frame: dict[int, list[DetectedFace]] = {}
    for face in detection.faces:
        by_frame.setdefault(face.frame or 0, []).append(face)
    poster: list[Annotation] = []

    def drawn_frames(video: DecodedVideo) -> Iterator[np.ndarray]:
        for sampled in video.frames_at([frame.target_s for frame in video_info.frames]):
            frame, frame_scores = _frame_detection(detection, by_frame.get(sampled.sample, []), by_number)
            annotation = annotate_photo(sampled.rgb, frame, frame_scores, options.photo)
            if sampled.sample == poster_index:
                poster.append(annotation)
            yield annotation.image

    with DecodedVideo(data, limits) as video:
        clip = encode_h264(drawn_frames(video), video_info.sample_fps, video.width, video.height)
    if not poster:
        raise ValueError(f"the poster frame {poster_index} was not decoded again")
    result = JobResult(
        width=detection.width,
        height=detection.height,
        threshold=options.photo.threshold,
        faces=poster[0].result.faces,
        media="video",
        tracks=tracks,
        video=VideoSummary(
            duration_s=video_info.duration_s,
            sample_fps=video_info.sample_fps,
            frames_analysed=len(video_info.frames),
            aggregation=options.aggregation,
            poster_frame=poster_index,
        ),
    )
    return VideoAnnotation(clip=clip, poster=poster[0].image, result=result)
