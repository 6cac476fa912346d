"""TF Serving's model repository layout, as the real server reads it: version folders, signatures, warmup file.

``fakeweb model`` (deploy, validation, list) and the local TF Serving stand-in
(``deploy.local.serving``) both read a repository this way.
"""

from __future__ import annotations

from pathlib import Path

from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

SERVE_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


def version_dirs(base_path: Path) -> dict[int, Path]:
    """Version folders under a model's base path that hold a SavedModel: ``{version: path}``.

    Like TF Serving, only all-digit folder names count; a hidden temporary copy (``.tmp-3``)
    is ignored until it is renamed into place.
    """
    found: dict[int, Path] = {}
    try:
        children = list(base_path.iterdir())
    except OSError:
        return found
    for child in children:
        if child.name.isdigit() and (child / "saved_model.pb").is_file():
            found[int(child.name)] = child
    return found


def read_signature_defs(version_dir: Path) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The serving signatures of a SavedModel, read from ``saved_model.pb`` (tag ``serve``)."""
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((version_dir / "saved_model.pb").read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return {k: v for k, v in meta_graph.signature_def.items() if not k.startswith("__")}
    raise ValueError(f"{version_dir} has no MetaGraph tagged '{SERVE_TAG}'")
