"""MediaPipe's full-range BlazeFace model run directly through LiteRT, for the detector's many tiles.

The tile pyramid runs the full-range model on dozens of tiles per photo; MediaPipe's graph adds 1-2 ms
to the model's ~4.5 ms on every call (``bench/detector_latency.py`` times both), and one call per tile
pays the interpreter's per-call cost each time; ``detect_many`` stacks several tiles into one call
(the batch dimension resizes; each tile's answer is the one it gets alone) when the interpreter runs
on more than one thread (``FAKEWEB_DETECTOR_THREADS``); on one thread a tile per call measured cheaper. This
module loads the same ``face_detection_full_range_sparse.tflite`` from the mediapipe wheel and
repeats what MediaPipe's ``FaceDetectionFullRange`` graph does around it: letterbox to 192x192,
scale to [-1, 1], decode the 48x48 anchor grid (one fixed-size anchor per 4 px cell; box centre,
size and six keypoints as offsets in input pixels; sigmoid score) and merge overlaps with weighted
non-maximum suppression (IoU > 0.3). On a 192 px tile it returns MediaPipe's faces to the pixel and
score (``tests/detector/test_full_range.py``); an input of another size is resampled slightly
differently, so the detector keeps MediaPipe for its one whole-photo pass.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from services.contract.held_model import HeldModel

INPUT = 192
GRID = 48
KEYPOINTS = 6
NMS_IOU = 0.3
SCORE_CLIP = 100.0
# The score threshold inside MediaPipe's full-range graph (its Python `min_detection_confidence`
# does not reach it): with it, this module finds exactly the faces MediaPipe finds.
MIN_SCORE = 0.6
# Tiles per model call, by threads per call. Measured side by side on this project's 2-core VM
# (bench.detector_batching, 1 MP reference photo, CPU ms of the process per photo / wall ms under
# load 5-7): one thread, one tile per call 462 / 1399, in 4s 600 / 1664, in 16s 664 / 1561 (the
# activations of one tile stay in cache, of many they do not); two threads, one tile per call
# 617 / 925, in 4s 501 / 674 (a bigger call splits better across the threads).
TILES_PER_CALL = {1: 1}
TILES_PER_CALL_THREADED = 4
# Overrides the tiles per call when set (the bench compares batch sizes with it).
MAX_BATCH: int | None = None
# Where positions and sizes sit in a decoded candidate (x, y, w, h, then x, y of each keypoint).
X_POSITIONS = [0, *range(4, 4 + 2 * KEYPOINTS, 2)]
Y_POSITIONS = [1, *range(5, 4 + 2 * KEYPOINTS, 2)]
X_ALL = [*X_POSITIONS, 2]
Y_ALL = [*Y_POSITIONS, 3]


def model_path() -> Path:
    """The full-range model shipped inside the mediapipe wheel."""
    import mediapipe

    return Path(mediapipe.__file__).parent / "modules" / "face_detection" / "face_detection_full_range_sparse.tflite"


def _anchors() -> np.ndarray:
    """Anchor centres ``(x, y)`` in input pixels, row by row, as MediaPipe's SSD anchor calculator lays them out."""
    centres = (np.arange(GRID, dtype=np.float32) + 0.5) * (INPUT / GRID)
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


ANCHORS = _anchors()


