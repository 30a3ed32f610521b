"""The FastAPI app: one port for the API, ``/metrics``, ``/healthz`` and ``/readyz``."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from collector import __version__
from collector.api import (
    activity,
    alerts,
    dashboard,
    events,
    external,
    health,
    jobs,
    probes,
    runs,
    tasks,
)
from collector.api.deps import clean_json
from collector.service import Collector
from exporters import endpoint as metrics_endpoint
from exporters.http_tracing import instrument_app

API_PREFIX = "/api/v1"
API_ROUTERS: list[APIRouter] = [
    activity.router,
    jobs.router,
    runs.router,
    external.router,
    tasks.router,
    dashboard.router,
    events.router,
    alerts.router,
    probes.router,
]
ROOT_ROUTERS: list[APIRouter] = [health.router, metrics_endpoint.router]


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, but able to echo any input: a lone surrogate or a NaN in what the
    client sent would otherwise fail to encode and turn the 422 into a 500."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=422, content={"detail": clean_json(jsonable_encoder(exc.errors()))}
    )


def create_app(collector: Collector, *, manage_lifecycle: bool = True) -> FastAPI:
    """An app bound to ``collector``; with ``manage_lifecycle`` it starts and stops it too."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            collector.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                collector.stop()

    app = FastAPI(title="jobwatch", version=__version__, lifespan=lifespan)
    app.state.collector = collector
    app.add_exception_handler(RequestValidationError, _validation_error)
    instrument_app(app)
    for router in ROOT_ROUTERS:
        app.include_router(router)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    return app
