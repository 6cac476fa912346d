"""Small images made in code for tests."""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image


def jpeg_bytes(width: int = 64, height: int = 48, quality: int = 90, seed: int = 0) -> bytes:
    """A random-noise JPEG of the given size."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(width: int = 64, height: int = 48, mode: str = "RGB") -> bytes:
    """A flat-colour PNG of the given size and mode."""
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, format="PNG")
    return buf.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""
    data = bytearray(png_bytes(1, 1, "L"))
    # IHDR: length at 8..12, type + payload at 12..29 (width/height at 16..24), CRC at 29..33.
    data[16:20] = width.to_bytes(4, "big")
    data[20:24] = height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)
