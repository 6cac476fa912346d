"""Linking a video's per-frame faces into tracks, one per person.

Frame by frame, each face is matched to the open track whose last box it fits best: box overlap
(IoU) of at least :data:`MIN_IOU`, or, for a face that moved or changed size more than that
allows between two samples (half a second apart at 2 fps), a centre within
:data:`MAX_CENTRE_SHIFT` of the track's last box side. Pairs are taken best first (highest IoU,
then nearest centre), each track and face at most once. A face matched to no track opens a new
one. A track not seen for more than :data:`MAX_MISSED_FRAMES` sampled frames is closed, so a
face the detector misses in one or two samples (a turn of the head, motion blur) keeps its track,
and a person who leaves and comes back later gets a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_IOU = 0.3
MAX_CENTRE_SHIFT = 0.5  # of the larger side of the track's last box
MAX_MISSED_FRAMES = 2


@dataclass
class _OpenTrack:
    number: int
    box: tuple[float, float, float, float]
    last_frame: int


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def centre_shift(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Distance between the boxes' centres, in units of the larger side of ``a``."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    dx = (ax + aw / 2) - (bx + bw / 2)
    dy = (ay + ah / 2) - (by + bh / 2)
    return (dx * dx + dy * dy) ** 0.5 / max(aw, ah, 1.0)


def link_tracks(frames: list[list[tuple[float, float, float, float]]]) -> list[list[int]]:
    """Track numbers (0, 1, ... by first appearance) for every box of every frame, in the same layout."""
    open_tracks: list[_OpenTrack] = []
    count = 0
    assigned: list[list[int]] = []
    for frame, boxes in enumerate(frames):
        open_tracks = [t for t in open_tracks if frame - t.last_frame <= MAX_MISSED_FRAMES + 1]
        candidates = []
        for t_pos, track in enumerate(open_tracks):
            for b_pos, box in enumerate(boxes):
                overlap, shift = iou(track.box, box), centre_shift(track.box, box)
                if overlap >= MIN_IOU or shift <= MAX_CENTRE_SHIFT:
                    candidates.append((-overlap, shift, t_pos, b_pos))
        numbers = [-1] * len(boxes)
        used_tracks: set[int] = set()
        for _, _, t_pos, b_pos in sorted(candidates):
            if t_pos in used_tracks or numbers[b_pos] != -1:
                continue
            used_tracks.add(t_pos)
            numbers[b_pos] = open_tracks[t_pos].number
            open_tracks[t_pos].box, open_tracks[t_pos].last_frame = boxes[b_pos], frame
        for b_pos, box in enumerate(boxes):
            if numbers[b_pos] == -1:
                numbers[b_pos] = count
                open_tracks.append(_OpenTrack(count, box, frame))
                count += 1
        assigned.append(numbers)
    return assigned
