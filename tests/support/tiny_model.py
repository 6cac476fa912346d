"""A tiny SavedModel for tests that need *a* model quickly (in deploy/local/tiny_model.py, which bench/ uses too)."""

from __future__ import annotations

from deploy.local.tiny_model import CROP_SIZE, export_tiny_model

__all__ = ["CROP_SIZE", "export_tiny_model"]
