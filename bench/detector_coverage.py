"""Share of the shared data's face images in which the detector finds at least one face.

Every image of ../shared/data (all sources show one face; the press photos one or more) is
decoded like an upload and run through ``detect_faces``. Extra detections on the one-face
sources are an upper bound of false detections on real photos.

Usage: .venv/bin/python -m bench.detector_coverage [--limit N] [--engine blazeface|haar]
Writes bench/results/detector_coverage[_haar].json and the per-image detections to
``*.detail.json`` beside it.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import defaultdict

from bench.detector_recall import REPO, data_dir
from services.contract.imaging import decode_rgb
from services.detector.engine import detect_faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="only the first N images per source (0: all)")
    parser.add_argument("--engine", default="blazeface")
    args = parser.parse_args()

    root = data_dir()
    with (root / "MANIFEST.tsv").open() as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["path"].lower().endswith((".jpg", ".jpeg", ".png"))]
    per_source: dict[str, list[dict]] = defaultdict(list)
    start = time.perf_counter()
    for row in rows:
        if args.limit and len(per_source[row["source"]]) >= args.limit:
            continue
        image = decode_rgb((root / row["path"]).read_bytes(), 50_000_000, 12_000)
        faces = detect_faces(image, engine=args.engine)
        per_source[row["source"]].append(
            {
                "path": row["path"],
                "faces": [{"box": list(f.box), "score": round(f.score, 3)} for f in faces],
            }
        )
    seconds = time.perf_counter() - start

    summary = {}
    for source, items in sorted(per_source.items()):
        with_face = sum(1 for i in items if i["faces"])
        extra = sum(max(0, len(i["faces"]) - 1) for i in items)
        summary[source] = {
            "images": len(items),
            "with_face": with_face,
            "share": round(with_face / len(items), 4),
            "extra_detections": extra,
            "missed": [i["path"] for i in items if not i["faces"]][:20],
        }
    total = sum(s["images"] for s in summary.values())
    found = sum(s["with_face"] for s in summary.values())
    report = {
        "engine": args.engine,
        "images": total,
        "with_face": found,
        "share": round(found / total, 4),
        "seconds": round(seconds, 1),
        "by_source": summary,
    }
    print(json.dumps(report, indent=2))
    name = "detector_coverage.json" if args.engine == "blazeface" else f"detector_coverage_{args.engine}.json"
    out = REPO / "bench" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    # Per-image detections (for threshold sweeps) go next to it, not meant for the repository.
    out.with_suffix(".detail.json").write_text(json.dumps(per_source) + "\n")


if __name__ == "__main__":
    main()
