"""Scrape jobs against a real loopback server: oversized pages and pages without a body.

A page is read up to ``MAX_PAGE_BYTES`` only: a huge or endless response fails that
page (the run goes ``partial``) instead of taking the collector's memory or hanging
the run. A regex extractor searches the whole page when it has no body text.
"""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from collector.context import RunContext
from collector.kinds import scrape
from collector.kinds.scrape import Extractor, ScrapeJob, extract

CAP = 100_000
EMAILS = {"emails": Extractor(regex=r"[\w.+-]+@[\w-]+\.[\w.]+")}
HEAD_ONLY = '<html><head><title>T</title><meta name="author" content="a@b.example"></head></html>'


class Pages(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/ok":
            self._reply(b"<html><body><p>x@y.example</p></body></html>")
        elif self.path == "/declared-big":
            self._reply(b"<p>" + b"x" * (CAP * 3) + b"</p>")
        elif self.path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")
            self.end_headers()
            sent = 0
            try:
                while sent < 200 * CAP:  # bounded, so a test without the cap still ends
                    self.wfile.write(b"<p>more</p>" * 1000)
                    sent += 11_000
            except OSError:
                pass  # the client stopped reading
        else:
            self.send_error(404)

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _scrape(urls: list[str]) -> tuple[scrape.Outcome, RunContext]:
    job = ScrapeJob(name="pages", kind="scrape", urls=urls, extract=EMAILS, retries=0)
    ctx = RunContext(run_id=1, job="pages", params={})
    return scrape.execute(ctx, job), ctx


def test_oversized_pages_fail_alone_and_are_not_read_whole(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scrape, "MAX_PAGE_BYTES", CAP)
    urls = [f"{server}/ok", f"{server}/declared-big", f"{server}/endless"]
    outcome, ctx = _scrape(urls)

    assert outcome.status == "partial", outcome
    pages = ctx.state.result["pages"]
    assert pages[urls[0]]["counts"] == {"emails": 1}
    for url in urls[1:]:
        assert pages[url]["error"] == f"PageTooLarge: {url} is larger than {CAP} bytes"
    assert ctx.counts() == {"processed": 1, "created": 0, "updated": 0, "failed": 2}


def test_a_regex_searches_the_whole_page_when_it_has_no_body_text() -> None:
    assert extract(HEAD_ONLY, EMAILS) == ("T", {"emails": 1})
    assert extract("<html><body>c@d.example</body></html>", EMAILS) == (None, {"emails": 1})
