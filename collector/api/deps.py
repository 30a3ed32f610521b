"""Request dependencies shared by the routers: the collector, the bearer-token check, and
the input types that keep what a client sends within what the database can hold."""

import math
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BeforeValidator
from sqlalchemy.exc import DataError, DBAPIError, StatementError

from collector.jobconfig import JobConfigBase
from collector.params import ParamsError, validate_params
from collector.service import Collector
from collector.store.queries import BadCursor
from collector.store.storable import clean_json, clean_text, text_problem

_bearer = HTTPBearer(auto_error=False)

# ``Integer`` columns (ids, record counts) are 32-bit on PostgreSQL: a larger number
# can name no row and fit no count, so it is refused here rather than by the database.
MAX_DB_INT = 2**31 - 1
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
BAD_CURSOR = "cursor is not one this server returned (pass next_cursor back unchanged)"


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
        detail=[
            {"loc": clean_json(loc), "msg": message, "type": "value_error"}
            for loc, message in problems
        ],
    )


def bad_params(error: ParamsError) -> HTTPException:
    """422 naming each bad param at ``body.params.<name>``."""
    return unprocessable(*((["body", "params", name], problem) for name, problem in error.problems))


# --- input the database cannot hold --------------------------------------------------
#
# JSON lets a client send what no column can store: ``\u0000`` (PostgreSQL refuses NUL
# in text, and an argv cannot carry it), a lone surrogate such as ``\ud800`` (not
# Unicode: once stored, every list that includes the row fails to encode), NaN and
# Infinity (Python's JSON parser accepts them; JSON and PostgreSQL do not).


def _storable(text: str) -> str:
    problem = text_problem(text)
    if problem:
        raise ValueError(problem)
    return text


StoredText = Annotated[str, AfterValidator(_storable)]
"""Refused (422) when it holds what cannot be stored."""

CleanText = Annotated[str, AfterValidator(clean_text)]
"""Kept, with what cannot be stored replaced: for reports a refusal would lose."""


def json_problems(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[list, str]]:
    """Each place in a JSON value holding what cannot be stored, as (path, problem)."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            yield list(path), problem
    elif isinstance(value, float) and not math.isfinite(value):
        yield list(path), "is not a finite number (NaN and Infinity are not JSON)"
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(key) if isinstance(key, str) else None
            if problem:
                yield [*path, key], f"key {problem}"
            yield from json_problems(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_problems(item, (*path, index))


def check_params(job: JobConfigBase, params: dict[str, Any]) -> None:
    """422 naming every bad param at once, at ``body.params.<name>``.

    What JSON itself cannot carry (NaN, text that cannot be stored, anywhere in a
    nested value) is named first; ``validate_params`` judges names, types and bounds.
    """
    problems: dict[tuple[str | int, ...], str] = {}
    for path, problem in json_problems(params):
        problems.setdefault(("body", "params", *path), problem)
    try:
        validate_params(job.params, params)
    except ParamsError as error:
        for name, problem in error.problems:
            problems.setdefault(("body", "params", name), problem)
    if problems:
        raise unprocessable(*((list(loc), problem) for loc, problem in problems.items()))


def _not_a_number(value: Any) -> Any:
    """Pydantic would read ``0.5`` or ``1700000000`` as Unix time; the API speaks ISO 8601."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected an ISO 8601 date-time such as 2024-05-01T12:00:00Z")
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return as_utc(value)  # type: ignore[return-value]
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


UtcDateTime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_in_utc)]
"""An ISO 8601 date-time, as aware UTC; one without a zone is taken as UTC."""

RunId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="a run id")]


@contextmanager
def cursor_errors(cursor: str | None) -> Iterator[None]:
    """A cursor the store cannot use answers 422 at ``query.cursor``.

    Besides ``BadCursor``, a cursor that decodes but holds what the query cannot bind
    (a naive or out-of-range time, an id beyond the column) fails while binding, or in
    the database as a data error; those can only come from the cursor, since every
    other filter is validated first. Other database errors still propagate.
    """
    try:
        yield
    except BadCursor:
        raise unprocessable((["query", "cursor"], BAD_CURSOR)) from None
    except (ValueError, OverflowError, StatementError) as exc:
        if not cursor or (isinstance(exc, DBAPIError) and not isinstance(exc, DataError)):
            raise
        raise unprocessable((["query", "cursor"], BAD_CURSOR)) from None


def _cursor_shape(cursor: str) -> str:
    """The alphabet of the cursors the store writes (URL-safe base64); empty = first page."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", cursor):
        raise ValueError(BAD_CURSOR)
    return cursor


Cursor = Annotated[str, AfterValidator(_cursor_shape)]
