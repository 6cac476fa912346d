"""Decoding sampled video frames and encoding the annotated clip, with PyAV (FFmpeg inside its wheel).

PyAV rather than OpenCV's FFmpeg build: OpenCV's wheel cannot write H.264 here (only MPEG-4 Part 2,
which browsers do not play), and PyAV reports the stream's codec, frame size and timestamps, which
the limits and the sampling need. Only the workers import this module; the gateway checks videos
with :mod:`services.contract.video` and never decodes.
"""

from __future__ import annotations

import bisect
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from types import TracebackType

import av
import numpy as np

from services.contract.imaging import ImageRejected
from services.contract.video import VideoLimits, check_video_limits

H264_CRF = "23"
H264_PRESET = "veryfast"
# A chunk of samples seeks this far before its first target, so the frame before that target is decoded too.
SEEK_BEFORE_S = 0.5
# A frame at most this much before a target counts as at it (timestamps are rounded to the time base).
TIME_EPS_S = 1e-6


@dataclass(frozen=True)
class SampledFrame:
    """One analysed frame: its place among the samples, its time in the clip (s) and its RGB pixels."""

    sample: int
    time_s: float
    rgb: np.ndarray


class DecodedVideo:
    """An opened video whose first video stream has passed the limits; use as a context manager."""

    def __init__(self, data: bytes, limits: VideoLimits) -> None:
        try:
            self._container = av.open(io.BytesIO(data), mode="r")
        except (av.FFmpegError, ValueError) as exc:
            raise ImageRejected("corrupt_video", "The video cannot be opened: its header is corrupt.") from exc
        try:
            if not self._container.streams.video:
                raise ImageRejected("no_video_stream", "The file has no video track (audio only?).")
            self._stream = self._container.streams.video[0]
            context = self._stream.codec_context
            self.width, self.height = int(context.width or 0), int(context.height or 0)
            self.duration_s = _duration_s(self._container, self._stream)
            self.limits = limits
            check_video_limits(self.width, self.height, self.duration_s, limits)
        except BaseException:
            self._container.close()
            raise

    def __enter__(self) -> DecodedVideo:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._container.close()

    def frames_at(self, targets: list[float], first: int = 0, stop: int | None = None) -> Iterator[SampledFrame]:
        """For each target time, in order, the first decoded frame at or after it; stops at the end of the clip.

        A frame stands for the targets between the frame before it and itself: the first of them
        is its ``sample``, the others share it (a clip with fewer frames per second than the
        sampling rate). Only samples ``first`` to ``stop`` (exclusive) are yielded, and the same
        frames get the same sample numbers whichever range is asked, so chunks of one clip can be
        decoded apart: a range that does not start at 0 seeks to a keyframe before its first
        target (and decodes from the start where the container cannot seek there). Every frame
        from there is decoded (H.264 cannot skip to an arbitrary frame), but only the chosen ones
        are converted to RGB. A frame later than the duration limit, or undecodable data, raises
        ImageRejected.
        """
        stop = len(targets) if stop is None else min(stop, len(targets))
        if first >= stop:
            return
        start = float(self._stream.start_time * self._stream.time_base) if self._stream.start_time else 0.0
        if first > 0 and targets[first] - SEEK_BEFORE_S > 0 and self._seek(start + targets[first] - SEEK_BEFORE_S):
            try:
                yield from self._samples(targets, first, stop, start, seeked=True)
                return
            except _SeekMissed:
                self._container.seek(0)  # back to the first frame: decode the whole way
        yield from self._samples(targets, first, stop, start, seeked=False)

    def _seek(self, time_s: float) -> bool:
        """Move to the keyframe at or before ``time_s``; False where the container cannot."""
        try:
            self._container.seek(int(time_s / self._stream.time_base), stream=self._stream, backward=True)
        except (av.FFmpegError, OverflowError, ValueError):
            return False
        return True

    def _samples(
        self, targets: list[float], first: int, stop: int, start: float, seeked: bool
    ) -> Iterator[SampledFrame]:
        # ``pending``: the first target not yet covered by a decoded frame. After a seek the first
        # frame only tells where decoding stands; it must come before the range's first target.
        pending = None if seeked else 0
        rate = float(self._stream.average_rate or 25)
        try:
            for number, frame in enumerate(self._container.decode(self._stream)):
                if pending is not None and pending >= stop:
                    return
                if frame.time is None and seeked:
                    raise _SeekMissed
                time_s = frame.time - start if frame.time is not None else number / rate
                if time_s > self.limits.max_duration_s:
                    limit = self.limits.max_duration_s
                    raise ImageRejected("video_too_long", f"The video runs past {limit:.0f} s.", 413)
                if pending is None:
                    if time_s + TIME_EPS_S >= targets[first]:
                        raise _SeekMissed
                    pending = bisect.bisect_right(targets, time_s + TIME_EPS_S)
                    continue
                if pending >= len(targets) or targets[pending] > time_s + TIME_EPS_S:
                    continue
                sample = pending
                pending = bisect.bisect_right(targets, time_s + TIME_EPS_S)  # the targets this frame covers
                if sample < first:
                    continue
                if (frame.width, frame.height) != (self.width, self.height):
                    check_video_limits(frame.width, frame.height, None, self.limits)
                yield SampledFrame(sample=sample, time_s=round(time_s, 4), rgb=frame.to_ndarray(format="rgb24"))
        except av.FFmpegError as exc:
            raise ImageRejected("corrupt_video", "The video data is truncated or corrupt.") from exc


class _SeekMissed(Exception):
    """The seek landed at or after the range's first target (or on frames without times)."""


def _duration_s(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def even_size(width: int, height: int) -> tuple[int, int]:
    """The largest even frame size within ``width`` x ``height`` (H.264 in 4:2:0 needs even sides)."""
    return max(2, width - width % 2), max(2, height - height % 2)


def encode_h264(frames: Iterable[np.ndarray], fps: float, width: int, height: int) -> bytes:
    """Encode RGB frames as an H.264 MP4 (yuv420p, moov first so browsers start playing at once).

    Frames are cut to the even size :func:`even_size` gives. Returns the file's bytes.
    """
    out_w, out_h = even_size(width, height)
    with tempfile.TemporaryDirectory(prefix="fakeweb-video-") as folder:
        path = os.path.join(folder, "annotated.mp4")  # +faststart rewrites the file: it needs a real path
        with av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"}) as output:
            stream = output.add_stream("libx264", rate=_rate(fps), options={"crf": H264_CRF, "preset": H264_PRESET})
            stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
            for rgb in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:out_h, :out_w]), format="rgb24")
                output.mux(stream.encode(frame))
            output.mux(stream.encode(None))
        with open(path, "rb") as file:
            return file.read()


def _rate(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1000)
