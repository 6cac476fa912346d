"""Video clips in an evaluation folder: per-clip faces as the detector finds them, and AUC per aggregation.

A clip (``<source>/<label>/<clip>.mp4|.mov|.webm``) is read as a video job reads it: frames sampled
evenly (``services.contract.video.sample_times`` at ``FAKEWEB_VIDEO_SAMPLE_FPS``, at most
``FAKEWEB_MAX_VIDEO_FRAMES``, decoded by ``DecodedVideo``), faces found and judged in each frame by
the detector's photo code (``services.detector.faces.analyse_photo``, so the crop policy and the
judgeability rules are the service's), and linked into tracks by ``services.detector.tracking``.
The clip's **main track** is the one seen in most sampled frames (FF++ clips show one person); its
judgeable frames are scored by the model. Three AUCs are reported:

- ``frame``: every scored frame of the main track is its own sample (the clip's label);
- ``mean``: one score per clip, the mean over the main track (``aggregate(..., "mean")``);
- ``confident``: one score per clip by the DFDC rule the annotator implements (``aggregate(..., "confident")``).

A clip whose main track has fewer than ``FAKEWEB_VIDEO_MIN_TRACK_FRAMES`` scored frames gets no
clip-level verdict, as in a job; its frames still count at frame level.

FF++ clip names carry the video ids (``Deepfakes_033_097.mp4``, ``youtube_033.mp4``), and training's
split groups the FF++ *frames* (``ffpp_c23``) by those ids, so a clip whose id has frames in the
train split was seen, in part, in training. Every group is reported for all clips, for the clips
seen in training (``seen_in_training``) and for the others (``clean``: ids on val/test or absent).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.annotator.clip import aggregate
from services.contract.crop_policy import CROP_POLICY
from services.contract.imaging import ImageRejected
from services.contract.settings import Settings, get_settings
from services.contract.video import sample_times, video_limits
from services.contract.video_codec import DecodedVideo
from services.detector.faces import analyse_photo
from services.detector.tracking import link_tracks
from training.crops import atomic_savez, detector_version
from training.dataset import FFPP_NAME, Item, list_items, training_split
from training.metrics import rates_at, roc_auc

VIDEO_SUFFIXES = {".mp4", ".mov", ".webm"}
FFPP_CLIP_NAME = re.compile(r"^(?P<method>[A-Za-z0-9]+)_(?P<ids>\d+(?:_\d+)*)$")
# The image source whose frames training's split groups by FF++ video id (training.dataset.group_keys).
FFPP_FRAMES_SOURCE = "ffpp_c23"
RULES = ("frame", "mean", "confident")
# Sources whose code decides which frames are read and which faces are judgeable: a cached clip is
# reused only while they are unchanged (the engine itself is fingerprinted by detector_version).
_SAMPLING_SOURCES = (
    "services/detector/faces.py",
    "services/detector/quality.py",
    "services/contract/video.py",
    "services/contract/video_codec.py",
)
_ROOT = Path(__file__).resolve().parents[1]


def list_videos(data_dir: Path, sources: set[str] | None = None) -> list[Item]:
    """Video clips under ``data_dir``, from MANIFEST.tsv when present, else from ``<source>/<label>/<clip>``."""
    return list_items(data_dir, sources, VIDEO_SUFFIXES)


def clip_method(path: str) -> str:
    """FF++ manipulation method from a clip's name (``youtube`` for reals), ``unknown`` otherwise."""
    match = FFPP_CLIP_NAME.match(Path(path).stem)
    return match.group("method") if match else "unknown"


def clip_ids(path: str) -> list[str]:
    """FF++ video ids in a clip's name (``Deepfakes_033_097.mp4`` -> 033, 097); none for other names."""
    match = FFPP_CLIP_NAME.match(Path(path).stem)
    return match.group("ids").split("_") if match else []


def ffpp_id_splits(data_dir: Path, seed: int = 1) -> dict[str, str]:
    """Which side of training's split (``training_split``, same seed) holds the FF++ frames of each video id."""
    images = list_items(data_dir)
    sides: dict[str, str] = {}
    for side, items in training_split(images, data_dir, seed=seed).items():
        for item in items:
            match = FFPP_NAME.match(Path(item.path).stem) if item.source == FFPP_FRAMES_SOURCE else None
            for video_id in match.group("ids").split("_") if match else []:
                sides.setdefault(video_id, side)
    return sides


def clip_split(path: str, id_splits: dict[str, str]) -> str:
    """The split side a clip's ids fall on: ``train`` if any id is there, else ``val``, ``test``, or ``unseen``."""
    sides = {id_splits.get(video_id, "unseen") for video_id in clip_ids(path)}
    return next((side for side in ("train", "val", "test") if side in sides), "unseen")


