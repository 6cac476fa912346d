"""Videos at intake: recognised by their bytes, their header checked against the limits without decoding.

Only the standard library is used here, so the gateway can check a video without a decoder:
MP4 and QuickTime MOV are walked box by box (``moov/mvhd`` for the duration, each ``trak``'s
``tkhd`` and ``hdlr`` for the video track's frame size); WebM is recognised by its EBML header and
its DocType, and checked by the detector when it opens the file (``video_codec``). The same limits
are checked again there against what the decoder reports, so a header that lies is caught either way.
Which frames are analysed is decided here too (:func:`sample_times`), so the detector and the
annotator pick the same ones.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from services.contract.imaging import ImageRejected
from services.contract.settings import Settings

VIDEO_FORMATS = {"MP4": "video/mp4", "MOV": "video/quicktime", "WEBM": "video/webm"}
# Top-level QuickTime atoms a MOV without an ``ftyp`` box may start with.
_QUICKTIME_FIRST_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_CONTAINER_BOXES = {b"moov", b"trak", b"mdia"}
_UNKNOWN_DURATION = {0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF}


@dataclass(frozen=True)
class VideoLimits:
    """What a video may be: size in bytes, duration, pixels per frame."""

    max_bytes: int
    max_duration_s: float
    max_pixels: int


def video_limits(settings: Settings) -> VideoLimits:
    """The video limits the settings set."""
    return VideoLimits(
        max_bytes=settings.max_video_bytes,
        max_duration_s=settings.max_video_duration_s,
        max_pixels=settings.max_video_pixels,
    )


@dataclass(frozen=True)
class VideoInfo:
    """What the container header says; ``None`` where the format is only checked on decoding (WebM)."""

    format: str
    media_type: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None


def sniff_video(data: bytes) -> str | None:
    """Name the container format from its magic bytes (MP4, MOV, WEBM) or return None."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "MOV" if data[8:12] == b"qt  " else "MP4"
    if len(data) >= 8 and data[4:8] in _QUICKTIME_FIRST_ATOMS and struct.unpack(">I", data[:4])[0] >= 8:
        return "MOV"
    if data[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in data[:64]:
        return "WEBM"
    return None


def inspect_video(data: bytes, limits: VideoLimits) -> VideoInfo:
    """Check a video's size and header against ``limits`` without decoding; raise ImageRejected (413, 415, 422)."""
    fmt = sniff_video(data)
    if fmt is None:
        raise ImageRejected("unsupported_media_type", "Only MP4, QuickTime MOV and WebM videos are accepted.", 415)
    if len(data) > limits.max_bytes:
        raise ImageRejected("payload_too_large", f"Videos are limited to {limits.max_bytes} bytes.", 413)
    if fmt == "WEBM":
        return VideoInfo(format=fmt, media_type=VIDEO_FORMATS[fmt])
    width, height, duration_s = _quicktime_header(data)
    check_video_limits(width, height, duration_s, limits)
    return VideoInfo(format=fmt, media_type=VIDEO_FORMATS[fmt], width=width, height=height, duration_s=duration_s)


def check_video_limits(width: int, height: int, duration_s: float | None, limits: VideoLimits) -> None:
    """Refuse a frame size or a duration beyond the limits (413), or a frame without pixels (422)."""
    if width <= 0 or height <= 0:
        raise ImageRejected("corrupt_video", "The video track has no frame size.", 422)
    if width * height > limits.max_pixels:
        raise ImageRejected(
            "video_too_large", f"{width}x{height} frames are more than the {limits.max_pixels} pixels accepted.", 413
        )
    if duration_s is not None and duration_s > limits.max_duration_s:
        raise ImageRejected(
            "video_too_long", f"The video lasts {duration_s:.0f} s; at most {limits.max_duration_s:.0f} s.", 413
        )


def sample_times(duration_s: float, fps: float, max_frames: int) -> list[float]:
    """The times (s) of the frames to analyse: ``fps`` per second, at most ``max_frames``, spread evenly.

    Each sample sits in the middle of its slice of the clip, so a 1 s clip at 2 fps is read at
    0.25 s and 0.75 s; a clip too long for ``max_frames`` at ``fps`` gets ``max_frames`` slices.
    """
    count = max(1, min(max_frames, int(duration_s * fps)))
    step = duration_s / count
    return [round((i + 0.5) * step, 6) for i in range(count)]


def _quicktime_header(data: bytes) -> tuple[int, int, float | None]:
    """Frame size of the first video track and the movie duration, from ``moov``; ImageRejected when absent."""
    movie = _find_box(data, 0, len(data), b"moov")
    if movie is None:
        raise ImageRejected("corrupt_video", "The movie header (moov) is missing: truncated, or not a video.")
    start, end = movie
    duration_s: float | None = None
    mvhd = _find_box(data, start, end, b"mvhd")
    if mvhd is not None:
        duration_s = _mvhd_duration(data[mvhd[0] : mvhd[1]])
    for trak_start, trak_end in _boxes(data, start, end, b"trak"):
        mdia = _find_box(data, trak_start, trak_end, b"mdia")
        hdlr = _find_box(data, *mdia, b"hdlr") if mdia else None
        if hdlr is None or data[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
            continue
        tkhd = _find_box(data, trak_start, trak_end, b"tkhd")
        if tkhd is None:
            break
        return (*_tkhd_size(data[tkhd[0] : tkhd[1]]), duration_s)
    raise ImageRejected("no_video_stream", "The file has no video track (audio only?).")


def _boxes(data: bytes, start: int, end: int, kind: bytes) -> list[tuple[int, int]]:
    """(payload start, payload end) of every ``kind`` box directly inside ``data[start:end]``."""
    found: list[tuple[int, int]] = []
    at = start
    while at + 8 <= end:
        size, box = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1:
            if at + 16 > end:
                break
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header:
            break
        if at + size > end:
            raise ImageRejected("corrupt_video", f"The {box!r} box runs past its end: the file is truncated.")
        if box == kind:
            found.append((at + header, at + size))
        at += size
    return found


def _find_box(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    boxes = _boxes(data, start, end, kind)
    return boxes[0] if boxes else None


def _mvhd_duration(payload: bytes) -> float | None:
    """Duration (s) from an ``mvhd`` payload; None when unset or unreadable."""
    if len(payload) < 20:
        return None
    if payload[0] == 1:
        if len(payload) < 32:
            return None
        timescale, duration = struct.unpack(">IQ", payload[20:32])
    else:
        timescale, duration = struct.unpack(">II", payload[12:20])
    if timescale == 0 or duration in _UNKNOWN_DURATION:
        return None
    return duration / timescale


def _tkhd_size(payload: bytes) -> tuple[int, int]:
    """Width and height (whole pixels of the 16.16 fixed-point fields) from a ``tkhd`` payload."""
    offset = 88 if payload[:1] == b"\x01" else 76
    if len(payload) < offset + 8:
        return 0, 0
    width, height = struct.unpack(">II", payload[offset : offset + 8])
    return width >> 16, height >> 16
