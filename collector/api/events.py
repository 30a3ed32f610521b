"""``/events``: activity entries and run changes as Server-Sent Events.

Each client gets a bounded queue fed from the event bus; a client too slow to keep
up loses events (and is told so by a ``dropped`` event) rather than slowing the
collector down.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from collector.api.deps import CollectorDep
from collector.events import Event

router = APIRouter(tags=["events"])
CLIENT_QUEUE = 1000
HEARTBEAT_SECONDS = 15.0
STOP_CHECK_SECONDS = 0.5


def _frame(kind: str, data: object, timestamp: str) -> str:
    payload = json.dumps({"type": kind, "data": data, "timestamp": timestamp}, default=str)
    return f"event: {kind}\ndata: {payload}\n\n"


@router.get("/events")
async def events(request: Request, collector: CollectorDep) -> StreamingResponse:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=CLIENT_QUEUE)
    dropped = 0

    def enqueue(event: Event) -> None:
        nonlocal dropped
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            dropped += 1

    def on_event(event: Event) -> None:
        if event.sse_data() is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(enqueue, event)

    unsubscribe = collector.bus.subscribe(on_event)

    async def stream() -> AsyncIterator[str]:
        nonlocal dropped
        try:
            yield ": connected\n\n"
            idle = 0.0
            while not collector.stopping.is_set() and not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(queue.get(), STOP_CHECK_SECONDS)
                except TimeoutError:
                    idle += STOP_CHECK_SECONDS
                    if idle >= HEARTBEAT_SECONDS:
                        idle = 0.0
                        yield ": heartbeat\n\n"
                    continue
                idle = 0.0
                if dropped:
                    yield _frame("dropped", {"count": dropped}, event.timestamp.isoformat())
                    dropped = 0
                yield _frame(event.sse_type, event.sse_data(), event.timestamp.isoformat())
        finally:
            unsubscribe()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
