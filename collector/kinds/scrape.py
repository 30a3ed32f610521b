"""``scrape`` jobs: fetch pages with retries, extract by CSS selector or regex.

Each page is a record: a page that fails after its retries makes the run ``partial``,
every page failing makes it ``failed``. The activity entries narrate each page the
way operators read them: starting, what was extracted, success or the error.
"""

import re
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from collector import __version__
from collector.context import RunContext
from collector.jobconfig import Duration, JobConfigBase, PositiveDuration
from collector.kinds.base import Kind, Outcome

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
# A page is read up to this size (after decompression): a huge or endless response
# fails its page instead of taking the collector's memory or never ending.
MAX_PAGE_BYTES = 10 * 1024 * 1024


class PageTooLarge(httpx.HTTPError):
    """The response is bigger than MAX_PAGE_BYTES."""


class Extractor(BaseModel):
    """Exactly one of ``css`` (count matching elements) or ``regex`` (unique matches)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    css: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> "Extractor":
        if (self.css is None) == (self.regex is None):
            raise ValueError("give exactly one of 'css' or 'regex'")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"invalid regex: {exc}") from None
        if self.css is not None:
            try:
                HTMLParser("<p></p>").css(self.css)
            except Exception as exc:
                raise ValueError(f"invalid CSS selector: {exc}") from None
        return self


class ScrapeJob(JobConfigBase):
    kind: Literal["scrape"]
    urls: list[str] = Field(min_length=1)
    extract: dict[str, Extractor] = Field(default_factory=dict)
    request_timeout: PositiveDuration = 10.0
    retries: int = Field(default=2, ge=0, le=10)
    backoff: Duration = 0.5
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _urls(self) -> "ScrapeJob":
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"url {url!r} must start with http:// or https://")
        return self


def extract(html: str, extractors: dict[str, Extractor]) -> tuple[str | None, dict[str, int]]:
    """The page title and the number of items each extractor found."""
    tree = HTMLParser(html)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else None
    # The parser gives every page a body; one without text (a page whose content is all
    # in its head, a frameset) is searched whole, tags included.
    body = tree.body.text(separator=" ") if tree.body is not None else ""
    text = body if body.strip() else html
    counts: dict[str, int] = {}
    for name, extractor in extractors.items():
        if extractor.css is not None:
            counts[name] = len(tree.css(extractor.css))
        else:
            counts[name] = len(set(re.findall(extractor.regex or "", text)))
    return title, counts


def _read_capped(response: httpx.Response, url: str) -> str:
    """The body as text, read no further than MAX_PAGE_BYTES."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_PAGE_BYTES:
        raise PageTooLarge(f"{url} is larger than {MAX_PAGE_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_PAGE_BYTES:
            raise PageTooLarge(f"{url} is larger than {MAX_PAGE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")


def _fetch(
    client: httpx.Client, ctx: RunContext, job: ScrapeJob, url: str
) -> tuple[httpx.Response, str]:
    """The final response (its body already read and closed) and the page's text."""
    attempt = 0
    while True:
        attempt += 1
        with ctx.span("scrape.fetch", **{"url.full": url, "jobwatch.attempt": attempt}) as span:
            try:
                with client.stream("GET", url) as response:
                    span.set_attribute("http.response.status_code", response.status_code)
                    if response.status_code not in RETRY_STATUS or attempt > job.retries:
                        response.raise_for_status()
                        return response, _read_capped(response, url)
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                span.record_exception(exc)
                if attempt > job.retries or isinstance(exc, httpx.HTTPStatusError):
                    raise
        if ctx.wait(job.backoff * 2 ** (attempt - 1)):
            raise httpx.TransportError("cancelled")


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in counts.items()) or "nothing"


def execute(ctx: RunContext, job: ScrapeJob) -> Outcome:  # type: ignore[override]
    headers = {"User-Agent": f"jobwatch/{__version__}", **job.headers}
    failures: list[str] = []
    pages: dict[str, dict[str, object]] = {}
    with httpx.Client(
        timeout=job.request_timeout, headers=headers, follow_redirects=True
    ) as client:
        for url in job.urls:
            if ctx.cancelled:
                break
            ctx.log(f"Starting to scrape: {url}", type="scrape", url=url)
            try:
                response, page = _fetch(client, ctx, job, url)
                title, counts = extract(page, job.extract)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                failures.append(f"{url}: {error}")
                pages[url] = {"error": error}
                ctx.progress(failed=1)
                ctx.log(f"Failed to scrape: {url}: {error}", type="scrape", status="error", url=url)
                continue
            pages[url] = {"title": title, "counts": counts, "status_code": response.status_code}
            ctx.progress(processed=1, message=f"scraped {url}")
            ctx.log(
                f"Extracted {_describe(counts)} from {url}", type="extract", url=url, counts=counts
            )
            ctx.log(
                f"Successfully scraped: {title or url}", type="scrape", status="success", url=url
            )
    totals: dict[str, int] = {}
    for page in pages.values():
        for name, count in page.get("counts", {}).items():  # type: ignore[union-attr]
            totals[name] = totals.get(name, 0) + count
    ctx.set_result(pages=pages, extracted=totals)
    if failures and len(failures) == len(pages):
        return Outcome("failed", "; ".join(failures))
    if failures:
        return Outcome("partial", "; ".join(failures))
    return Outcome("success")


KIND = Kind("scrape", ScrapeJob, execute)  # type: ignore[arg-type]
