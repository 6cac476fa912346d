"""Linking per-frame boxes into tracks: overlap, centre distance, missed frames."""

from __future__ import annotations

from services.detector.tracking import MAX_MISSED_FRAMES, link_tracks

LEFT = (100.0, 100.0, 80.0, 80.0)
RIGHT = (400.0, 100.0, 80.0, 80.0)


def moved(box: tuple[float, float, float, float], dx: float) -> tuple[float, float, float, float]:
    return (box[0] + dx, *box[1:])


def test_two_people_keep_their_tracks_whatever_order_the_detector_lists_them_in():
    frames = [[LEFT, RIGHT], [moved(RIGHT, 10), moved(LEFT, 10)], [moved(LEFT, 20), moved(RIGHT, 20)]]
    assert link_tracks(frames) == [[0, 1], [1, 0], [0, 1]]


def test_a_fast_move_without_overlap_is_linked_by_the_centre_distance():
    # 35 px of an 80 px face between two samples: IoU below 0.3, centre within half a side.
    assert link_tracks([[LEFT], [moved(LEFT, 35)]]) == [[0], [0]]
    assert link_tracks([[LEFT], [moved(LEFT, 200)]]) == [[0], [1]]


def test_a_track_survives_missed_frames_up_to_the_limit_and_no_further():
    gap = [[]] * MAX_MISSED_FRAMES
    assert link_tracks([[LEFT], *gap, [LEFT]]) == [[0], *gap, [0]]
    longer = [[]] * (MAX_MISSED_FRAMES + 1)
    assert link_tracks([[LEFT], *longer, [LEFT]]) == [[0], *longer, [1]]
