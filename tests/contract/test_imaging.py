"""The gateway's pixel check and the workers' decoder agree on good and broken photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from services.contract.imaging import ImageRejected, check_pixels, decode_rgb
from services.runtime.memory import keep_freed_memory

LIMITS = (50_000_000, 12_000)


def _photo(fmt: str, size: tuple[int, int] = (640, 480), **options: object) -> bytes:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt, **options)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("JPEG", {"quality": 90}), ("JPEG", {"progressive": True}), ("PNG", {}), ("WEBP", {"quality": 80})],
)
def test_a_whole_photo_passes_the_check_and_decodes_at_full_size(fmt, options):
    data = _photo(fmt, **options)
    info = check_pixels(data, *LIMITS)
    assert (info.format, info.width, info.height) == (fmt, 640, 480)
    pixels = decode_rgb(data, *LIMITS)
    assert pixels.shape == (480, 640, 3) and pixels.dtype == np.uint8 and pixels.flags.writeable


@pytest.mark.parametrize(
    ("fmt", "options"), [("JPEG", {"quality": 90}), ("JPEG", {"progressive": True}), ("PNG", {}), ("WEBP", {})]
)
def test_a_photo_cut_in_half_is_refused_by_the_check_as_by_the_decoder(fmt, options):
    data = _photo(fmt, **options)
    cut = data[: len(data) // 2]
    with pytest.raises(ImageRejected) as checked:
        check_pixels(cut, *LIMITS)
    assert (checked.value.code, checked.value.status) == ("corrupt_image", 422)
    with pytest.raises(ImageRejected):
        decode_rgb(cut, *LIMITS)


def test_the_check_refuses_a_bomb_from_its_header_without_decoding():
    data = _photo("PNG", size=(64, 64))
    with pytest.raises(ImageRejected) as refused:
        check_pixels(data, 64 * 63, 12_000)
    assert (refused.value.code, refused.value.status) == ("image_too_large", 413)


def test_keeping_freed_memory_is_taken_by_glibc_and_zero_leaves_the_allocator_alone():
    assert keep_freed_memory(0) is False
    assert keep_freed_memory(128) is True
    # The allocator still works as before: large buffers come and go.
    for _ in range(3):
        assert decode_rgb(_photo("JPEG", size=(1600, 1200)), *LIMITS).shape == (1200, 1600, 3)
