"""Workers load their models at start-up in a solo pool, and never in a prefork parent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter, so the module-level model handles start empty.
CHECK = """
from celery.concurrency import get_implementation

import {models_module} as models
from services.{service}.worker import load_models


class StartingWorker:
    pool_cls = get_implementation("{pool}")


load_models(sender=StartingWorker())
print("loaded" if {loaded} else "not loaded")
"""

# service -> (module holding its models, expression true once they are loaded)
SERVICES = {
    "detector": ("services.detector.blazeface", "any(model.loaded for model in models.HELD_MODELS)"),
    "annotator": ("services.annotator.mesh", "models.FACE_MESH.loaded"),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize(("pool", "expected"), [("solo", "loaded"), ("prefork", "not loaded")])
def test_models_load_at_start_up_only_where_tasks_run(service, pool, expected):
    models_module, loaded = SERVICES[service]
    code = CHECK.format(models_module=models_module, service=service, pool=pool, loaded=loaded)
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == expected
