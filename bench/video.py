"""Videos through the whole stack: a 10 s 720p clip, and how the cost grows with clip length and faces.

Starts its own LocalStack serving the benchmark model (``bench_model``: the newest bundled
version), builds clips from bench/collage.py's photos (real faces from ../shared/data on a
synthetic background, the camera swaying 20 px left and right every 4 s so every frame differs),
submits each once through the gateway and reads the job's record: wall time (upload to the
record's last write), each stage's run time, and the time per analysed frame. Clips: a warm-up,
the 10 s 1280x720 25 fps reference with one face (twice), 5 s and 20 s with one face, 10 s with
three faces. Default settings (2 sampled frames per second) except the per-key rate limit (off).

Usage: .venv/bin/python -m bench.video [--out bench/results/video.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from bench.bench_model import bench_model, model_repository  # noqa: E402
from bench.clients import stage_split  # noqa: E402
from bench.collage import load_sources, make_collage  # noqa: E402
from bench.servers import running_stack  # noqa: E402
from services.contract.video_codec import encode_h264  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 25
SWAY_PX = 20
SWAY_PERIOD_S = 4.0
KEY_HEADER = {"X-API-Key": "fakeweb-dev-key"}


@dataclass(frozen=True)
class ClipSpec:
    """A benchmark clip: ``seconds`` at 720p 25 fps with ``faces`` faces of ``face_px`` pixels."""

    name: str
    seconds: float
    faces: int
    face_px: int = 180


WARM_UP = ClipSpec("warm-up_2s_1face", 2.0, 1)
RUNS = (
    ClipSpec("720p_10s_1face", 10.0, 1),
    ClipSpec("720p_10s_1face_again", 10.0, 1),
    ClipSpec("720p_5s_1face", 5.0, 1),
    ClipSpec("720p_20s_1face", 20.0, 1),
    ClipSpec("720p_10s_3faces", 10.0, 3),
)


def build_clip(spec: ClipSpec, data_dir: Path, seed: int) -> bytes:
    """An H.264 MP4 of a collage the camera sways across by ``SWAY_PX``; each spec and seed gives distinct bytes."""
    sources = load_sources(data_dir, count=8, seed=seed)
    rng = np.random.default_rng(seed)
    collage = make_collage(sources, WIDTH + 2 * SWAY_PX, HEIGHT, [spec.face_px] * spec.faces, rng).image
    lefts = (
        SWAY_PX + round(SWAY_PX * np.sin(2 * np.pi * n / FPS / SWAY_PERIOD_S)) for n in range(round(spec.seconds * FPS))
    )
    return encode_h264((collage[:, left : left + WIDTH] for left in lefts), FPS, WIDTH, HEIGHT)


def run_clip(gateway_url: str, clip: bytes, timeout_s: float = 600.0) -> dict[str, Any]:
    """Submit one clip, wait for its job, and return what it cost."""
    with httpx.Client(base_url=gateway_url, timeout=60, headers=KEY_HEADER) as client:
        sent = time.time()
        answer = client.post("/v1/jobs", files={"image": ("clip.mp4", clip, "video/mp4")})
        answer.raise_for_status()
        job_id = answer.json()["id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            doc = client.get(f"/v1/jobs/{job_id}").json()
            if doc["status"] in ("completed", "failed", "no_face"):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"job {job_id} did not end within {timeout_s} s")
    if doc["status"] != "completed":
        raise RuntimeError(f"job {job_id} ended {doc['status']}: {doc.get('error')}")
    wall = float(doc["updated_at"]) - sent
    frames = doc["video"]["frames_analysed"]
    return {
        "job_id": job_id,
        "status": doc["status"],
        "bytes": len(clip),
        "frames_analysed": frames,
        "faces_scored": doc["progress"].get("faces_scored", 0),
        "tracks": len(doc["tracks"]),
        "wall_s": round(wall, 3),
        "per_frame_ms": round(1000 * wall / frames, 1),
        "stages_s": {name: round(seconds, 3) for name, seconds in stage_split(doc, sent).items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the video benchmark and write its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "video.json")
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    args = parser.parse_args(argv)
    model = bench_model()
    results: dict[str, Any] = {
        "model": model.description,
        "load_before": os.getloadavg(),
        "clip": f"{WIDTH}x{HEIGHT} H.264 at {FPS} fps, sampled at 2 fps",
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="fakeweb-bench-video-") as folder:
        run_dir = Path(folder)
        base = model_repository(model, run_dir / "models")
        with running_stack(run_dir, base) as stack:
            run_clip(stack.gateway_url, build_clip(WARM_UP, args.data, seed=0))
            for seed, spec in enumerate(RUNS, 1):
                outcome = run_clip(stack.gateway_url, build_clip(spec, args.data, seed=seed))
                results["runs"][spec.name] = outcome
                print(f"{spec.name}: {outcome['wall_s']} s, {outcome['per_frame_ms']} ms per frame", flush=True)
    results["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
