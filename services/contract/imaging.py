"""Image decoding with limits, shared by the gateway (validation) and the workers (decoding).

Formats are recognised by their bytes, never by a file name or declared type. Dimensions
are read from the header and checked before any pixel is decoded, so a decompression bomb
is refused cheaply.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from services.runtime.errors import CodedError

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

# Our own pixel limit is checked explicitly; Pillow's bomb guard would only duplicate it.
Image.MAX_IMAGE_PIXELS = None


class ImageRejected(CodedError):
    """The bytes are not an image FakeWeb accepts."""


@dataclass(frozen=True)
class ImageInfo:
    """What the header says about an accepted image."""

    format: str
    media_type: str
    width: int
    height: int


def sniff_format(data: bytes) -> str | None:
    """Name the container format from its magic bytes (JPEG, PNG, WEBP) or return None."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def inspect_image(data: bytes, max_pixels: int, max_side: int) -> ImageInfo:
    """Check format and header dimensions without decoding pixels; raise ImageRejected."""
    if not data:
        raise ImageRejected("empty_file", "The upload is empty.", 400)
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected("unsupported_media_type", "Only JPEG, PNG and WebP images are accepted.", 415)
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageRejected("corrupt_image", f"The {fmt} header cannot be read.", 422) from exc
    if width <= 0 or height <= 0:
        raise ImageRejected("corrupt_image", "The image has no pixels.", 422)
    if width * height > max_pixels:
        raise ImageRejected("image_too_large", f"{width}x{height} is more than the {max_pixels} pixels accepted.", 413)
    if max(width, height) > max_side:
        raise ImageRejected("image_too_large", f"{width}x{height} has a side longer than {max_side} px.", 413)
    return ImageInfo(format=fmt, media_type=ACCEPTED_FORMATS[fmt], width=width, height=height)


def check_pixels(data: bytes, max_pixels: int, max_side: int) -> ImageInfo:
    """Header checks, then read every byte of pixel data so truncated or corrupt data is refused now.

    A JPEG is decoded at 1/8 scale (libjpeg's DCT scaling still reads all entropy-coded data, so
    truncation is caught) at about a fifth of the full decode's cost; PNG and WebP are decoded whole.
    Nothing is converted or returned: the workers decode the photo themselves.
    """
    info = inspect_image(data, max_pixels, max_side)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                if info.format == "JPEG":
                    img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
                img.seek(0)
                img.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageRejected("corrupt_image", "The image data is truncated or corrupt.", 422) from exc
    return info


def decode_rgb(data: bytes, max_pixels: int, max_side: int) -> np.ndarray:
    """Decode to an RGB uint8 array (first frame, EXIF orientation applied); raise ImageRejected."""
    inspect_image(data, max_pixels, max_side)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                img.seek(0)
                img.load()
                try:
                    oriented = ImageOps.exif_transpose(img)
                except Exception:  # noqa: BLE001 - a corrupt EXIF block must not reject a good photo
                    oriented = img
                rgb = _to_rgb(oriented)
                width, height = rgb.size
                if width * height > max_pixels or max(width, height) > max_side:
                    raise ImageRejected("image_too_large", "The decoded image exceeds the size limits.", 413)
                # One copy, made while the file is open (``rgb`` may be ``img`` itself).
                return np.array(rgb, dtype=np.uint8)
    except ImageRejected:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageRejected("corrupt_image", "The image data is truncated or corrupt.", 422) from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    """Flatten any mode (palette, 16-bit, CMYK, alpha) to 8-bit RGB; alpha over white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() if arr.size and arr.max() > 0 else 1.0
        return Image.fromarray((arr * (255.0 / max(top, 255.0))).clip(0, 255).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


def encode_jpeg(image_rgb: np.ndarray, quality: int) -> bytes:
    """Encode an RGB uint8 array as a baseline JPEG."""
    buf = io.BytesIO()
    Image.fromarray(image_rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def encode_png(image_rgb: np.ndarray) -> bytes:
    """Encode an RGB uint8 array as a lossless PNG (used for face crops)."""
    buf = io.BytesIO()
    Image.fromarray(image_rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def decode_png_rgb(data: bytes) -> np.ndarray:
    """Decode a PNG written by :func:`encode_png` back to RGB uint8."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
