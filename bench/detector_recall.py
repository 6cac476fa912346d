"""Detection recall by face size and false detections per image on generated collages.

Usage: .venv/bin/python -m bench.detector_recall [--per-canvas N] [--engine blazeface|haar]
Prints a table and writes bench/results/detector_recall[_haar].json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench.collage import CANVASES_MP, FACE_SIZES, load_sources, make_collage, match, sizes_for
from services.contract.settings import get_settings
from services.detector.boxes import iou
from services.detector.engine import detect_faces

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    path = get_settings().shared_data_dir
    return path if path.is_absolute() else (REPO / path).resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-canvas", type=int, default=3, help="collages per canvas size")
    parser.add_argument("--engine", default="blazeface")
    parser.add_argument("--mp", type=int, nargs="*", default=sorted(CANVASES_MP))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    sources = load_sources(data_dir(), count=60)
    rng = np.random.default_rng(args.seed)
    found_by_size: dict[int, list[int]] = defaultdict(list)
    iou_by_size: dict[int, list[float]] = defaultdict(list)
    false_by_mp: dict[int, list[int]] = defaultdict(list)
    seconds_by_mp: dict[int, list[float]] = defaultdict(list)
    scored: list[tuple[float, bool]] = []  # (detector score, is a true face) for a threshold sweep
    for mp in args.mp:
        width, height = CANVASES_MP[mp]
        for _ in range(args.per_canvas):
            collage = make_collage(sources, width, height, sizes_for(width, height, rng), rng)
            start = time.perf_counter()
            faces = detect_faces(collage.image, engine=args.engine)
            seconds_by_mp[mp].append(time.perf_counter() - start)
            found = [tuple(map(float, f.box)) for f in faces]
            best, unmatched = match(collage.boxes, found)
            for size, value in zip(collage.sizes, best, strict=True):
                found_by_size[size].append(int(value >= 0.5))
                iou_by_size[size].append(value)
            false = [i for i in unmatched if all(iou(found[i], t) < 0.3 for t in collage.boxes)]
            false_by_mp[mp].append(len(false))
            scored += [(faces[i].score, i not in false) for i in range(len(faces))]
            print(
                f"{mp:>2} MP: {len(collage.boxes)} faces, {sum(v >= 0.5 for v in best)} found, "
                f"{len(false)} false, {seconds_by_mp[mp][-1]:.2f} s",
                flush=True,
            )

    report = {
        "engine": args.engine,
        "sources": len(sources),
        "canvases_per_size": args.per_canvas,
        "recall_by_face_px": {s: round(float(np.mean(found_by_size[s])), 3) for s in FACE_SIZES if found_by_size[s]},
        "faces_by_face_px": {s: len(found_by_size[s]) for s in FACE_SIZES if found_by_size[s]},
        "median_iou_by_face_px": {s: round(float(np.median(iou_by_size[s])), 3) for s in FACE_SIZES if iou_by_size[s]},
        "false_detections_per_image_by_mp": {mp: round(float(np.mean(v)), 2) for mp, v in false_by_mp.items()},
        "false_detections_per_image": round(float(np.mean([x for v in false_by_mp.values() for x in v])), 2),
        "detect_seconds_median_by_mp": {mp: round(float(np.median(v)), 3) for mp, v in seconds_by_mp.items()},
        "score_sweep": {
            str(t): {
                "true_kept": sum(1 for s, ok in scored if ok and s >= t),
                "false_kept": sum(1 for s, ok in scored if not ok and s >= t),
            }
            for t in (0.5, 0.6, 0.7, 0.8, 0.9)
        },
    }
    print(json.dumps(report, indent=2))
    out = (
        REPO
        / "bench"
        / "results"
        / ("detector_recall.json" if args.engine == "blazeface" else "detector_recall_haar.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
