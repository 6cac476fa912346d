"""Video intake without a decoder: magic bytes, the MP4/MOV header walk, the limits, the sampling plan."""

from __future__ import annotations

import pytest

from services.contract.imaging import ImageRejected, sniff_format
from services.contract.video import VideoLimits, inspect_video, sample_times, sniff_video
from tests.support.videos import audio_only_mp4, claims_hours, claims_huge_frames, encode_clip, two_person_clip

LIMITS = VideoLimits(max_bytes=10_000_000, max_duration_s=600.0, max_pixels=3840 * 2160)


@pytest.fixture(scope="module")
def clip(shared_data) -> bytes:
    return two_person_clip(shared_data, seconds=1.0)


def test_containers_are_told_apart_by_their_bytes_alone(clip):
    assert sniff_video(clip) == "MP4"
    assert sniff_video(clip[:4] + b"ftypqt  " + clip[12:]) == "MOV"
    webm = encode_clip([], 2, container="webm", codec="libvpx")
    assert sniff_video(webm) == "WEBM"
    for not_video in (b"\xff\xd8\xff\xe0" + bytes(20), b"\x89PNG\r\n\x1a\n" + bytes(20), b"RIFF\0\0\0\0WEBP", b""):
        assert sniff_video(not_video) is None
    assert sniff_format(clip) is None  # no video passes for a photo either


def test_header_gives_frame_size_and_duration_without_decoding(clip, shared_data):
    info = inspect_video(clip, LIMITS)
    assert (info.media_type, info.width, info.height, info.duration_s) == ("video/mp4", 866, 360, 1.0)
    ffpp = (shared_data / "ffpp_c23_videos/real/youtube_241.mp4").read_bytes()
    assert inspect_video(ffpp, LIMITS).width == 854


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (claims_huge_frames, 413, "video_too_large"),
        (claims_hours, 413, "video_too_long"),
        (lambda clip: audio_only_mp4(), 422, "no_video_stream"),
        (lambda clip: clip[: len(clip) - 200], 422, "corrupt_video"),
        (lambda clip: clip + bytes(10_000_000), 413, "payload_too_large"),
        (lambda clip: b"not a video at all", 415, "unsupported_media_type"),
    ],
)
def test_header_refusals_name_the_limit(clip, make, status, code):
    with pytest.raises(ImageRejected) as refused:
        inspect_video(make(clip), LIMITS)
    assert (refused.value.status, refused.value.code) == (status, code)


def test_frames_are_sampled_evenly_at_the_rate_and_capped():
    assert sample_times(1.0, 2.0, 240) == [0.25, 0.75]
    assert len(sample_times(32.36, 2.0, 240)) == 64
    long_clip = sample_times(3600.0, 2.0, 240)
    assert len(long_clip) == 240 and long_clip[0] == 7.5 and long_clip[-1] == 3592.5
    assert sample_times(0.2, 2.0, 240) == [0.1]  # a clip shorter than one sample still gets one
