"""Track verdicts: aggregation rules, too few frames, the poster frame (no decoder needed)."""

from __future__ import annotations

import pytest

from services.annotator.clip import VideoOptions, aggregate, judge_tracks, poster_frame
from services.annotator.result import AnnotateOptions, ScoreMissing
from services.contract.schemas import DetectedFace, DetectionResult, SampledFrameInfo, VideoDetection

OPTIONS = VideoOptions(photo=AnnotateOptions(threshold=0.5), aggregation="mean", min_track_frames=2)
MODEL = {"name": "fakeweb", "version": 3}


def detection(tracks: dict[int, list[int | None]]) -> tuple[DetectionResult, dict[int, dict]]:
    """Faces per track, one per frame: the score (a percentage) or None for an unjudgeable face."""
    faces, scores = [], {}
    frames = max(len(points) for points in tracks.values())
    for number, points in tracks.items():
        for frame, percent in enumerate(points):
            index = len(faces)
            judgeable = percent is not None
            faces.append(
                DetectedFace(
                    index=index,
                    box=[10 + 200 * number, 10, 50, 50],
                    detector_score=0.9,
                    crop_key=f"jobs/j/faces/{index:04d}.png" if judgeable else None,
                    unjudgeable_reason=None if judgeable else "too_blurry",
                    frame=frame,
                    track=number,
                )
            )
            if judgeable:
                scores[index] = {"p": percent / 100, "model": MODEL}
    video = VideoDetection(
        duration_s=frames / 2,
        sample_fps=2.0,
        frames=[SampledFrameInfo(index=i, target_s=0.25 + i / 2, time_s=0.24 + i / 2) for i in range(frames)],
        tracks=len(tracks),
    )
    return DetectionResult(
        width=640, height=480, engine="blazeface", crop_policy="p", faces=faces, chunks=1, video=video
    ), scores


def test_mean_rule_averages_the_scored_frames_and_keeps_each_frame_in_the_timeline():
    result, scores = detection({0: [20, 40, None, 60], 1: [90, 70, 80, 100]})
    genuine, fake = judge_tracks(result, scores, OPTIONS)
    assert (genuine.verdict, genuine.manipulated_probability) == ("genuine", pytest.approx(0.4))
    assert (genuine.frames_seen, genuine.frames_scored) == (4, 3)
    assert genuine.timeline[2].reason == "too_blurry" and genuine.timeline[2].manipulated_probability is None
    assert (genuine.first_s, genuine.last_s) == (0.24, 1.74)
    assert (fake.verdict, fake.manipulated_probability, fake.model.version) == ("manipulated", pytest.approx(0.85), 3)


def test_a_track_scored_in_too_few_frames_has_no_verdict():
    result, scores = detection({0: [None, 95, None]})
    (track,) = judge_tracks(result, scores, OPTIONS)
    assert (track.verdict, track.reason, track.manipulated_probability) == ("unjudgeable", "too_few_frames", None)


def test_confident_rule_lets_many_confident_fake_frames_outweigh_unsure_ones():
    frames = [0.95] * 12 + [0.3] * 8
    assert aggregate(frames, "mean") == pytest.approx(0.69)
    assert aggregate(frames, "confident") == pytest.approx(0.95)
    # Mostly confidently real: the mean of those.
    assert aggregate([0.1] * 19 + [0.9], "confident") == pytest.approx(0.1)
    # Neither: the plain mean.
    assert aggregate([0.9] * 5 + [0.4] * 5, "confident") == pytest.approx(0.65)


def test_poster_is_the_top_frame_of_the_most_manipulated_track():
    result, scores = detection({0: [20, 30, 40], 1: [60, 99, 70]})
    assert poster_frame(judge_tracks(result, scores, OPTIONS), result) == 1


def test_a_judgeable_face_without_a_score_is_an_error_not_a_guess():
    result, scores = detection({0: [20, 30]})
    del scores[1]
    with pytest.raises(ScoreMissing):
        judge_tracks(result, scores, OPTIONS)
