"""Hostile C2PA manifests: a signed JPEG whose APP11 (JUMBF) segment is cut, overwritten or given false sizes.

The JPEG around the segment stays well formed, so the gateway accepts every file and the provenance
worker is the one that must cope.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

APP11 = b"\xff\xeb"
JUMBF_LBOX = slice(8, 12)  # after "JP", the box instance (2 bytes) and the packet sequence (4 bytes)


@dataclass(frozen=True)
class ManifestSegment:
    """A signed JPEG split around its first APP11 segment's payload."""

    before: bytes
    payload: bytes
    after: bytes

    @classmethod
    def of(cls, jpeg: bytes) -> ManifestSegment:
        start = jpeg.index(APP11)
        length = struct.unpack(">H", jpeg[start + 2 : start + 4])[0]
        return cls(jpeg[:start], jpeg[start + 4 : start + 2 + length], jpeg[start + 2 + length :])

    def with_payload(self, payload: bytes) -> bytes:
        """The JPEG with another payload in the segment (its length field rewritten to match)."""
        return self.before + APP11 + struct.pack(">H", len(payload) + 2) + payload + self.after


def hostile_manifests(signed_jpeg: bytes) -> dict[str, bytes]:
    """Named hostile variants of a signed JPEG; each is a JPEG the gateway accepts."""
    segment = ManifestSegment.of(signed_jpeg)
    payload = segment.payload
    rng = random.Random(17)
    zero_box = bytearray(payload)
    zero_box[JUMBF_LBOX] = struct.pack(">I", 0)
    flipped = bytearray(payload)
    flipped[len(flipped) // 2] ^= 0x40
    noise = payload[:20] + bytes(rng.randrange(256) for _ in range(len(payload) - 20))
    nested = b"".join(struct.pack(">I", 0xFFFF) + b"jumb" for _ in range(4000))[:60000]
    return {
        "zero_size_box": segment.with_payload(bytes(zero_box)),
        "cut_in_half": segment.with_payload(payload[: len(payload) // 2]),
        "one_bit_flipped": segment.with_payload(bytes(flipped)),
        "noise_after_the_header": segment.with_payload(noise),
        "thousands_of_nested_boxes": segment.with_payload(payload[:20] + nested),
    }
