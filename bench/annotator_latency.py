"""Annotator latency: FaceMesh per face (crop + landmarks) and drawing per face, by face size.

Usage: .venv/bin/python -m bench.annotator_latency [--runs N]
Prints the numbers and writes bench/results/annotator_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import cv2
import numpy as np

from bench.detector_recall import REPO, data_dir
from services.annotator.drawing import draw_mesh
from services.annotator.mesh import face_landmarks
from services.contract.imaging import decode_rgb, encode_jpeg
from services.detector.engine import detect_faces

FACE_SIZES = (48, 128, 400, 1200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--photo", default="wild_press_photos/real/img21.jpg")
    args = parser.parse_args()

    base = decode_rgb((data_dir() / args.photo).read_bytes(), 50_000_000, 12_000)
    (face,) = detect_faces(base)
    report: dict[str, object] = {"photo": args.photo, "runs": args.runs, "by_face_px": {}}
    for size in FACE_SIZES:
        scale = size / max(face.box[2:])
        interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
        image = cv2.resize(base, None, fx=scale, fy=scale, interpolation=interp)
        box = tuple(round(v * scale) for v in face.box)
        face_landmarks(image, box)  # load the model
        mesh_s, draw_s = [], []
        found = 0
        for _ in range(args.runs):
            start = time.perf_counter()
            points = face_landmarks(image, box)
            mesh_s.append(time.perf_counter() - start)
            if points is None:
                continue
            found += 1
            canvas = image.copy()
            start = time.perf_counter()
            draw_mesh(canvas, points, 0.9, size)
            draw_s.append(time.perf_counter() - start)
        row = {
            "mesh_ms_median": round(1000 * float(np.median(mesh_s)), 2),
            "draw_ms_median": round(1000 * float(np.median(draw_s)), 2) if draw_s else None,
            "mesh_found": f"{found}/{args.runs}",
        }
        report["by_face_px"][str(size)] = row
        print(
            f"face {size:>5} px: mesh {row['mesh_ms_median']} ms, draw {row['draw_ms_median']} ms, "
            f"found {row['mesh_found']}",
            flush=True,
        )
    big = cv2.resize(base, (6000, 4000), interpolation=cv2.INTER_CUBIC)
    start = time.perf_counter()
    encode_jpeg(big, 90)
    report["jpeg_encode_24mp_s"] = round(time.perf_counter() - start, 3)
    print(f"JPEG encode of a 24 MP result: {report['jpeg_encode_24mp_s']} s")
    report["load_average"] = os.getloadavg()
    (REPO / "bench" / "results" / "annotator_latency.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
