"""Property-based fuzzing of the decode/validate boundary (services.contract.imaging).

Whatever the bytes, ``inspect_image`` and ``check_pixels`` (the gateway's check) answer an
ImageInfo or raise ImageRejected, and ``decode_rgb`` answers an RGB uint8 array within the limits
or raises ImageRejected: never any other exception. Inputs are random bytes and mutations
(flips, cuts, splices, dimension patches) of small valid JPEG, PNG and WebP files in every mode
the decoder flattens. Bounded: a fixed number of examples per property, no deadline (the
machine is shared).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from services.contract.imaging import ImageInfo, ImageRejected, check_pixels, decode_rgb, inspect_image

MAX_PIXELS = 1_000_000
MAX_SIDE = 4_000
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _encode(mode: str, fmt: str, size: tuple[int, int], **options: object) -> bytes:
    rng = np.random.default_rng(len(mode) * 31 + size[0])
    rgb = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    img = rgb.quantize(16) if mode == "P" else rgb.convert(mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def _seeds() -> list[bytes]:
    seeds = [
        _encode("RGB", "JPEG", (24, 16), quality=80),
        _encode("L", "JPEG", (16, 24)),
        _encode("CMYK", "JPEG", (16, 16)),
        _encode("RGB", "JPEG", (32, 16), progressive=True),
        _encode("RGB", "PNG", (16, 12)),
        _encode("RGBA", "PNG", (12, 16)),
        _encode("LA", "PNG", (8, 8)),
        _encode("P", "PNG", (16, 16)),
        _encode("I;16", "PNG", (10, 10)),
        _encode("1", "PNG", (20, 10)),
        _encode("RGB", "WEBP", (16, 16), quality=70),
        _encode("RGBA", "WEBP", (16, 16), lossless=True),
    ]
    exif = Image.Exif()
    exif[0x0112] = 6
    seeds.append(_encode("RGB", "JPEG", (24, 16), exif=exif.tobytes()))
    return seeds


SEEDS = _seeds()


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "splice", "dims", "zero_run"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            data = data[:at]
        elif kind == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "zero_run":
            data[at : at + draw(st.integers(1, 32))] = b"\x00" * 8
        elif kind == "dims":
            _patch_dimensions(data, draw(st.integers(0, 70_000)), draw(st.integers(0, 70_000)))
    return bytes(data)


def _patch_dimensions(data: bytearray, width: int, height: int) -> None:
    """Rewrite the header's width and height (PNG IHDR with a valid CRC, JPEG SOF), as a liar would."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 33:
        data[16:24] = struct.pack(">II", width, height)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    elif data[:2] == b"\xff\xd8":
        for marker in (b"\xff\xc0", b"\xff\xc2"):
            at = bytes(data).find(marker)
            if at >= 0 and len(data) >= at + 9:
                data[at + 5 : at + 9] = struct.pack(">HH", min(height, 65535), min(width, 65535))
                return


def check_boundary(data: bytes) -> None:
    try:
        info = inspect_image(data, MAX_PIXELS, MAX_SIDE)
    except ImageRejected as exc:
        assert 400 <= exc.status < 500 and exc.code and exc.message
        info = None
    else:
        assert isinstance(info, ImageInfo)
        assert 0 < info.width * info.height <= MAX_PIXELS and max(info.width, info.height) <= MAX_SIDE
    try:
        checked = check_pixels(data, MAX_PIXELS, MAX_SIDE)
    except ImageRejected as exc:
        assert 400 <= exc.status < 500 and exc.code and exc.message
    else:
        assert checked == info, "the gateway's check accepted bytes whose header inspect_image refused"
    try:
        pixels = decode_rgb(data, MAX_PIXELS, MAX_SIDE)
    except ImageRejected as exc:
        assert 400 <= exc.status < 500 and exc.code and exc.message
        return
    assert info is not None, "decoded bytes whose header inspect_image refused"
    assert isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8
    assert pixels.ndim == 3 and pixels.shape[2] == 3
    height, width = pixels.shape[:2]
    assert 0 < width * height <= MAX_PIXELS and max(width, height) <= MAX_SIDE


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_every_seed_decodes_to_rgb(seed):
    assert decode_rgb(SEEDS[seed], MAX_PIXELS, MAX_SIDE).shape[2] == 3


@FUZZ
@given(mutated_images())
def test_mutated_images_are_rejected_or_decoded(data):
    check_boundary(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_are_rejected_or_decoded(data):
    check_boundary(data)


@FUZZ
@given(st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP"]), st.binary(max_size=512))
def test_right_magic_with_random_bodies_is_rejected_or_decoded(magic, body):
    check_boundary(magic + body)
