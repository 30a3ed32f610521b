"""The CLI's HTTP client for a running collector, with errors a person can act on."""

import os
from typing import Any
from urllib.parse import urlsplit

import httpx

from collector.config import ConfigError, Settings, load_settings

NOT_JOBWATCH = "is it a jobwatch collector? (set --server or JOBWATCH_SERVER)"


class ClientError(Exception):
    """A problem to print and exit on; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        self.code = code
        super().__init__(message)


class Unreachable(ClientError):
    """No answer, or a gateway's "not now" (502, 503, 504): trying again later may help."""


def check_server(url: str) -> str:
    """``url`` without a trailing slash when it can name a collector; else a usage error (2)."""
    problem = ClientError(
        f"not a collector URL: {url!r}; expected http://HOST:PORT "
        "(from --server, JOBWATCH_SERVER or the config's listen)",
        2,
    )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError when the port is not a port)
    except ValueError:
        raise problem from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise problem
    return url.rstrip("/")


def server_settings(config: str | None) -> tuple[str, str | None]:
    """Base URL and token from the config file when readable, else the environment."""
    try:
        settings = load_settings(config)
        listen, token = settings.listen, settings.api_token
    except ConfigError:
        listen = os.environ.get("JOBWATCH_LISTEN", Settings.model_fields["listen"].default)
        token = os.environ.get("JOBWATCH_API_TOKEN")
    host, _, port = listen.rpartition(":")
    if host in ("0.0.0.0", "::", "[::]", ""):
        host = "127.0.0.1"
    return os.environ.get("JOBWATCH_SERVER", f"http://{host}:{port}"), token


class Client:
    def __init__(self, server: str, token: str | None = None, timeout: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.server = check_server(server)
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def unreachable(self, exc: httpx.TransportError) -> Unreachable:
        return Unreachable(
            f"cannot reach the collector at {self.server} ({type(exc).__name__}); "
            "is `jobwatch run` running? (set --server or JOBWATCH_SERVER)"
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from None
        self.check(response)
        try:
            return response.json()
        except ValueError:
            raise self.not_jobwatch(response) from None

    def check(self, response: httpx.Response) -> None:
        """Raise the ClientError for an error answer (2 for a request the API found invalid)."""
        if response.status_code < 400:
            return
        detail = _detail(response)
        if detail is None:
            raise self.not_jobwatch(response)
        error = Unreachable if response.status_code in (502, 503, 504) else ClientError
        code = 2 if response.status_code == 422 else 1
        raise error(_describe(response.status_code, detail), code)

    def not_jobwatch(self, response: httpx.Response) -> ClientError:
        """For an answer that is not the jobwatch API: say what came back, never dump it."""
        kind = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
        what = f"HTTP {response.status_code} ({kind})"
        error = Unreachable if response.status_code in (502, 503, 504) else ClientError
        return error(f"{self.server} answered {response.url.path} with {what}; {NOT_JOBWATCH}")

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=body or {})


def _detail(response: httpx.Response) -> Any:
    """The ``detail`` of a jobwatch error answer; None when the answer is something else."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("detail") if isinstance(body, dict) else None


def _describe(status_code: int, detail: Any) -> str:
    if isinstance(detail, list):
        lines = []
        for problem in detail:
            if not isinstance(problem, dict):
                lines.append(f"request: {problem}")
                continue
            loc = [str(part) for part in problem.get("loc", []) if part not in ("body", "query")]
            lines.append(f"{'.'.join(loc) or 'request'}: {problem.get('msg')}")
        return "\n".join(lines)
    return f"{status_code}: {detail}"
