"""Liveness and readiness, on the same port as the API and ``/metrics``."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from collector.api.deps import CollectorDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers; orchestrators restart it when this stops answering."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(collector: CollectorDep) -> JSONResponse:
    """Ready when the database answers and the scheduler runs."""
    problems: list[str] = []
    try:
        with collector.db.read() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}")
    if not collector.scheduler.running:
        problems.append("scheduler: not running")
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})
