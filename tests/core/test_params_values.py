"""Param values that cannot be stored or passed on are refused before a run exists.

The API guards its own input too; this is the guard the CLI, config defaults and
scheduled runs rely on.
"""

import pytest

from collector.params import ParamsError, ParamSpec, validate_params

SPECS = {
    "count": ParamSpec(type="int", min=1, max=100),
    "ratio": ParamSpec(type="float"),
    "label": ParamSpec(),
}


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"count": float("inf")}, ("count", "number out of range")),
        ({"count": 5.5}, ("count", "expected an integer")),
        ({"count": "1e5"}, ("count", "expected an integer")),
        ({"count": 0}, ("count", "must be at least 1")),
        ({"ratio": "nan"}, ("ratio", "expected a finite number")),
        ({"ratio": "1e999"}, ("ratio", "expected a finite number")),
        ({"ratio": 10**400}, ("ratio", "number out of range")),
        ({"label": "a\x00b"}, ("label", "contains a NUL or an unpaired surrogate character")),
        ({"label": "\ud800"}, ("label", "contains a NUL or an unpaired surrogate character")),
    ],
)
def test_unusable_values_are_refused_with_the_param_named(
    given: dict, problem: tuple[str, str]
) -> None:
    with pytest.raises(ParamsError) as raised:
        validate_params(SPECS, given)
    assert raised.value.problems == [problem]


def test_cli_strings_become_typed_values() -> None:
    assert validate_params(SPECS, {"count": "7", "ratio": "2.5", "label": "ok"}) == {
        "count": 7,
        "ratio": 2.5,
        "label": "ok",
    }
