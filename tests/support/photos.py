"""Test photos built from the shared data: group photos with known faces, photos with none."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

GROUP_MEMBERS = ("img12.jpg", "img20.jpg", "img50.jpg")


def group_photo(shared_data: Path, height: int = 480, members: tuple[str, ...] = GROUP_MEMBERS, tag: str = "") -> bytes:
    """Press portraits side by side at one height: a JPEG with one face per member.

    A ``tag`` goes into a JPEG comment: same pixels, different bytes, so the gateway's result cache
    (keyed by the upload's SHA-256) cannot answer the job from another test's earlier run.
    """
    portraits = []
    for name in members:
        with Image.open(shared_data / "wild_press_photos" / "real" / name) as img:
            rgb = img.convert("RGB")
            portraits.append(rgb.resize((round(rgb.width * height / rgb.height), height)))
    canvas = Image.new("RGB", (sum(p.width for p in portraits), height))
    left = 0
    for portrait in portraits:
        canvas.paste(portrait, (left, 0))
        left += portrait.width
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=92, **({"comment": tag} if tag else {}))
    return buf.getvalue()


def landscape_without_faces(width: int = 640, height: int = 400) -> bytes:
    """A sky-and-ground gradient with texture and no face."""
    y = np.linspace(0.0, 1.0, height)[:, None]
    sky = np.stack([120 + 80 * y, 170 + 50 * y, 250 - 30 * y], axis=-1) * np.ones((1, width, 1))
    ground = np.stack([60 + 40 * y, 110 + 30 * y, 40 + 10 * y], axis=-1) * np.ones((1, width, 1))
    pixels = np.where(y[..., None] < 0.6, sky, ground)
    pixels += np.random.default_rng(7).normal(0, 6, pixels.shape)
    buf = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()
