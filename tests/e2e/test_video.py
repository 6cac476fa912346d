"""Videos through the whole local stack: tracks per person, the poster frame, the annotated H.264 clip, bad videos."""

from __future__ import annotations

import io

import av
import httpx
import pytest
from PIL import Image

from services.contract.storage import ObjectStore, annotated_video_key, frame_chunk_key, original_key
from tests.e2e.test_pipeline import DEV_KEY_HEADER, submit_and_wait
from tests.support.photos import group_photo
from tests.support.videos import (
    audio_only_mp4,
    claims_hours,
    claims_huge_frames,
    encode_clip,
    faststart,
    scrambled_frames,
    two_person_clip,
)

pytestmark = pytest.mark.e2e

# Named and typed as nothing in particular: the gateway must recognise a video by its bytes.
OPAQUE_UPLOAD = ("upload.bin", "application/octet-stream")
FFPP_CLIP = "ffpp_c23_videos/fake/Face2Face_134_192.mp4"  # 1280x720, 3.1 s


def _get(gateway_url: str, path: str) -> httpx.Response:
    with httpx.Client(base_url=gateway_url, timeout=30, headers=DEV_KEY_HEADER) as client:
        return client.get(path)


def _decoded(clip: bytes) -> tuple[str, int, tuple[int, int]]:
    """Codec name, frame count and frame size of an MP4, decoded frame by frame."""
    with av.open(io.BytesIO(clip)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return stream.codec_context.name, len(frames), (frames[0].width, frames[0].height)


def _check_video_job(gateway_url: str, job_id: str, document: dict, size: tuple[int, int]) -> None:
    """What every completed video job answers: progress in frames, tracks with timelines, poster and clip."""
    assert document["status"] == "completed", document
    assert document["media"] == "video"
    frames = document["video"]["frames_analysed"]
    assert frames >= 1
    progress = document["progress"]
    assert progress["frames_total"] == progress["frames_detected"] == frames
    assert progress["faces_scored"] == progress["faces_judgeable"]
    for track in document["tracks"]:
        assert track["frames_seen"] == len(track["timeline"]) >= 1
        assert track["first_s"] <= track["last_s"]
        if track["verdict"] != "unjudgeable":
            assert 0.0 <= track["manipulated_probability"] <= 1.0
            assert track["model"] == {"name": "fakeweb", "version": 1}
    assert document["links"]["video"].endswith(f"/v1/jobs/{job_id}/video")

    poster = _get(gateway_url, f"/v1/jobs/{job_id}/image")
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(poster.content)).size == size
    clip = _get(gateway_url, f"/v1/jobs/{job_id}/video")
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    assert _decoded(clip.content) == ("h264", frames, (size[0] - size[0] % 2, size[1] - size[1] % 2))


def test_two_person_clip_gives_two_tracks_each_seen_in_every_frame(local_stack, shared_data):
    clip = two_person_clip(shared_data)
    job_id, document, _ = submit_and_wait(local_stack.gateway_url, clip, upload=OPAQUE_UPLOAD)

    _check_video_job(local_stack.gateway_url, job_id, document, (906, 360))
    frames = document["video"]["frames_analysed"]
    assert frames == 6  # 3 s at 2 frames per second
    tracks = document["tracks"]
    assert len(tracks) == 2
    for track in tracks:
        assert track["frames_seen"] == track["frames_scored"] == frames
        assert track["verdict"] in ("manipulated", "genuine")
        times = [point["time_s"] for point in track["timeline"]]
        assert times == sorted(times) and 0.0 < times[0] < 0.5 and 2.5 < times[-1] < 3.0
    # One person on the left half throughout, the other on the right.
    sides = [{point["box"][0] + point["box"][2] / 2 > 453 for point in track["timeline"]} for track in tracks]
    assert sorted(tuple(side) for side in sides) == [(False,), (True,)]
    # The poster frame's faces are the result's faces, one per person.
    assert len(document["faces"]) == 2

    store = ObjectStore(local_stack.settings)
    assert store.get_bytes(original_key(job_id)) == clip
    assert store.exists(annotated_video_key(job_id))
    assert store.exists(frame_chunk_key(job_id, 0))  # 6 frames: one chunk of 8

    # The same clip again is answered from the result cache, its clip included.
    again_id, again, _ = submit_and_wait(local_stack.gateway_url, clip, upload=OPAQUE_UPLOAD)
    assert again["cached"] is True and again["tracks"] == document["tracks"]
    assert _get(local_stack.gateway_url, f"/v1/jobs/{again_id}/video").content == store.get_bytes(
        annotated_video_key(job_id)
    )