@dataclass
class ClipFaces:
    """Faces of a clip's sampled frames: per face its frame, box and judgeability; crops of the judgeable ones."""

    frames: int
    face_frame: np.ndarray  # [M] sampled-frame number of each face
    boxes: np.ndarray  # [M, 4] x, y, w, h
    judgeable: np.ndarray  # [M] bool
    crops: np.ndarray  # [J, S, S, 3] uint8, the judgeable faces in face order
    error: str = ""  # the ImageRejected code when the clip could not be read

    def tracks(self) -> np.ndarray:
        """Track number of each face (``services.detector.tracking.link_tracks`` over the sampled frames)."""
        per_frame = [[tuple(map(float, b)) for b in self.boxes[self.face_frame == f]] for f in range(self.frames)]
        return np.array([n for numbers in link_tracks(per_frame) for n in numbers], dtype=np.int64)

    def main_track_crops(self) -> tuple[np.ndarray, int]:
        """Crops of the main track's judgeable faces in frame order, and how many tracks the clip has."""
        numbers = self.tracks()
        if len(numbers) == 0:
            return self.crops[:0], 0
        main = int(np.bincount(numbers).argmax())  # seen in most frames; the first such track on a tie
        chosen = (numbers == main)[self.judgeable]
        return self.crops[chosen], int(numbers.max()) + 1


def faces_in_clip(data: bytes, settings: Settings) -> ClipFaces:
    """Sample, decode and search a clip's frames as the detector does; an unreadable clip gives zero frames."""
    boxes: list[list[int]] = []
    face_frame: list[int] = []
    judgeable: list[bool] = []
    crops: list[np.ndarray] = []
    frames = 0
    error = ""
    try:
        with DecodedVideo(data, video_limits(settings)) as video:
            # As services.detector.clip: a clip that does not say how long it is gets the frame cap's span.
            span = video.duration_s or settings.max_video_frames / settings.video_sample_fps
            targets = sample_times(span, settings.video_sample_fps, settings.max_video_frames)
            for sampled in video.frames_at(targets):
                output = analyse_photo(sampled.rgb, "evaluate", settings)
                for face in output.result.faces:
                    boxes.append([int(v) for v in face.box])
                    face_frame.append(frames)
                    judgeable.append(face.index in output.crops)
                    if face.index in output.crops:
                        crops.append(output.crops[face.index])
                frames += 1
    except ImageRejected as exc:
        error = exc.code
    size = CROP_POLICY.size
    return ClipFaces(
        frames=frames,
        face_frame=np.array(face_frame, dtype=np.int64),
        boxes=np.array(boxes, dtype=np.int64).reshape(-1, 4),
        judgeable=np.array(judgeable, dtype=bool),
        crops=np.array(crops, dtype=np.uint8).reshape(-1, size, size, 3),
        error=error,
    )


def clip_cache_key(settings: Settings) -> str:
    """Fingerprint of everything that decides a clip's faces: detector, sampling, judgeability settings and code."""
    described = {
        "detector": detector_version(),
        "policy": CROP_POLICY.name,
        "settings": {
            name: getattr(settings, name)
            for name in ("video_sample_fps", "max_video_frames", "min_face_px", "blur_threshold", "cut_off_visible")
        },
        "code": {name: hashlib.sha256((_ROOT / name).read_bytes()).hexdigest() for name in _SAMPLING_SOURCES},
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:12]


