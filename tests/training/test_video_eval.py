"""training.evaluate on video folders: two real 3 s FF++ clips through the detector's sampling, tracking and
a SavedModel, and the split side of a clip's ids taken from training's own split."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.tiny_model import export_tiny_model
from training import evaluate
from training.dataset import FFPP_NAME, list_items, training_split
from training.video_eval import clip_split, ffpp_id_splits

CLIPS = ("real/youtube_241.mp4", "fake/Deepfakes_241_210.mp4")  # 3 s each: 6 frames at the default 2 fps


@pytest.fixture(scope="module")
def clip_folder(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ffpp_c23_videos/<label>/<clip>`` with one real clip and its Deepfakes version, no MANIFEST.tsv."""
    root = tmp_path_factory.mktemp("clips")
    for clip in CLIPS:
        target = root / "ffpp_c23_videos" / clip
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / "ffpp_c23_videos" / clip, target)
    return root


def test_evaluate_reports_clips_per_aggregation(clip_folder: Path, tmp_path: Path) -> None:
    model_dir = export_tiny_model(tmp_path / "model" / "1")
    out = tmp_path / "report" / "report.json"
    argv = ["--model", str(model_dir), "--data", str(clip_folder), "--out", str(out), "--cache-dir", str(tmp_path)]
    evaluate.main(argv)
    report = json.loads(out.read_text())
    assert "overall" not in report  # no image in the folder
    video = report["video"]
    assert video["clips"] == 2 and video["clips_unreadable"] == {} and video["clips_without_scored_face"] == []
    # No ffpp_c23 frames here, so neither clip's ids are on any side of the split: both are clean.
    assert video["split_of_ids"] == {"train": 0, "val": 0, "test": 0, "unseen": 2}
    assert set(video["per_group"]) == {"ffpp_c23_videos", "ffpp_c23_videos:Deepfakes"}
    group = video["per_group"]["ffpp_c23_videos:Deepfakes"]
    assert group["seen_in_training"]["clips"] == 0 and group["clean"]["clips"] == group["all"]["clips"] == 2
    everything = group["all"]
    assert (everything["fake_clips"], everything["real_clips"], everything["clips_judged"]) == (1, 1, 2)
    assert everything["frames_sampled"] == 12
    rows = {row["path"].split("/", 1)[1]: row for row in video["per_clip"]}
    assert set(rows) == set(CLIPS)
    for row in rows.values():
        # One person in each clip: one track, scored in every sampled frame the detector judged.
        assert row["frames_sampled"] == 6 and row["tracks"] == 1 and 2 <= row["frames_scored"] <= 6
        assert 0.0 <= row["confident"] <= 1.0 and 0.0 <= row["mean"] <= 1.0
    assert everything["frames_scored"] == sum(row["frames_scored"] for row in rows.values())
    for rule in ("frame", "mean", "confident"):
        assert 0.0 <= everything["auc"][rule] <= 1.0
    fake, real = rows["fake/Deepfakes_241_210.mp4"], rows["real/youtube_241.mp4"]
    if fake["mean"] != real["mean"]:  # one clip per class: the clip-level AUC is 1 or 0 by their order
        assert everything["auc"]["mean"] == float(fake["mean"] > real["mean"])
    table = Path(video["per_clip_tsv"]).read_text().splitlines()
    assert table[0].split("\t")[:4] == ["path", "label", "method", "split"] and len(table) == 3
    # A second run reads the cached faces of each clip and reports the same.
    assert list((tmp_path / "videos").glob("clips-*/*/*.npz"))
    evaluate.main(argv)
    assert json.loads(out.read_text())["video"]["per_clip"] == video["per_clip"]


def test_a_clip_is_on_the_side_of_its_ids_frames(shared_data: Path) -> None:
    sides = ffpp_id_splits(shared_data)
    items = list_items(shared_data, {"ffpp_c23"})
    for side, chosen in training_split(list_items(shared_data), shared_data).items():
        for item in chosen:
            if item.source != "ffpp_c23":
                continue
            match = FFPP_NAME.match(Path(item.path).stem)
            assert match is not None
            clip = f"ffpp_c23_videos/{item.label}/{match.group('method')}_{match.group('ids')}.mp4"
            assert clip_split(clip, sides) == side, clip
    assert items and clip_split("ffpp_c23_videos/real/youtube_999.mp4", sides) == "unseen"
    assert clip_split("other/real/holiday.mp4", sides) == "unseen"
