"""acexy and the AceStream engine, as far as the streams probe sees them."""

import json
from typing import Any

from tests.fakes.http import FakeHttpServer, Reply

ENGINE_VERSION = "3.1.74"
ENGINE_STATUS = "/server/api?api_version=3&method=get_status"
ENGINE_GET_VERSION = "/webui/api/service?method=get_version"


class FakeAcexy(FakeHttpServer):
    """``up``: ``{"streams": N}``; ``bare``: the bare integer older builds send;
    ``no_count``: JSON without a count."""

    behaviours = (*FakeHttpServer.behaviours, "up", "bare", "no_count")

    def replies(self, behaviour: str, *, streams: int = 0, **options: Any) -> dict[str, Reply]:
        if behaviour == "up":
            return {"/ace/status": Reply(body=json.dumps({"streams": streams}))}
        if behaviour == "bare":
            return {"/ace/status": Reply(body=str(streams), content_type="text/plain")}
        return {"/ace/status": Reply(body=json.dumps({"status": "ok"}))}


class FakeEngine(FakeHttpServer):
    """``up``: both status endpoints; ``legacy``: only ``get_version`` (older engines)."""

    behaviours = (*FakeHttpServer.behaviours, "up", "legacy")

    def replies(self, behaviour: str, **options: Any) -> dict[str, Reply]:
        version = Reply(
            body=json.dumps(
                {"result": {"code": 3017400, "platform": "linux", "version": ENGINE_VERSION}}
            )
        )
        if behaviour == "up":
            status = Reply(body=json.dumps({"result": {"status": "idle"}, "error": None}))
            return {ENGINE_STATUS: status, ENGINE_GET_VERSION: version}
        return {ENGINE_GET_VERSION: version}
