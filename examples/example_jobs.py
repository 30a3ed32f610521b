"""Python jobs for the bundled example config, and the local site its scrape job reads.

Importing this module (which jobwatch does when it loads the example config) serves
``examples/site`` on 127.0.0.1:8765, so the example scrape works offline.
"""

import functools
import random
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from collector import RunContext

SITE = Path(__file__).resolve().parent / "site"
SITE_PORT = 8765


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve_site() -> None:
    try:
        server = ThreadingHTTPServer(
            ("127.0.0.1", SITE_PORT), functools.partial(_QuietHandler, directory=str(SITE))
        )
    except OSError:
        return
    threading.Thread(target=server.serve_forever, name="example-site", daemon=True).start()


_serve_site()


def generate_playlist(ctx: RunContext, size: int = 25) -> dict[str, int]:
    """Build a playlist from a pretend channel list, reporting each channel as a record."""
    channels = [f"channel-{number}" for number in range(size)]
    kept = []
    with ctx.span("playlist.build"):
        for channel in channels:
            if ctx.cancelled:
                break
            if random.random() < 0.05:
                ctx.progress(processed=1, failed=1)
                ctx.log(f"Channel {channel} has no stream", status="warning", type="extract")
                continue
            kept.append(channel)
            ctx.progress(processed=1, created=1)
            ctx.wait(0.02)
    ctx.log(f"Playlist generated with {len(kept)} channels", status="success")
    return {"channels": len(kept)}
