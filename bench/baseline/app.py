"""The prototype-style baseline: one synchronous FastAPI app that does all the work inside the request.

This mirrors the original hackathon design, for the benchmark only (it is not part of FakeWeb):
per request it decodes the upload with OpenCV, finds faces with OpenCV's Haar cascade on the
whole photo, scores every face with a VGG16-sized Keras classifier (``keras.applications.VGG16``,
random weights, 2 classes: only the cost matters) in one batched forward pass, runs MediaPipe
FaceMesh on the whole photo and draws the tesselation with MediaPipe's drawing utilities, then
encodes the annotated JPEG and returns it base64 in the JSON answer.

Run: ``uvicorn bench.baseline.app:app --host 127.0.0.1 --port PORT`` (one process). The endpoint
is a plain ``def``: Starlette runs it in its thread pool, so concurrent requests share the process.
The Keras model is built at start-up; Haar cascade and FaceMesh objects are made once per thread.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Annotated

import cv2
import numpy as np
from fastapi import FastAPI, File, HTTPException, UploadFile

INPUT_SIZE = 224
_local = threading.local()
_model_lock = threading.Lock()
_model = None


def vgg16_classifier():
    """The VGG16-sized classifier (138 M parameters, random weights), built once."""
    global _model
    with _model_lock:
        if _model is None:
            import keras

            keras.utils.set_random_seed(0)
            _model = keras.applications.VGG16(weights=None, include_top=True, classes=2)
    return _model


def _cascade() -> cv2.CascadeClassifier:
    if getattr(_local, "cascade", None) is None:
        _local.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    return _local.cascade


def _face_mesh(max_faces: int):
    meshes = getattr(_local, "meshes", None)
    if meshes is None:
        meshes = _local.meshes = {}
    if max_faces not in meshes:
        import mediapipe as mp

        meshes[max_faces] = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True, min_detection_confidence=0.5
        )
    return meshes[max_faces]


def analyze_image(data: bytes) -> dict[str, object]:
    """Detect, classify and draw on one photo; return faces, the annotated JPEG and seconds per step."""
    import mediapipe as mp

    clock = time.perf_counter
    t0 = clock()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise HTTPException(422, "not an image")
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    t1 = clock()
    boxes = _cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30))
    boxes = [tuple(int(v) for v in box) for box in (boxes if len(boxes) else [])]
    t2 = clock()
    probabilities: list[float] = []
    if boxes:
        crops = [cv2.resize(image[y : y + h, x : x + w], (INPUT_SIZE, INPUT_SIZE)) for x, y, w, h in boxes]
        batch = np.stack(crops)[..., ::-1].astype(np.float32)
        output = np.asarray(vgg16_classifier()(batch, training=False))
        probabilities = [float(p) for p in output[:, 1]]
    t3 = clock()
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    mesh = _face_mesh(max(1, len(boxes))).process(rgb)
    spec = mp.solutions.drawing_styles.get_default_face_mesh_tesselation_style()
    for landmarks in mesh.multi_face_landmarks or []:
        mp.solutions.drawing_utils.draw_landmarks(
            image, landmarks, mp.solutions.face_mesh.FACEMESH_TESSELATION, None, spec
        )
    for (x, y, w, h), p in zip(boxes, probabilities, strict=True):
        colour = (0, 0, 255) if p >= 0.5 else (0, 200, 0)
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, 2)
        cv2.putText(image, f"{p:.0%}", (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    t4 = clock()
    return {
        "faces": [{"box": list(box), "fake_probability": p} for box, p in zip(boxes, probabilities, strict=True)],
        "meshes": len(mesh.multi_face_landmarks or []),
        "image_jpeg_base64": base64.b64encode(jpeg.tobytes()).decode() if ok else None,
        "seconds": {"decode": t1 - t0, "detect": t2 - t1, "classify": t3 - t2, "annotate": t4 - t3},
    }


app = FastAPI(title="prototype-style baseline (benchmark only)")


@app.on_event("startup")
def build_model() -> None:
    """Build the classifier before the first request (as the prototype did at import)."""
    vgg16_classifier()


@app.get("/health")
def health() -> dict[str, str]:
    """Answers once the app has started (model built)."""
    return {"status": "ok"}


@app.post("/analyze")
def analyze(image: Annotated[UploadFile, File()]) -> dict[str, object]:
    """The whole analysis inside the request."""
    return analyze_image(image.file.read())
