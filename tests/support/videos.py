"""Test videos: clips composed from the shared press photos, and bad videos built from good ones."""

from __future__ import annotations

import io
import struct
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

TWO_PEOPLE = ("img12.jpg", "img20.jpg")


def encode_clip(
    frames: list[np.ndarray], fps: int, container: str = "mp4", codec: str = "libx264", keyframe_every: int = 0
) -> bytes:
    """RGB frames as a video file (``mp4``/``mov`` with H.264, ``webm`` with ``libvpx``), moov at the end.

    ``keyframe_every``: a keyframe every so many frames (0: the encoder's default).
    """
    height, width = frames[0].shape[:2] if frames else (64, 64)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip.{container}"
        with av.open(str(path), mode="w", format=container) as output:
            stream = output.add_stream(codec, rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            if keyframe_every:
                stream.codec_context.gop_size = keyframe_every
            output.start_encoding()
            for rgb in frames:
                output.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            output.mux(stream.encode(None))
        return path.read_bytes()


def two_person_clip(shared_data: Path, seconds: float = 3.0, fps: int = 10, height: int = 360) -> bytes:
    """Two press portraits side by side, drifting right 2 px a frame: an H.264 MP4 with two faces throughout."""
    portraits = []
    for name in TWO_PEOPLE:
        with Image.open(shared_data / "wild_press_photos" / "real" / name) as img:
            rgb = img.convert("RGB")
            portraits.append(np.asarray(rgb.resize((round(rgb.width * height / rgb.height), height))))
    strip = np.concatenate(portraits, axis=1)
    frame_count = round(seconds * fps)
    margin = 2 * frame_count
    width = strip.shape[1] + margin
    width -= width % 2
    frames = []
    for number in range(frame_count):
        canvas = np.full((height, width, 3), 40, dtype=np.uint8)
        shift = 2 * number
        canvas[:, shift : shift + strip.shape[1]] = strip[:, : width - shift]
        frames.append(canvas)
    return encode_clip(frames, fps)


def _patch_box_field(data: bytes, box: bytes, offset: int, fmt: str, *values: int) -> bytes:
    """Overwrite ``values`` at ``offset`` bytes into the payload of the first ``box`` box (version-0 layouts)."""
    start = data.index(box) + 4 + offset  # the payload follows the 4-byte type
    return data[:start] + struct.pack(fmt, *values) + data[start + struct.calcsize(fmt) :]


def claims_huge_frames(clip: bytes, width: int = 30_000, height: int = 30_000) -> bytes:
    """The clip with its video track header (``tkhd``) claiming ``width`` x ``height`` frames."""
    return _patch_box_field(clip, b"tkhd", 76, ">II", width << 16, height << 16)


def claims_hours(clip: bytes, hours: float = 10.0) -> bytes:
    """The clip with its movie header (``mvhd``) claiming to last ``hours``."""
    at = clip.index(b"mvhd") + 4
    timescale = struct.unpack(">I", clip[at + 12 : at + 16])[0]
    return _patch_box_field(clip, b"mvhd", 16, ">I", int(hours * 3600 * timescale))


def audio_only_mp4(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """An MP4 with one AAC track of silence and no video."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as output:
        stream = output.add_stream("aac", rate=rate)
        for start in range(0, int(seconds * rate), 1024):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return buf.getvalue()


def faststart(clip: bytes) -> bytes:
    """The clip remuxed with its ``moov`` first, so a cut-off copy still has a readable header."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fast.mp4"
        with (
            av.open(io.BytesIO(clip)) as source,
            av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as output,
        ):
            video = source.streams.video[0]
            stream = output.add_stream_from_template(video)
            for packet in source.demux(video):
                if packet.dts is None:
                    continue
                packet.stream = stream
                output.mux(packet)
        return path.read_bytes()


def scrambled_frames(clip: bytes, share: float = 0.3) -> bytes:
    """The clip with its moov first and ``share`` of its frame data (``mdat``) replaced by noise: same length."""
    fast = bytearray(faststart(clip))
    data_start = fast.index(b"mdat") + 4
    length = len(fast) - data_start
    start = data_start + length // 5
    noise = np.random.default_rng(1).integers(0, 256, int(length * share), dtype=np.uint8).tobytes()
    fast[start : start + len(noise)] = noise
    return bytes(fast)
