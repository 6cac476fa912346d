"""Small test photos built from ../shared/data (nothing is copied into the repository)."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from services.contract.imaging import decode_rgb

# Press photos with one clear face each; a montage of them is a multi-face photo whose
# faces are known to be in separate panels.
MONTAGE_PHOTOS = ("img21.jpg", "img46.jpg", "img13.jpg")


def load_rgb(path: Path) -> np.ndarray:
    """Decode a photo the way the workers do."""
    return decode_rgb(path.read_bytes(), 50_000_000, 12_000)


def jpeg_bytes(image_rgb: np.ndarray, quality: int = 92, exif: bytes | None = None) -> bytes:
    """Encode as JPEG, optionally with an EXIF block."""
    buf = io.BytesIO()
    kwargs = {"exif": exif} if exif else {}
    Image.fromarray(image_rgb).save(buf, format="JPEG", quality=quality, **kwargs)
    return buf.getvalue()


def montage(paths: list[Path], panel_height: int = 480, gap: int = 40) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Photos side by side on a grey background; returns the image and each panel's (left, width, height)."""
    panels = []
    for path in paths:
        rgb = load_rgb(path)
        scale = panel_height / rgb.shape[0]
        panels.append(cv2.resize(rgb, (round(rgb.shape[1] * scale), panel_height), interpolation=cv2.INTER_AREA))
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) + 1)
    canvas = np.full((panel_height + 2 * gap, width, 3), 128, dtype=np.uint8)
    spans = []
    left = gap
    for panel in panels:
        canvas[gap : gap + panel_height, left : left + panel.shape[1]] = panel
        spans.append((left, panel.shape[1], panel_height))
        left += panel.shape[1] + gap
    return canvas, spans


def no_face_photo(size: tuple[int, int] = (480, 640), seed: int = 7) -> np.ndarray:
    """A smooth landscape-like gradient with some texture and no face."""
    rng = np.random.default_rng(seed)
    height, width = size
    y = np.linspace(0, 1, height)[:, None]
    x = np.linspace(0, 1, width)[None, :]
    sky = np.stack([90 + 100 * y + 0 * x, 140 + 80 * y + 0 * x, 230 - 60 * y + 0 * x], axis=-1)
    noise = rng.normal(0, 6, size=(height, width, 3))
    image = np.clip(sky + noise, 0, 255).astype(np.uint8)
    cv2.rectangle(image, (width // 5, height // 2), (width // 2, height - 20), (60, 110, 40), cv2.FILLED)
    return image
