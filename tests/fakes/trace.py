"""Cloudflare's ``cdn-cgi/trace``: key=value lines, of which ``warp=`` matters."""

from typing import Any

from tests.fakes.http import FakeHttpServer, Reply

TRACE_PATH = "/cdn-cgi/trace"


class FakeTrace(FakeHttpServer):
    behaviours = (*FakeHttpServer.behaviours, "on", "plus", "off", "no_warp")

    def replies(self, behaviour: str, **options: Any) -> dict[str, Reply]:
        lines = ["fl=29f1", "h=www.cloudflare.com", "ip=203.0.113.7", "colo=FRA", "loc=DE"]
        if behaviour != "no_warp":
            lines.append(f"warp={behaviour}")
        lines += ["gateway=off", "rbi=off", "kex=X25519"]
        return {TRACE_PATH: Reply(body="\n".join(lines) + "\n", content_type="text/plain")}

    @property
    def trace_url(self) -> str:
        return self.url + TRACE_PATH