class LiteRtFullRange(HeldModel[Any]):
    """The full-range ``.tflite`` in a LiteRT interpreter: a batch of 192 px inputs per call.

    The model's batch dimension resizes (its outputs come back as one ``[1, n * 2304, k]`` run,
    tile after tile); the interpreter is re-allocated only when the batch size changes. XNNPACK
    runs each call on ``FAKEWEB_DETECTOR_THREADS`` threads.
    """

    def __init__(self, threads: int | None = None) -> None:
        super().__init__("blazeface full-range (LiteRT)")
        self.threads = threads  # None: FAKEWEB_DETECTOR_THREADS, read when the model is made
        self.tiles_per_call = 1  # set when the model is made, from the threads it runs on
        self._batch = 0

    def _load(self) -> Any:
        from ai_edge_litert.interpreter import Interpreter

        from services.contract.settings import get_settings

        path = model_path()
        threads = get_settings().detector_threads if self.threads is None else self.threads
        threads = threads or len(os.sched_getaffinity(0))
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
        self._batch = 1
        self.tiles_per_call = TILES_PER_CALL.get(threads, TILES_PER_CALL_THREADED)
        self.version = f"{path.name}, {threads} thread{'s' if threads > 1 else ''}"
        return interpreter

    def _warm_up(self, model: Any) -> None:
        self._predict(model, np.zeros((1, INPUT, INPUT, 3), np.float32))

    def _predict(self, model: Any, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (inp,) = model.get_input_details()
        count = batch.shape[0]
        if count != self._batch:
            model.resize_tensor_input(inp["index"], [count, INPUT, INPUT, 3])
            model.allocate_tensors()
            self._batch = count
        model.set_tensor(inp["index"], batch)
        model.invoke()
        # get_tensor returns copies, so the arrays outlive the next call.
        outputs = {int(o["shape"][-1]): model.get_tensor(o["index"]) for o in model.get_output_details()}
        return outputs[16].reshape(count, GRID * GRID, 16), outputs[1].reshape(count, GRID * GRID)


# One interpreter per process, made on first use (or at the worker's start-up), never before a fork.
MODEL = LiteRtFullRange()


def letterbox(image_rgb: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The image scaled so its longer side is 192 and centred on black, as MediaPipe letterboxes.

    Returns the float canvas and ``(left, top, scale_x, scale_y)``: canvas = image * scale + offset.
    """
    height, width = image_rgb.shape[:2]
    scale = INPUT / max(height, width)
    if scale != 1.0:
        size = (max(1, min(INPUT, round(width * scale))), max(1, min(INPUT, round(height * scale))))
        image_rgb = cv2.resize(image_rgb, size, interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((INPUT, INPUT, 3), dtype=np.float32)
    h, w = image_rgb.shape[:2]
    top, left = (INPUT - h) // 2, (INPUT - w) // 2
    canvas[top : top + h, left : left + w] = image_rgb
    return canvas, (float(left), float(top), w / width, h / height)


def raw_outputs(tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One model call on ``[n, 192, 192, 3]`` floats in [-1, 1]: regressors ``[n, 2304, 16]``, logits ``[n, 2304]``."""
    return MODEL.predict(np.ascontiguousarray(tensor, dtype=np.float32))


def decode(regressors: np.ndarray, logits: np.ndarray, min_score: float) -> list[tuple[np.ndarray, float]]:
    """Anchor offsets to ``(values, score)`` per candidate; values are x, y, w, h then 6 keypoints, input pixels."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
    keep = np.flatnonzero(scores >= min_score)
    candidates = []
    for i in keep:
        r = regressors[i]
        ax, ay = ANCHORS[i]
        cx, cy, w, h = r[0] + ax, r[1] + ay, r[2], r[3]
        values = np.empty(4 + 2 * KEYPOINTS, dtype=np.float64)
        values[:4] = (cx - w / 2, cy - h / 2, w, h)
        values[4::2] = r[4 : 4 + 2 * KEYPOINTS : 2] + ax
        values[5::2] = r[5 : 4 + 2 * KEYPOINTS : 2] + ay
        candidates.append((values, float(scores[i])))
    return candidates


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def weighted_nms(candidates: list[tuple[np.ndarray, float]]) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's WEIGHTED suppression: each cluster (IoU > 0.3 with its best) becomes its score-weighted mean."""
    remaining = sorted(candidates, key=lambda c: -c[1])
    merged = []
    while remaining:
        best = remaining[0]
        overlaps = [_iou(best[0], c[0]) > NMS_IOU for c in remaining]
        cluster = [c for c, overlap in zip(remaining, overlaps, strict=True) if overlap]
        rest = [c for c, overlap in zip(remaining, overlaps, strict=True) if not overlap]
        weights = np.array([c[1] for c in cluster])
        values = np.average(np.stack([c[0] for c in cluster]), axis=0, weights=weights)
        merged.append((values, best[1]))
        remaining = rest
    return merged


Face = tuple[tuple[float, float, float, float], float, list[tuple[float, float]]]


def _faces(
    regressors: np.ndarray, logits: np.ndarray, frame: tuple[float, float, float, float], min_score: float
) -> list[Face]:
    left, top, scale_x, scale_y = frame
    faces = []
    for values, score in weighted_nms(decode(regressors, logits, min_score)):
        values[X_POSITIONS] -= left
        values[Y_POSITIONS] -= top
        values[X_ALL] /= scale_x
        values[Y_ALL] /= scale_y
        box = (float(values[0]), float(values[1]), float(values[2]), float(values[3]))
        keypoints = [(float(values[4 + 2 * k]), float(values[5 + 2 * k])) for k in range(KEYPOINTS)]
        faces.append((box, score, keypoints))
    return faces


def detect_many(images_rgb: list[np.ndarray], min_score: float = MIN_SCORE) -> list[list[Face]]:
    """Faces in each of several RGB uint8 images, several per model call; what ``detect`` gives each alone."""
    # The logit at which the sigmoid reaches min_score: tiles with no anchor above it are skipped unread.
    min_logit = float(np.log(min_score / (1.0 - min_score))) - 1e-6
    found: list[list[Face]] = []
    MODEL.load()
    per_call = MAX_BATCH or MODEL.tiles_per_call
    for start in range(0, len(images_rgb), per_call):
        chunk = images_rgb[start : start + per_call]
        batch = np.empty((len(chunk), INPUT, INPUT, 3), dtype=np.float32)
        frames = []
        for i, image in enumerate(chunk):
            canvas, frame = letterbox(image)
            np.divide(canvas, np.float32(127.5), out=batch[i])  # as MediaPipe: x / 127.5 - 1
            frames.append(frame)
        batch -= np.float32(1.0)
        regressors, logits = raw_outputs(batch)
        for i, frame in enumerate(frames):
            if logits[i].max() < min_logit:
                found.append([])
                continue
            found.append(_faces(regressors[i], logits[i], frame, min_score))
    return found


def detect(image_rgb: np.ndarray, min_score: float = MIN_SCORE) -> list[Face]:
    """Faces in an RGB uint8 image of any size: ``(box x, y, w, h), score, keypoints`` in its pixels."""
    return detect_many([image_rgb], min_score)[0]
