"""FakeWeb's version, the one place it is written.

pyproject.toml reads it (``[tool.setuptools.dynamic]``), the gateway announces it (FastAPI app,
``/openapi.json``), ``fakeweb --version`` prints it, and tests/deploy checks the production
image tags against it. The service images do not install the ``fakeweb`` distribution, so the
code reads this constant rather than ``importlib.metadata``.
"""

VERSION = "0.2.0"
