"""FakeWeb's HTTP gateway: the only door into the pipeline."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.contract.settings import Settings, get_settings
from services.gateway.errors import install_error_handlers
from services.gateway.resources import Resources
from services.gateway.routes_health import router as health_router
from services.gateway.routes_jobs import router as jobs_router

log = logging.getLogger("fakeweb.gateway")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI application over the given (or environment) settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.resources = Resources.connect(settings)
        try:
            yield
        finally:
            app.state.resources.close()

    app = FastAPI(
        title="FakeWeb",
        version="0.1.0",
        summary="Finds every face in a photo and scores each as genuine or manipulated.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(jobs_router)
    app.include_router(health_router)
    return app


app = create_app()
