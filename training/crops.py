"""Face crops for training and evaluation, made by the service's detector and crop policy.

``detect_faces`` (services.detector.engine) finds the faces and ``CROP_POLICY.crop``
(services.contract.crop_policy) cuts them: the very functions the detector service calls,
so a model never sees a crop made another way. Crops are cached on disk, keyed by the
image's sha256, the crop policy's name and a fingerprint of the detector code and settings, so one run pays for
detection and the next ones only read arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.contract.crop_policy import CROP_POLICY
from services.contract.imaging import ImageRejected, decode_rgb
from services.contract.settings import get_settings
from services.detector.engine import detect_faces

DEFAULT_CACHE_DIR = Path(".fakeweb/training-cache")
MAX_PIXELS = 50_000_000
MAX_SIDE = 12_000

DETECT: Callable = detect_faces
CROP: Callable = CROP_POLICY.crop
# Where faces are found and how they are cut: bump this whenever a change to services/detector moves
# a box or changes a score, or to the crop policy's code (its numbers are in CROP_POLICY.name). A
# refactor that finds the same faces keeps it, so a retrained model and the cached crops stay valid;
# tests/training/test_crops.py checks fresh detection against the recorded boxes of real photos.
DETECTOR_REVISION = "blazeface-tiles-litert-1"
# Packages whose models or kernels decide the boxes.
_DETECTOR_PACKAGES = ("mediapipe", "ai-edge-litert", "opencv-contrib-python")


def detector_params() -> dict[str, object]:
    """The detector settings the detector service uses (FAKEWEB_ environment), passed to detect_faces."""
    settings = get_settings()
    params: dict[str, object] = {"engine": settings.detector_engine, "min_face_px": settings.min_face_px}
    if hasattr(settings, "detector_tile_px"):
        params["tile_px"] = settings.detector_tile_px
    return params


def detector_version() -> str:
    """Fingerprint of the detector: revision, parameters and model packages; other detectors' crops are not reused."""
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in _DETECTOR_PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    described = {"revision": DETECTOR_REVISION, "params": detector_params(), "packages": packages}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode())
    return f"detector-{digest.hexdigest()[:12]}"


@dataclass
class FaceCrops:
    """All faces of one image: crops [F, S, S, 3] uint8, boxes [F, 4] (x, y, w, h), detector scores [F]."""

    crops: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    @property
    def count(self) -> int:
        """Number of faces found."""
        return int(self.crops.shape[0])

    def main_face(self) -> np.ndarray | None:
        """The largest face's crop (the labelled one in a single-subject photo), or None."""
        if self.count == 0:
            return None
        areas = self.boxes[:, 2] * self.boxes[:, 3]
        return self.crops[int(np.argmax(areas))]


def faces_in_image(image_rgb: np.ndarray) -> FaceCrops:
    """Detect every face with the service detector and crop each with the one crop policy."""
    detections = DETECT(image_rgb, **detector_params())
    size = CROP_POLICY.size
    crops = np.zeros((len(detections), size, size, 3), dtype=np.uint8)
    for i, det in enumerate(detections):
        crops[i] = CROP(image_rgb, det.box)
    boxes = np.array([d.box for d in detections], dtype=np.int32).reshape(-1, 4)
    scores = np.array([d.score for d in detections], dtype=np.float32)
    return FaceCrops(crops=crops, boxes=boxes, scores=scores)


def atomic_savez(entry: Path, **arrays: np.ndarray) -> None:
    """Write a cache entry (.npz) whole or not at all: concurrent writers each rename their own file."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(entry)


class CropCache:
    """Face crops of image files, cached as ``<dir>/<policy>/<detector version>/<sha[:2]>/<sha>.npz``."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.version = detector_version()
        self.root = None if cache_dir is None else Path(cache_dir) / CROP_POLICY.name / self.version

    def _entry(self, digest: str) -> Path | None:
        return None if self.root is None else self.root / digest[:2] / f"{digest}.npz"

    def faces(self, image_path: Path) -> FaceCrops:
        """Faces of one image file, from the cache or by running detection and cropping (then cached).

        An unreadable image gives zero faces; it never raises.
        """
        data = Path(image_path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        entry = self._entry(digest)
        if entry is not None and entry.is_file():
            with np.load(entry) as npz:
                return FaceCrops(crops=npz["crops"], boxes=npz["boxes"], scores=npz["scores"])
        try:
            image = decode_rgb(data, MAX_PIXELS, MAX_SIDE)
        except ImageRejected:
            faces = FaceCrops(
                crops=np.zeros((0, CROP_POLICY.size, CROP_POLICY.size, 3), np.uint8),
                boxes=np.zeros((0, 4), np.int32),
                scores=np.zeros((0,), np.float32),
            )
        else:
            faces = faces_in_image(image)
        if entry is not None:
            atomic_savez(entry, crops=faces.crops, boxes=faces.boxes, scores=faces.scores)
        return faces

    def faces_of_all(self, paths: Iterable[Path], progress: Callable[[int], None] | None = None) -> list[FaceCrops]:
        """Faces of many images, in order; ``progress(n_done)`` is called every 200 images."""
        out: list[FaceCrops] = []
        for n, path in enumerate(paths, 1):
            out.append(self.faces(path))
            if progress is not None and n % 200 == 0:
                progress(n)
        return out
