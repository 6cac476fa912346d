"""Training augmentations against shortcuts, and self-blended fakes (the Self-Blended Images idea).

Every augmentation is applied to real and fake crops alike, so that JPEG quality, scale,
sharpness, noise and colour carry no label: the model has to look at the face.
A self-blended fake is a real face with a slightly altered copy of itself blended back in
inside a mask derived from its FaceMesh landmarks (Shiohara & Yamasaki, CVPR 2022): it shows
the model blending boundaries and colour mismatches without any fake data.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import cv2
import numpy as np

from services.contract.crop_policy import CROP_POLICY

_mesh_lock = threading.Lock()
_mesh_model = None


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Re-encode an RGB uint8 image as JPEG at ``quality`` and decode it again."""
    ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return image
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()


def augment(image: np.ndarray, rng: np.random.Generator, social: bool = False) -> np.ndarray:
    """One random, label-independent variation of an RGB uint8 crop (same size out); ``social`` adds
    :func:`social_media`'s smoothing, sharpening and double JPEG."""
    size = image.shape[0]
    out = image
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if rng.random() < 0.5:  # small shift and zoom, as a detector box jitters
        scale = rng.uniform(0.94, 1.06)
        tx, ty = rng.uniform(-0.03, 0.03, size=2) * size
        matrix = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-5, 5), scale)
        matrix[:, 2] += (tx, ty)
        out = cv2.warpAffine(np.ascontiguousarray(out), matrix, (size, size), borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.3:  # down- and up-scaling
        small = max(32, int(size * rng.uniform(0.35, 0.9)))
        down = cv2.resize(np.ascontiguousarray(out), (small, small), interpolation=cv2.INTER_AREA)
        out = cv2.resize(down, (size, size), interpolation=[cv2.INTER_LINEAR, cv2.INTER_CUBIC][rng.integers(2)])
    if rng.random() < 0.2:
        out = cv2.GaussianBlur(np.ascontiguousarray(out), (0, 0), rng.uniform(0.3, 1.5))
    if rng.random() < 0.5:  # colour jitter: brightness, contrast, saturation
        f = out.astype(np.float32)
        gray = f.mean(axis=2, keepdims=True)
        f = gray + (f - gray) * rng.uniform(0.75, 1.25)
        f = (f - f.mean()) * rng.uniform(0.8, 1.2) + f.mean() + rng.uniform(-20, 20)
        out = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        noise = rng.normal(0.0, rng.uniform(2.0, 8.0), size=out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if social:
        out = social_media(out, rng)
    if rng.random() < 0.7:
        out = jpeg(np.ascontiguousarray(out), int(rng.integers(30, 96)))
    return np.ascontiguousarray(out)


def social_media(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What apps do to real photos before anyone checks them: beauty smoothing, sharpening, heavy down-scaling
    (small faces in group photos), a first JPEG pass (the caller's JPEG makes it a double compression).
    Label-independent like every augmentation here, so a smoothed or sharpened face is no evidence either way."""
    out = np.ascontiguousarray(image)
    if rng.random() < 0.15:  # skin smoothing filters are edge-preserving blurs
        out = cv2.bilateralFilter(out, int(rng.integers(5, 10)), float(rng.uniform(20, 60)), float(rng.uniform(3, 8)))
    if rng.random() < 0.15:  # unsharp mask, as upload pipelines and "enhance" buttons apply
        blurred = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.8, 2.0)))
        amount = float(rng.uniform(0.3, 1.0))
        out = cv2.addWeighted(out, 1.0 + amount, blurred, -amount, 0)
    if rng.random() < 0.2:  # a small face in a group photo or a thumbnail, upscaled to the crop size
        size = out.shape[0]
        small = int(rng.integers(40, 97))
        down = cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA)
        out = cv2.resize(down, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.2:
        out = jpeg(out, int(rng.integers(60, 96)))
    return np.ascontiguousarray(out)


def face_landmarks(crop: np.ndarray) -> np.ndarray | None:
    """468 FaceMesh landmarks (x, y) in crop pixels, or None when no face mesh is found."""
    global _mesh_model
    with _mesh_lock:
        if _mesh_model is None:
            import mediapipe as mp

            _mesh_model = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1)
        result = _mesh_model.process(np.ascontiguousarray(crop))
    if not result.multi_face_landmarks:
        return None
    h, w = crop.shape[:2]
    return np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark], dtype=np.float32)


def _hull_mask(size: int, points: np.ndarray) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(points.astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255)
    return mask


def blend_mask(size: int, landmarks: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """A soft float mask in [0, 1]: the landmark hull (or a central ellipse), deformed and blurred."""
    if landmarks is not None:
        mask = _hull_mask(size, landmarks)
    else:
        mask = np.zeros((size, size), np.uint8)
        c = size // 2
        cv2.ellipse(mask, (c, c), (int(size * 0.3), int(size * 0.36)), 0, 0, 360, 255, -1)
    kernel = int(rng.integers(3, 15)) | 1
    if rng.random() < 0.5:
        mask = cv2.erode(mask, np.ones((kernel, kernel), np.uint8))
    else:
        mask = cv2.dilate(mask, np.ones((kernel, kernel), np.uint8))
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), rng.uniform(2.0, 9.0))
    soft = soft / max(float(soft.max()), 1e-6)
    return soft * rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


def self_blend(real: np.ndarray, landmarks: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """A self-blended fake made from one real RGB uint8 crop."""
    size = real.shape[0]
    source = real.astype(np.float32)
    # Source-target mismatch: colour/brightness shift and sharpen-or-blur on the source copy.
    source = source * rng.uniform(0.9, 1.1, size=3) + rng.uniform(-12, 12, size=3)
    if rng.random() < 0.5:
        source = cv2.GaussianBlur(source, (0, 0), rng.uniform(0.5, 1.5))
    else:
        blurred = cv2.GaussianBlur(source, (0, 0), 1.0)
        source = source + rng.uniform(0.3, 1.0) * (source - blurred)
    # A small geometric misalignment, as a swapped face never fits exactly.
    scale = rng.uniform(0.95, 1.05)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), 0.0, scale)
    matrix[:, 2] += rng.uniform(-0.03, 0.03, size=2) * size
    source = cv2.warpAffine(source, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)
    mask = blend_mask(size, landmarks, rng)[..., None]
    blended = mask * source + (1.0 - mask) * real.astype(np.float32)
    return np.clip(blended, 0, 255).astype(np.uint8)


def cached_landmarks(crops: list[np.ndarray], cache_dir: Path | None) -> list[np.ndarray | None]:
    """FaceMesh landmarks of each crop (for SBI masks), cached by the crop's sha1."""
    store = None if cache_dir is None else Path(cache_dir) / CROP_POLICY.name / "facemesh.npz"
    known: dict[str, np.ndarray] = {}
    if store is not None and store.is_file():
        with np.load(store) as npz:
            known = {k: npz[k] for k in npz.files}
    out: list[np.ndarray | None] = []
    changed = False
    for crop in crops:
        key = hashlib.sha1(crop.tobytes()).hexdigest()  # noqa: S324 - a cache key, not security
        if key not in known:
            found = face_landmarks(crop)
            known[key] = np.zeros((0, 2), np.float32) if found is None else found
            changed = True
        out.append(known[key] if len(known[key]) else None)
    if store is not None and changed:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_suffix(".tmp.npz")
        np.savez(tmp, **known)
        tmp.replace(store)
    return out
