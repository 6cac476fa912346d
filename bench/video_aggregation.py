"""Track aggregation measured side by side on the FF++ clips: one frame vs every frame, mean vs confident.

Every clip in ``../shared/data/ffpp_c23_videos`` (``real/`` = genuine, ``fake/`` = manipulated)
goes through the service's own parts in this process: frames sampled as a job samples them
(``sample_times`` at the default rate and cap, ``DecodedVideo``), the photo detector on each
frame, the tracker, the one crop policy, and the model's serving signature loaded with
``tf.saved_model.load`` (the newest bundled version unless ``--model``). The clip's score is its
main track's (the one seen in most frames). AUC over clips for: the first sampled frame alone,
the track's mean and the DFDC ``confident`` rule; and the AUC over all scored frames (every frame
a sample). The clips are few (40, 10 identities), so the figures are coarse.

Usage: .venv/bin/python -m bench.video_aggregation [--model deploy/models/fakeweb/3] [--out ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.bench_model import bench_model  # noqa: E402
from bench.inprocess import InProcessPipeline  # noqa: E402
from services.annotator.clip import aggregate  # noqa: E402
from services.contract.settings import Settings  # noqa: E402
from services.contract.video import sample_times, video_limits  # noqa: E402
from services.contract.video_codec import DecodedVideo  # noqa: E402
from services.detector.faces import analyse_photo  # noqa: E402
from services.detector.tracking import link_tracks  # noqa: E402


def auc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve (the chance a random fake outscores a random real; ties count half)."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    fakes, reals = s[y == 1], s[y == 0]
    wins = (fakes[:, None] > reals[None, :]).sum() + 0.5 * (fakes[:, None] == reals[None, :]).sum()
    return float(wins / (len(fakes) * len(reals)))


def main_track_scores(pipeline: InProcessPipeline, data: bytes, settings: Settings) -> list[float]:
    """Frame probabilities of the clip's main track, in frame order (judgeable frames only)."""
    with DecodedVideo(data, video_limits(settings)) as video:
        targets = sample_times(video.duration_s or 1.0, settings.video_sample_fps, settings.max_video_frames)
        frames = [analyse_photo(frame.rgb, "bench", settings) for frame in video.frames_at(targets)]
    tracks = link_tracks([[tuple(face.box) for face in frame.result.faces] for frame in frames])
    numbers = [n for frame_numbers in tracks for n in frame_numbers]
    if not numbers:
        return []
    main = max(set(numbers), key=numbers.count)
    crops = [
        frame.crops[face.index]
        for frame, frame_numbers in zip(frames, tracks, strict=True)
        for face, number in zip(frame.result.faces, frame_numbers, strict=True)
        if number == main and face.index in frame.crops
    ]
    return pipeline.score(crops) if crops else []


def main(argv: list[str] | None = None) -> int:
    """Score every clip and write the AUC of each aggregation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data" / "ffpp_c23_videos")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "video_aggregation.json")
    args = parser.parse_args(argv)
    model = bench_model(chosen=args.model)
    settings = Settings()
    pipeline = InProcessPipeline(model.path, settings)
    clips: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    for label, folder in ((0, "real"), (1, "fake")):
        for path in sorted((args.data / folder).glob("*.mp4")):
            scores = main_track_scores(pipeline, path.read_bytes(), settings)
            clips[path.name] = {"label": label, "frames": len(scores), "scores": [round(p, 5) for p in scores]}
            print(f"{path.name}: {len(scores)} frames", flush=True)
    scored = {name: clip for name, clip in clips.items() if clip["scores"]}
    labels = [clip["label"] for clip in scored.values()]
    per_clip = {
        "first_frame": [clip["scores"][0] for clip in scored.values()],
        "mean": [aggregate(clip["scores"], "mean") for clip in scored.values()],
        "confident": [aggregate(clip["scores"], "confident") for clip in scored.values()],
    }
    frame_scores = [p for clip in scored.values() for p in clip["scores"]]
    frame_labels = [clip["label"] for clip in scored.values() for _ in clip["scores"]]
    results = {
        "model": model.description,
        "clips": len(clips),
        "clips_without_face": sorted(set(clips) - set(scored)),
        "frames_scored": len(frame_scores),
        "auc": {
            "every_frame": round(auc(frame_scores, frame_labels), 4),
            **{name: round(auc(values, labels), 4) for name, values in per_clip.items()},
        },
        "seconds": round(time.perf_counter() - started, 1),
        "per_clip": clips,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({key: results[key] for key in ("model", "clips", "frames_scored", "auc", "seconds")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