class ClipCache:
    """Faces of clip files, cached as ``<dir>/videos/<key>/<sha[:2]>/<sha>.npz`` (``clip_cache_key``)."""

    def __init__(self, cache_dir: Path | None, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.version = f"clips-{clip_cache_key(self.settings)}"
        self.root = None if cache_dir is None else Path(cache_dir) / "videos" / self.version

    def faces(self, path: Path) -> ClipFaces:
        """Faces of one clip, from the cache or by decoding and detecting (then cached)."""
        data = Path(path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        entry = None if self.root is None else self.root / digest[:2] / f"{digest}.npz"
        if entry is not None and entry.is_file():
            with np.load(entry) as npz:
                return ClipFaces(
                    frames=int(npz["frames"]),
                    face_frame=npz["face_frame"],
                    boxes=npz["boxes"],
                    judgeable=npz["judgeable"],
                    crops=npz["crops"],
                    error=str(npz["error"]),
                )
        clip = faces_in_clip(data, self.settings)
        if entry is not None:
            atomic_savez(
                entry,
                frames=clip.frames,
                face_frame=clip.face_frame,
                boxes=clip.boxes,
                judgeable=clip.judgeable,
                crops=clip.crops,
                error=clip.error,
            )
        return clip


@dataclass
class ScoredClip:
    """One clip's outcome: where its ids sit in training's split, its tracks and its main track's frame scores."""

    item: Item
    split: str
    frames: int
    tracks: int
    scores: np.ndarray
    error: str

    @property
    def seen_in_training(self) -> bool:
        """True when frames of this clip's videos were in the train split."""
        return self.split == "train"


def score_clips(
    items: Sequence[Item],
    clips: Sequence[ClipFaces],
    predict: Callable[[np.ndarray], np.ndarray],
    id_splits: dict[str, str],
    batch_size: int = 64,
) -> list[ScoredClip]:
    """The main track's frame probabilities of every clip (``predict``: uint8 crops -> probabilities)."""
    out = []
    for item, clip in zip(items, clips, strict=True):
        crops, tracks = clip.main_track_crops()
        scores = np.concatenate(
            [np.asarray(predict(crops[i : i + batch_size]), np.float64) for i in range(0, len(crops), batch_size)]
            + [np.zeros((0,))]
        )
        out.append(ScoredClip(item, clip_split(item.path, id_splits), clip.frames, tracks, scores, clip.error))
    return out


def _block(clips: Sequence[ScoredClip], threshold: float, min_track_frames: int) -> dict[str, object]:
    """Counts and, per aggregation, AUC and the rates at ``threshold`` for one group of clips."""
    judged = [c for c in clips if len(c.scores) >= min_track_frames]
    labels = {
        "frame": np.array([c.item.label == "fake" for c in clips for _ in c.scores], dtype=np.int64),
        "mean": np.array([c.item.label == "fake" for c in judged], dtype=np.int64),
    }
    labels["confident"] = labels["mean"]
    scores = {
        "frame": np.concatenate([c.scores for c in clips] + [np.zeros((0,))]),
        "mean": np.array([aggregate(list(c.scores), "mean") for c in judged]),
        "confident": np.array([aggregate(list(c.scores), "confident") for c in judged]),
    }
    return {
        "clips": len(clips),
        "fake_clips": sum(c.item.label == "fake" for c in clips),
        "real_clips": sum(c.item.label == "real" for c in clips),
        "clips_judged": len(judged),
        "frames_sampled": sum(c.frames for c in clips),
        "frames_scored": len(scores["frame"]),
        "auc": {rule: roc_auc(labels[rule], scores[rule]) for rule in RULES},
        "at_threshold": {rule: rates_at(labels[rule], scores[rule], threshold) for rule in RULES},
    }


def video_groups(clips: Sequence[ScoredClip]) -> dict[str, list[int]]:
    """Indices per reported group: each source, and per manipulation method its fakes with the source's reals."""
    groups: dict[str, list[int]] = {}
    methods = {(c.item.source, clip_method(c.item.path)) for c in clips if c.item.label == "fake"}
    for i, clip in enumerate(clips):
        groups.setdefault(clip.item.source, []).append(i)
        for source, method in sorted(methods):
            if clip.item.source == source and (clip.item.label == "real" or clip_method(clip.item.path) == method):
                groups.setdefault(f"{source}:{method}", []).append(i)
    return groups


def video_report(clips: Sequence[ScoredClip], threshold: float, settings: Settings | None = None) -> dict[str, object]:
    """The video part of the evaluation report: per group, all clips / seen in training / clean."""
    settings = settings or get_settings()
    min_frames = settings.video_min_track_frames
    sides = {side: sum(c.split == side for c in clips) for side in ("train", "val", "test", "unseen")}
    clean = len(clips) - sides["train"]
    groups = {}
    for name, idx in sorted(video_groups(clips).items()):
        members = [clips[i] for i in idx]
        groups[name] = {
            "all": _block(members, threshold, min_frames),
            "seen_in_training": _block([c for c in members if c.seen_in_training], threshold, min_frames),
            "clean": _block([c for c in members if not c.seen_in_training], threshold, min_frames),
        }
    if not clips:
        contamination = "no clip"
    elif clean == 0:
        contamination = (
            "every clip's video ids have frames in training's train split: no clean clip, "
            "all figures are on videos the model saw frames of"
        )
    else:
        contamination = f"{sides['train']} clips seen in training, {clean} clean (ids on val/test or not in the split)"
    return {
        "sampling": {
            "fps": settings.video_sample_fps,
            "max_frames": settings.max_video_frames,
            "min_track_frames": min_frames,
            "clip_score": "main track (seen in most sampled frames): frame = each scored frame, mean, confident",
        },
        "clips": len(clips),
        "clips_unreadable": {c.item.path: c.error for c in clips if c.error},
        "clips_without_scored_face": sorted(c.item.path for c in clips if not len(c.scores)),
        "split_of_ids": sides,
        "contamination": contamination,
        "per_group": groups,
        "per_clip": [
            {
                "path": c.item.path,
                "label": c.item.label,
                "method": clip_method(c.item.path),
                "split": c.split,
                "frames_sampled": c.frames,
                "tracks": c.tracks,
                "frames_scored": len(c.scores),
                "mean": round(aggregate(list(c.scores), "mean"), 4) if len(c.scores) else None,
                "confident": round(aggregate(list(c.scores), "confident"), 4) if len(c.scores) else None,
            }
            for c in clips
        ],
    }
