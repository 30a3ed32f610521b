"""What the databases can store, enforced by the column types themselves.

PostgreSQL refuses NUL in text and JSON; a lone UTF-16 surrogate is not Unicode and,
once stored, breaks every read that returns the row; NaN and Infinity are not JSON.
The API refuses such input where a caller can fix it, but job output, reports and
results are kept whole, so every text and JSON column replaces what it cannot hold
(U+FFFD for bad characters, null for non-finite numbers) instead of failing the write.
"""

import math
import re
from typing import Any

from sqlalchemy import JSON, Text, TypeDecorator

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if _SURROGATE.search(text):
        return "contains an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode"
    return None


def clean_text(text: str) -> str:
    """NUL and lone surrogates replaced by U+FFFD, as undecodable output is."""
    return _SURROGATE.sub(REPLACEMENT, text.replace("\x00", REPLACEMENT))


def clean_json(value: Any) -> Any:
    """The value with bad text replaced and NaN/Infinity as null."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {
            clean_text(key) if isinstance(key, str) else key: clean_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [clean_json(item) for item in value]
    return value


class StorableText(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return clean_text(value) if value is not None else None


class StorableJSON(TypeDecorator[Any]):
    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return clean_json(value)
