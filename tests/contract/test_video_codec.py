"""Decoding sampled frames by chunks: any range of samples gets the frames a whole-clip decode gives it."""

from __future__ import annotations

import numpy as np
import pytest

from services.contract.video import VideoLimits, sample_times
from services.contract.video_codec import DecodedVideo
from tests.support.videos import encode_clip

LIMITS = VideoLimits(max_bytes=10_000_000, max_duration_s=600.0, max_pixels=3840 * 2160)


def _numbered_clip(seconds: float, fps: int, keyframe_every: int, container: str = "mp4") -> bytes:
    """Frames whose brightness tells their number (4 grey levels apart, so coding noise cannot blur them)."""
    count = round(seconds * fps)
    frames = [np.full((64, 96, 3), 8 + 4 * (number % 60), dtype=np.uint8) for number in range(count)]
    codec = "libvpx" if container == "webm" else "libx264"
    return encode_clip(frames, fps, container=container, codec=codec, keyframe_every=keyframe_every)


def _samples(data: bytes, targets: list[float], first: int = 0, stop: int | None = None) -> list[tuple]:
    with DecodedVideo(data, LIMITS) as video:
        return [
            (frame.sample, frame.time_s, int(frame.rgb.mean().round()))
            for frame in video.frames_at(targets, first, stop)
        ]


@pytest.mark.parametrize(
    ("seconds", "fps", "sample_fps", "keyframe_every", "container"),
    [
        (6.0, 25, 2.0, 12, "mp4"),  # keyframes every half second: chunks seek
        (6.0, 25, 2.0, 0, "mp4"),  # one keyframe: every chunk decodes from the start
        (8.0, 1, 2.0, 3, "mp4"),  # fewer frames than samples: frames shared by two targets
        (4.0, 10, 3.0, 5, "webm"),
    ],
)
def test_chunks_of_samples_get_the_frames_the_whole_clip_gives(seconds, fps, sample_fps, keyframe_every, container):
    data = _numbered_clip(seconds, fps, keyframe_every, container)
    targets = sample_times(seconds, sample_fps, 240)
    whole = _samples(data, targets)
    assert whole and [sample for sample, _, _ in whole] == sorted({sample for sample, _, _ in whole})
    for size in (1, 3, 5):
        starts = range(0, len(targets), size)
        chunked = [found for first in starts for found in _samples(data, targets, first, first + size)]
        assert chunked == whole, size


def test_a_low_frame_rate_shares_one_frame_between_two_targets():
    data = _numbered_clip(4.0, 1, 2)
    targets = sample_times(4.0, 2.0, 240)  # 0.25, 0.75, ... 3.75
    assert [(sample, time_s) for sample, time_s, _ in _samples(data, targets)] == [(0, 1.0), (2, 2.0), (4, 3.0)]
