"""The benchmark's photos: real faces from ../shared/data pasted onto synthetic backgrounds.

Every photo is built reproducibly (fixed seed) with bench/collage.py's generator, so the face
count and the pixel count are known exactly. ``REFERENCE`` is the one-face ~1 MP photo that the
concurrency runs and the overhead ratio use; the growth series vary faces (at 2 MP) and pixels
(one face). ``unique_copy`` makes byte-distinct copies of a photo (a JPEG comment with a counter,
pixels untouched) so the result cache never answers a throughput run.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.collage import load_sources, make_collage
from services.contract.imaging import encode_jpeg


@dataclass(frozen=True)
class PhotoSpec:
    """A benchmark photo: ``faces`` faces of ``face_px`` pixels on a ``width`` x ``height`` canvas."""

    name: str
    width: int
    height: int
    faces: int
    face_px: int

    @property
    def megapixels(self) -> float:
        """Width times height in millions of pixels."""
        return self.width * self.height / 1e6


REFERENCE = PhotoSpec("faces1_1mp", 1224, 816, 1, 200)
FACE_SERIES = (
    PhotoSpec("faces1_2mp", 1632, 1224, 1, 96),
    PhotoSpec("faces5_2mp", 1632, 1224, 5, 96),
    PhotoSpec("faces20_2mp", 1632, 1224, 20, 96),
)
PIXEL_SERIES = (
    PhotoSpec("px0.5mp_face1", 816, 612, 1, 160),
    PhotoSpec("px2mp_face1", 1632, 1224, 1, 160),
    PhotoSpec("px12mp_face1", 4000, 3000, 1, 160),
)
ALL_SPECS = (REFERENCE, *FACE_SERIES, *PIXEL_SERIES)
JPEG_QUALITY = 90


@dataclass(frozen=True)
class Photo:
    """A built photo: its spec, JPEG bytes and how many faces were actually pasted."""

    spec: PhotoSpec
    jpeg: bytes
    faces_pasted: int


def build_photos(data_dir: Path, specs: tuple[PhotoSpec, ...] = ALL_SPECS, seed: int = 10) -> dict[str, Photo]:
    """Build every spec's photo from the shared data; same seed, same bytes."""
    sources = load_sources(data_dir, count=8, seed=seed)
    if not sources:
        raise RuntimeError(f"no one-face source photos found under {data_dir}")
    photos = {}
    for index, spec in enumerate(specs):
        rng = np.random.default_rng([seed, index])
        collage = make_collage(sources, spec.width, spec.height, [spec.face_px] * spec.faces, rng)
        photos[spec.name] = Photo(spec, encode_jpeg(collage.image, JPEG_QUALITY), len(collage.boxes))
    return photos


def unique_copy(jpeg: bytes, counter: int) -> bytes:
    """The same JPEG with a COM segment naming ``counter`` after SOI: same pixels, different bytes."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    text = f"fakeweb-bench {counter}".encode()
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]
