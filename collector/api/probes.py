"""``GET /streams/active`` and ``GET /warp/status``: the probes' cached readings.

These handlers never probe anything: they read what the background checks cached, so
a hanging acexy or warp-cli cannot slow the API. A collector without a probe
configured answers ``unavailable``/``unknown`` rather than an error.
"""

from datetime import datetime

from fastapi import APIRouter, Request

from collector.api.schemas import ActiveStreams, WarpStatus
from collector.probes.manager import ProbeManager

router = APIRouter(tags=["probes"])


def _manager(request: Request) -> ProbeManager:
    return request.app.state.collector.probes


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@router.get("/streams/active", response_model=ActiveStreams)
async def active_streams(request: Request) -> ActiveStreams:
    reading = _manager(request).reading("streams")
    return ActiveStreams(
        count=reading.data["count"],
        source=reading.data["source"],
        checked_at=_iso(reading.checked_at),
    )


@router.get("/warp/status", response_model=WarpStatus)
async def warp_status(request: Request) -> WarpStatus:
    reading = _manager(request).reading("warp")
    return WarpStatus(
        status=reading.data["status"],
        last_connected=reading.data["last_connected"],
        error=reading.error,
        details={**reading.data["details"], "checked_at": _iso(reading.checked_at)},
    )
