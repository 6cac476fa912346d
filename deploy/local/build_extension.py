"""Build the browser extension: ``extension/`` plus the page's palette into a folder to load unpacked and a zip.

``make extension`` runs this. The folder (``.fakeweb/extension/unpacked``) keeps the manifest's
``key``, so an unpacked install always has the same ID (``extension_origin()``); the Chrome Web
Store zip drops it, because the store signs the extension with a key of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "extension"
PALETTE = ROOT / "services" / "gateway" / "static" / "palette.js"  # one palette for the page and the badges
OUT = ROOT / ".fakeweb" / "extension"
# A fixed timestamp inside the zip, so the same sources give the same bytes.
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def manifest() -> dict[str, object]:
    """The extension's manifest.json as written in ``extension/``."""
    return json.loads((SOURCE / "manifest.json").read_text())


def extension_id(public_key_b64: str) -> str:
    """Chrome's ID for a manifest ``key``: the SHA-256 of the key, first 32 hex digits written as a-p."""
    digest = hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(digit, 16)) for digit in digest)


def extension_origin() -> str:
    """The origin the unpacked extension calls the gateway from (for FAKEWEB_CORS_ORIGINS)."""
    return f"chrome-extension://{extension_id(str(manifest()['key']))}"


def _files() -> list[tuple[str, Path]]:
    files = [(path.relative_to(SOURCE).as_posix(), path) for path in sorted(SOURCE.rglob("*")) if path.is_file()]
    return [*files, ("palette.js", PALETTE)]


def build_unpacked(out: Path = OUT / "unpacked") -> Path:
    """Write the extension folder (with the manifest's key) to ``out`` and return it."""
    if out.exists():
        shutil.rmtree(out)
    for name, path in _files():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return out


def build_zip(out: Path = OUT) -> Path:
    """Write ``fakeweb-extension-<version>.zip`` for the Chrome Web Store (no ``key``) and return it."""
    store_manifest = manifest()
    store_manifest.pop("key", None)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"fakeweb-extension-{store_manifest['version']}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in _files():
            data = json.dumps(store_manifest, indent=2).encode() if name == "manifest.json" else path.read_bytes()
            archive.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return target


def main() -> None:
    """Build both and say where they are and which origin the gateway must allow."""
    unpacked = build_unpacked()
    archive = build_zip()
    print(f"unpacked (Load unpacked in chrome://extensions): {unpacked.relative_to(ROOT)}")
    print(f"Chrome Web Store zip: {archive.relative_to(ROOT)}")
    print(f"gateway setting for the unpacked extension: FAKEWEB_CORS_ORIGINS={extension_origin()}")


if __name__ == "__main__":
    sys.exit(main())
