"""Where the time of one photo goes: a pyinstrument profile of the in-process pipeline.

``make bench`` runs it when a target is missed (the stack's workers run this same code, one
stage per process). Writes the full call tree as text and returns the share of named hot spots.

Usage on its own: .venv/bin/python -m bench.profile [--runs 5] [--out bench/results/profile_inprocess.txt]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# (label, module file suffix, function): the parts a reader of the results asks about.
HOT_SPOTS = (
    ("detector: tile pyramid (full-range BlazeFace, batched tiles)", "services/detector/blazeface.py", "tile_pyramid"),
    ("detector: close-up pass (short-range BlazeFace)", "services/detector/blazeface.py", "close_ups"),
    ("detector: judgeability checks", "services/detector/quality.py", "unjudgeable_reason"),
    ("crop policy", "services/contract/crop_policy.py", "crop"),
    ("classifier: SavedModel call", "bench/inprocess.py", "score"),
    ("annotator: face mesh (MediaPipe)", "services/annotator/mesh.py", "face_landmarks"),
    ("annotator: drawing", "services/annotator/drawing.py", "draw_mesh"),
    ("decode (Pillow)", "services/contract/imaging.py", "decode_rgb"),
    ("encode JPEG (Pillow)", "services/contract/imaging.py", "encode_jpeg"),
)


def _walk(frame: Any) -> Any:
    yield frame
    for child in frame.children:
        yield from _walk(child)


def hot_spots(root: Any) -> dict[str, float]:
    """Seconds spent inside each hot spot (outermost calls only, so recursion is not counted twice)."""
    found: dict[str, float] = {}

    def visit(frame: Any, inside: frozenset[str]) -> None:
        path = (frame.file_path or "").replace("\\", "/")
        label = next((name for name, suffix, fn in HOT_SPOTS if frame.function == fn and path.endswith(suffix)), None)
        if label is not None and label not in inside:
            found[label] = found.get(label, 0.0) + frame.time
            inside = inside | {label}
        for child in frame.children:
            visit(child, inside)

    visit(root, frozenset())
    return found


def profile_pipeline(pipeline: Any, jpeg: bytes, runs: int, threshold: float, out: Path) -> dict[str, Any]:
    """Profile ``runs`` calls of ``pipeline.run``; write the call tree to ``out``; return the hot spots' shares."""
    try:
        from pyinstrument import Profiler
        from pyinstrument.renderers import ConsoleRenderer
    except ImportError:
        return {"tool": "pyinstrument", "error": "pyinstrument is not installed (pip install -r requirements.lock)"}

    pipeline.run(jpeg, threshold)  # warm-up outside the profile
    profiler = Profiler(interval=0.001)
    profiler.start()
    for _ in range(runs):
        pipeline.run(jpeg, threshold)
    session = profiler.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profiler.output(ConsoleRenderer(show_all=False, unicode=False, color=False)))
    root = session.root_frame()
    total = root.time if root is not None else 0.0
    spots = hot_spots(root) if root is not None else {}
    return {
        "tool": "pyinstrument",
        "photos": runs,
        "ms_per_photo": round(total / runs * 1000, 1) if runs else None,
        "share_of_time": {
            name: round(seconds / total, 3) for name, seconds in sorted(spots.items(), key=lambda kv: -kv[1])
        }
        if total
        else {},
        "call_tree": str(out.relative_to(ROOT)) if out.is_relative_to(ROOT) else str(out),
    }


def main(argv: list[str] | None = None) -> int:
    """Profile the reference photo through the in-process pipeline."""
    import json

    from bench.bench_model import bench_model
    from bench.inprocess import InProcessPipeline
    from bench.workload import REFERENCE, build_photos
    from services.contract.settings import Settings

    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--data", type=Path, default=ROOT / Settings().shared_data_dir)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "profile_inprocess.txt")
    args = p.parse_args(argv)
    photo = build_photos(args.data, (REFERENCE,))[REFERENCE.name]
    pipeline = InProcessPipeline(bench_model().path, Settings())
    print(json.dumps(profile_pipeline(pipeline, photo.jpeg, args.runs, 0.0, args.out), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