def test_ffpp_clip_gets_one_track_for_its_one_person(local_stack, shared_data):
    clip = (shared_data / FFPP_CLIP).read_bytes()
    job_id, document, _ = submit_and_wait(local_stack.gateway_url, clip, upload=OPAQUE_UPLOAD)

    _check_video_job(local_stack.gateway_url, job_id, document, (1280, 720))
    frames = document["video"]["frames_analysed"]
    assert frames == 6  # 3.1 s at 2 fps
    judged = [track for track in document["tracks"] if track["verdict"] != "unjudgeable"]
    assert len(judged) == 1, document["tracks"]
    assert judged[0]["frames_seen"] == frames
    assert document["video"]["aggregation"] == "mean"
    scores = [point["manipulated_probability"] for point in judged[0]["timeline"]]
    assert judged[0]["manipulated_probability"] == pytest.approx(sum(scores) / len(scores), abs=1e-6)


def test_photo_job_has_no_video_link_and_no_clip(local_stack, shared_data):
    job_id, document, _ = submit_and_wait(local_stack.gateway_url, group_photo(shared_data, tag="e2e-video-photo"))

    assert document["media"] == "photo" and document["tracks"] is None and document["links"]["video"] is None
    answer = _get(local_stack.gateway_url, f"/v1/jobs/{job_id}/video")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_a_video"


@pytest.fixture(scope="module")
def small_clip(shared_data) -> bytes:
    """A 1 s two-person clip to break in the ways below."""
    return two_person_clip(shared_data, seconds=1.0)


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda clip: claims_huge_frames(clip), 413, "video_too_large"),
        (lambda clip: claims_hours(clip, 10.0), 413, "video_too_long"),
        (lambda clip: audio_only_mp4(), 422, "no_video_stream"),
        (lambda clip: clip[: len(clip) // 2], 422, "corrupt_video"),  # moov at the end: cut off
        (lambda clip: faststart(clip)[: len(clip) * 2 // 3], 422, "corrupt_video"),  # moov first, mdat cut off
    ],
    ids=["huge-frame-header", "ten-hour-header", "audio-only", "truncated-before-moov", "truncated-after-moov"],
)
def test_bad_video_headers_are_refused_at_submission(local_stack, small_clip, make, status, code):
    with httpx.Client(base_url=local_stack.gateway_url, timeout=30, headers=DEV_KEY_HEADER) as client:
        answer = client.post("/v1/jobs", files={"image": ("clip.mp4", make(small_clip), "video/mp4")})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (scrambled_frames, "corrupt_video"),  # the header is sound, the frame data is noise
        (lambda clip: encode_clip([], 2, container="webm", codec="libvpx"), "corrupt_video"),  # zero frames
    ],
    ids=["noise-for-frames", "zero-frames"],
)
def test_videos_bad_past_the_header_fail_the_job_and_workers_go_on(local_stack, shared_data, small_clip, make, code):
    _, document, _ = submit_and_wait(local_stack.gateway_url, make(small_clip), upload=OPAQUE_UPLOAD)
    assert document["status"] == "failed"
    assert document["error"]["code"] == code

    # The detector that met the bad video still takes the next job.
    _, after, _ = submit_and_wait(local_stack.gateway_url, group_photo(shared_data, tag=f"after-bad-video-{code}"))
    assert after["status"] == "completed", after
