"""The bundled smoke-test face crop: a drawn (synthetic) face, so no dataset photo enters the repository.

``python -m fakeweb_cli.smoke_face`` rewrites ``assets/smoke_face.png`` from this drawing.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from services.contract.imaging import decode_png_rgb, encode_png

SMOKE_FACE_PNG = Path(__file__).resolve().parent / "assets" / "smoke_face.png"


def draw_smoke_face(size: int = 224) -> np.ndarray:
    """An RGB uint8 cartoon face filling a crop the way the crop policy frames a face."""
    image = np.full((size, size, 3), (96, 110, 130), np.uint8)
    s = size / 224
    center = (size // 2, int(118 * s))
    cv2.ellipse(image, center, (int(70 * s), int(90 * s)), 0, 0, 360, (224, 182, 150), -1, cv2.LINE_AA)
    for dx in (-28, 28):
        eye = (center[0] + int(dx * s), int(100 * s))
        cv2.ellipse(image, eye, (int(13 * s), int(7 * s)), 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA)
        cv2.circle(image, eye, int(5 * s), (60, 40, 30), -1, cv2.LINE_AA)
        cv2.line(image, (eye[0] - int(14 * s), eye[1] - int(15 * s)), (eye[0] + int(14 * s), eye[1] - int(17 * s)),
                 (70, 50, 40), max(1, int(4 * s)), cv2.LINE_AA)  # fmt: skip
    nose = np.array(
        [[center[0], int(108 * s)], [center[0] - int(9 * s), int(140 * s)], [center[0] + int(9 * s), int(140 * s)]]
    )
    cv2.polylines(image, [nose], False, (180, 130, 110), max(1, int(2 * s)), cv2.LINE_AA)
    cv2.ellipse(
        image,
        (center[0], int(165 * s)),
        (int(24 * s), int(9 * s)),
        0,
        0,
        180,
        (170, 70, 70),
        max(1, int(4 * s)),
        cv2.LINE_AA,
    )
    return image


def load_smoke_face() -> np.ndarray:
    """The committed smoke face crop (RGB uint8, 224x224)."""
    return decode_png_rgb(SMOKE_FACE_PNG.read_bytes())


if __name__ == "__main__":
    SMOKE_FACE_PNG.parent.mkdir(parents=True, exist_ok=True)
    SMOKE_FACE_PNG.write_bytes(encode_png(draw_smoke_face()))
    print(SMOKE_FACE_PNG)
