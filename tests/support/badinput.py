"""A corpus of hostile and awkward uploads, generated in code (nothing is downloaded).

Each case says what the gateway must do with it: refuse it with a given status and error code,
or accept it and end the job with a given number of faces (the photos built on a one-face
portrait keep that face through the odd encoding). ``face`` is that portrait as RGB.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import Image

from tests.support.images import png_header_claiming


@dataclass(frozen=True)
class BadInput:
    """One upload and what must come of it."""

    name: str
    filename: str
    data: bytes
    refused: tuple[int, str] | None = None  # (HTTP status, error code) when the gateway must refuse it
    faces: int | None = None  # faces in the result when it is accepted
    size: tuple[int, int] | None = None  # width, height of the annotated image when accepted


def _save(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(width: int = 12_000, height: int = 12_000) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height`` black pixels: tens of KB that decode to 144 MP."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny JPEG whose frame header (SOF0) claims ``width`` x ``height``."""
    data = bytearray(_save(Image.new("RGB", (16, 16), (90, 120, 150)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 7] = height.to_bytes(2, "big")
    data[sof + 7 : sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


def with_exif_orientation(face: Image.Image, orientation: int) -> bytes:
    """The portrait stored rotated 90 degrees, with the EXIF tag that turns it upright again."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(face.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=92, exif=exif.tobytes())


def with_corrupt_exif(face: Image.Image) -> bytes:
    """The portrait with an APP1 Exif segment full of garbage (a broken TIFF header and offsets)."""
    jpeg = _save(face, "JPEG", quality=92)
    payload = b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0" + bytes(range(256)) * 2
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def animated_webp(face: Image.Image) -> bytes:
    """Three frames; the first is the portrait."""
    frames = [face, Image.new("RGB", face.size, (0, 0, 0)), Image.new("RGB", face.size, (255, 255, 255))]
    return _save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0, quality=90)


def animated_png(face: Image.Image) -> bytes:
    """An APNG of three frames; the first is the portrait."""
    frames = [face, Image.new("RGB", face.size, (0, 0, 0)), Image.new("RGB", face.size, (255, 255, 255))]
    return _save(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)


def corpus(face: Image.Image) -> list[BadInput]:
    """Every case, built from ``face`` (an RGB portrait with exactly one face)."""
    jpeg = _save(face, "JPEG", quality=92)
    png = _save(face, "PNG")
    webp = _save(face, "WEBP", quality=90)
    size = face.size
    cases = [
        BadInput("zero bytes", "empty.jpg", b"", refused=(400, "empty_file")),
        BadInput(
            "text named .jpg",
            "notes.jpg",
            b"just some words, not a photo\n" * 20,
            refused=(415, "unsupported_media_type"),
        ),
        BadInput(
            "HTML named .jpg",
            "page.jpg",
            b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
            refused=(415, "unsupported_media_type"),
        ),
        BadInput(
            "SVG with script",
            "x.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
            refused=(415, "unsupported_media_type"),
        ),
        BadInput(
            "GIF (not accepted)", "anim.gif", _save(face.convert("P"), "GIF"), refused=(415, "unsupported_media_type")
        ),
        BadInput(
            "animated GIF",
            "anim2.gif",
            _save(face.convert("P"), "GIF", save_all=True, append_images=[Image.new("P", size)], duration=100),
            refused=(415, "unsupported_media_type"),
        ),
        BadInput("BMP", "x.bmp", _save(face, "BMP"), refused=(415, "unsupported_media_type")),
        BadInput("truncated JPEG", "cut.jpg", jpeg[: len(jpeg) // 2], refused=(422, "corrupt_image")),
        BadInput("JPEG header only", "head.jpg", jpeg[:200], refused=(422, "corrupt_image")),
        BadInput("truncated PNG", "cut.png", png[: len(png) // 2], refused=(422, "corrupt_image")),
        BadInput("truncated WebP", "cut.webp", webp[: len(webp) // 2], refused=(422, "corrupt_image")),
        BadInput(
            "PNG magic then HTML",
            "fake.png",
            b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
            refused=(422, "corrupt_image"),
        ),
        BadInput(
            "RIFF WEBP magic then junk",
            "fake.webp",
            b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 40,
            refused=(422, "corrupt_image"),
        ),
        BadInput(
            "JPEG magic then PDF",
            "fake.jpg",
            b"\xff\xd8\xff%PDF-1.4\n1 0 obj<<>>endobj\n",
            refused=(422, "corrupt_image"),
        ),
        BadInput("PNG decompression bomb 12000x12000", "bomb.png", png_bomb(), refused=(413, "image_too_large")),
        BadInput(
            "1x100000 PNG",
            "tall.png",
            _save(Image.new("L", (1, 100_000), 128), "PNG"),
            refused=(413, "image_too_large"),
        ),
        BadInput(
            "100000x1 PNG",
            "wide.png",
            _save(Image.new("L", (100_000, 1), 128), "PNG"),
            refused=(413, "image_too_large"),
        ),
        BadInput(
            "PNG header claiming 20000x20000",
            "huge.png",
            png_header_claiming(20_000, 20_000),
            refused=(413, "image_too_large"),
        ),
        BadInput(
            "JPEG header claiming 20000x20000",
            "huge.jpg",
            jpeg_claiming(20_000, 20_000),
            refused=(413, "image_too_large"),
        ),
        BadInput("PNG header claiming 0x0", "zero.png", png_header_claiming(0, 0), refused=(422, "corrupt_image")),
        BadInput("1x1 JPEG", "dot.jpg", _save(Image.new("RGB", (1, 1), (10, 20, 30)), "JPEG"), faces=0, size=(1, 1)),
        BadInput("CMYK JPEG", "cmyk.jpg", _save(face.convert("CMYK"), "JPEG", quality=92), faces=1, size=size),
        BadInput("grayscale JPEG", "gray.jpg", _save(face.convert("L"), "JPEG", quality=92), faces=1, size=size),
        BadInput("16-bit grayscale PNG", "deep.png", _save(_sixteen_bit(face), "PNG"), faces=1, size=size),
        BadInput("palette PNG", "palette.png", _save(face.quantize(256), "PNG"), faces=1, size=size),
        BadInput("RGBA PNG with alpha", "alpha.png", _save(_with_alpha(face), "PNG"), faces=1, size=size),
        BadInput(
            "LA PNG (grey and alpha)", "la.png", _save(_with_alpha(face).convert("LA"), "PNG"), faces=1, size=size
        ),
        BadInput("animated WebP", "anim.webp", animated_webp(face), faces=1, size=size),
        BadInput("animated PNG", "anim.png", animated_png(face), faces=1, size=size),
        BadInput("EXIF-rotated JPEG", "rotated.jpg", with_exif_orientation(face, 6), faces=1, size=size),
        BadInput(
            "EXIF orientation out of range", "orient9.jpg", _save(face, "JPEG", exif=_exif(9)), faces=1, size=size
        ),
        BadInput("corrupt EXIF", "badexif.jpg", with_corrupt_exif(face), faces=1, size=size),
        BadInput("polyglot JPEG + ZIP", "poly.jpg", jpeg + _zip_archive(), faces=1, size=size),
        BadInput(
            "polyglot JPEG with HTML in a comment",
            "poly2.jpg",
            _with_comment(jpeg, b"<html><script>alert(1)</script>"),
            faces=1,
            size=size,
        ),
        BadInput(
            "polyglot PNG with a trailing PHP script",
            "poly.png",
            png + b"<?php system($_GET['c']); ?>",
            faces=1,
            size=size,
        ),
    ]
    return cases


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _sixteen_bit(face: Image.Image) -> Image.Image:
    grey = face.convert("L")
    return Image.frombytes(
        "I;16", grey.size, bytes(b for value in grey.tobytes() for b in (value * 257).to_bytes(2, "little"))
    )


def _with_alpha(face: Image.Image) -> Image.Image:
    rgba = face.convert("RGBA")
    rgba.putalpha(Image.new("L", face.size, 255))
    corner = Image.new("L", (face.width // 6, face.height // 6), 0)
    alpha = rgba.getchannel("A")
    alpha.paste(corner, (0, 0))
    rgba.putalpha(alpha)
    return rgba


def _with_comment(jpeg: bytes, text: bytes) -> bytes:
    segment = b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text
    return jpeg[:2] + segment + jpeg[2:]


def _zip_archive() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("readme.txt", "a zip archive appended to a photo")
    return buf.getvalue()
