"""Measure a SavedModel's scoring cost per face on ONE CPU thread.

``python -m training.latency --model deploy/models/fakeweb/1 [--out latency.json]``

Prints and writes the median milliseconds per face at batch sizes 1 and 16 (20 timed calls
after 3 warm-up calls each). A measurement, not a test: numbers depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def measure(model_dir: Path, batch_sizes: tuple[int, ...] = (1, 16), repeats: int = 20) -> dict[str, object]:
    """Median ms per face per batch size, TensorFlow limited to one thread."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    rng = np.random.default_rng(0)
    result: dict[str, object] = {"model": str(model_dir), "threads": 1, "ms_per_face": {}}
    for batch in batch_sizes:
        crops = tf.constant(rng.integers(0, 256, (batch, 224, 224, 3), dtype=np.uint8))
        for _ in range(3):
            serve(image=crops)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            serve(image=crops)["manipulated_probability"].numpy()
            times.append(time.perf_counter() - start)
        result["ms_per_face"][str(batch)] = round(float(np.median(times)) * 1000 / batch, 2)
    return result


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = measure(args.model)
    print(json.dumps(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
