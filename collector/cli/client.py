"""The CLI's HTTP client for a running collector, with errors a person can act on."""

import os
from typing import Any

import httpx

from collector.config import ConfigError, Settings, load_settings


class ClientError(Exception):
    """A problem to print and exit on; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        self.code = code
        super().__init__(message)


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
        self.server = server.rstrip("/")
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(
                f"cannot reach the collector at {self.server} ({type(exc).__name__}); "
                "is `jobwatch run` running? (set --server or JOBWATCH_SERVER)"
            ) from None
        if response.status_code >= 400:
            raise ClientError(_describe(response), 2 if response.status_code == 422 else 1)
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=body or {})


def _describe(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    if isinstance(detail, list):
        lines = []
        for problem in detail:
            loc = [str(part) for part in problem.get("loc", []) if part not in ("body", "query")]
            lines.append(f"{'.'.join(loc) or 'request'}: {problem.get('msg')}")
        return "\n".join(lines)
    return f"{response.status_code}: {detail}"
