"""The split is grouped: no DFDC pair and no FF++ video id lands on two sides."""

from __future__ import annotations

from pathlib import Path

from training.dataset import FFPP_NAME, Item, grouped_split, list_items, read_dfdc_pairs, report_group


def _side_of(split: dict[str, list[Item]]) -> dict[str, str]:
    return {item.path: side for side, items in split.items() for item in items}


def test_dfdc_pairs_and_ffpp_ids_never_cross_sides(shared_data: Path) -> None:
    items = list_items(shared_data)
    split = grouped_split(items, shared_data)
    side = _side_of(split)
    assert len(side) == len(items)  # every image on exactly one side
    for real, fake in read_dfdc_pairs(shared_data):
        assert side[real] == side[fake], (real, fake)
    id_sides: dict[str, set[str]] = {}
    for item in items:
        if item.source == "ffpp_c23":
            match = FFPP_NAME.match(Path(item.path).stem)
            assert match, item.path
            for video_id in match.group("ids").split("_"):
                id_sides.setdefault(video_id, set()).add(side[item.path])
    assert id_sides and all(len(s) == 1 for s in id_sides.values()), id_sides
    # every trained source reaches all three sides, press photos only the test side
    for source in ("photoshop_ciplab", "gan_stylegan2", "faceswap_dfdc", "ffpp_c23"):
        assert all(any(i.source == source for i in split[s]) for s in ("train", "val", "test")), source
    assert {side[i.path] for i in items if i.source == "wild_press_photos"} == {"test"}


def test_grouping_is_by_connected_ids(tmp_path: Path) -> None:
    # 001_002 links 001 and 002; 002_003 links 002 and 003: all frames of 001..003 are one group.
    names = ["youtube_001_0", "Deepfakes_001_002_0", "FaceSwap_002_003_5", "youtube_003_9", "youtube_004_0"]
    for name in names:
        label = "real" if name.startswith("youtube") else "fake"
        path = tmp_path / "ffpp_c23" / label / f"{name}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    items = list_items(tmp_path)
    assert len(items) == 5
    for seed in range(10):
        side = _side_of(grouped_split(items, tmp_path, seed=seed))
        linked = {side[f"ffpp_c23/{'real' if n.startswith('youtube') else 'fake'}/{n}.jpg"] for n in names[:4]}
        assert len(linked) == 1


def test_face2face_is_reported_apart_from_swaps() -> None:
    assert report_group(Item("ffpp_c23", "fake", "ffpp_c23/fake/Face2Face_001_002_0.jpg")) == "ffpp_c23_face2face"
    assert report_group(Item("ffpp_c23", "fake", "ffpp_c23/fake/FaceSwap_001_002_0.jpg")) == "ffpp_c23_swap"
    assert report_group(Item("ffpp_c23", "real", "ffpp_c23/real/youtube_001_0.jpg")) == "ffpp_c23"
