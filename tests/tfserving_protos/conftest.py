"""tfserving_protos fixtures: reuse the serving harness (stand-in subprocess or real TF Serving)."""

from tests.serving.conftest import serving, tiny_exports  # noqa: F401 - fixtures
