"""Fill the crop cache for a data folder: ``python -m training.cache_crops --data DIR [--cache-dir DIR]``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from training.crops import DEFAULT_CACHE_DIR, CropCache
from training.dataset import list_items


def main(argv: list[str] | None = None) -> None:
    """Detect and crop every image of the folder once, so training runs only read the cache."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    args = parser.parse_args(argv)
    items = list_items(args.data)
    cache = CropCache(args.cache_dir)
    start = time.monotonic()
    faces = cache.faces_of_all(
        (args.data / i.path for i in items),
        progress=lambda n: print(f"{n}/{len(items)} images, {time.monotonic() - start:.0f} s", flush=True),
    )
    no_face = sum(1 for f in faces if f.count == 0)
    print(f"done: {len(items)} images, {no_face} without a face, {time.monotonic() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
