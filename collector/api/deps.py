"""Request dependencies shared by the routers: the collector and the bearer-token check."""

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from collector.params import ParamsError
from collector.service import Collector

_bearer = HTTPBearer(auto_error=False)


def get_collector(request: Request) -> Collector:
    return request.app.state.collector


CollectorDep = Annotated[Collector, Depends(get_collector)]


def require_token(
    collector: CollectorDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """Mutations need ``Authorization: Bearer <api_token>`` whenever a token is configured.

    Returns who acted (``api`` with a token, None without), for the activity log.
    """
    expected = collector.settings.api_token
    if not expected:
        return None
    if credentials is None or not secrets.compare_digest(
        credentials.credentials.encode(), expected.encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token (Authorization: Bearer <JOBWATCH_API_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "api"


Actor = Annotated[str | None, Depends(require_token)]


def as_utc(value: datetime | None) -> datetime | None:
    """Query datetimes without a zone are taken as UTC, the zone of every stored time."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def unprocessable(*problems: tuple[list[str | int], str]) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, so clients parse one format."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": loc, "msg": message, "type": "value_error"} for loc, message in problems],
    )


def bad_params(error: ParamsError) -> HTTPException:
    """422 naming each bad param at ``body.params.<name>``."""
    return unprocessable(*((["body", "params", name], problem) for name, problem in error.problems))
