"""Probe config: the YAML shapes people write, and errors that name the field."""

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from collector.probes import PROBES
from collector.probes.streams import StreamsConfig, StreamsProbe
from collector.probes.warp import WarpConfig, WarpProbe


def test_registry_names_each_probe_and_its_config() -> None:
    assert list(PROBES.items()) == [("streams", StreamsProbe), ("warp", WarpProbe)]
    assert {name: cls.config_model for name, cls in PROBES.items()} == {
        "streams": StreamsConfig,
        "warp": WarpConfig,
    }


def test_contract_example_and_defaults() -> None:
    streams = StreamsConfig.model_validate(
        {
            "acexy_url": "http://127.0.0.1:8080",
            "acestream_url": "http://127.0.0.1:6878/",
            "interval": "15s",
            "timeout": "3s",
        }
    )
    assert (streams.acexy_url, streams.acestream_url) == (
        "http://127.0.0.1:8080",
        "http://127.0.0.1:6878",
    )
    assert (streams.interval, streams.timeout) == (15.0, 3.0)
    assert (
        StreamsConfig(acexy_url="http://h").interval,
        StreamsConfig(acexy_url="http://h").timeout,
    ) == (15.0, 3.0)

    warp = WarpConfig.model_validate({"trace_url": None, "interval": "30s", "timeout": "5s"})
    assert warp.command == ["warp-cli", "--accept-tos", "status"]
    assert (warp.interval, warp.timeout, warp.json_output) == (30.0, 5.0, False)
    assert WarpConfig(command=["warp-cli", "-j", "status"]).json_output is True
    assert WarpConfig(command=["warp-cli", "--json", "status"]).json_output is True
    assert WarpConfig(command=None, trace_url="https://1.1.1.1/cdn-cgi/trace").command is None


@pytest.mark.parametrize(
    ("model", "data", "field", "message"),
    [
        (
            StreamsConfig,
            {"acexy_url": "http://h", "timeout": "15s"},
            "timeout",
            "must be shorter than interval (15s), got 15s",
        ),
        (StreamsConfig, {"acexy_url": "http://h", "timeout": 0}, "timeout", "greater than 0"),
        (
            StreamsConfig,
            {"acexy_url": "http://h", "interval": "soon"},
            "interval",
            "'soon' is not a duration",
        ),
        (
            StreamsConfig,
            {"acexy_url": "http://h", "interval": "500ms", "timeout": "100ms"},
            "interval",
            "greater than or equal to 1",
        ),
        (
            StreamsConfig,
            {"acexy_url": "ftp://h"},
            "acexy_url",
            "'ftp://h' is not an http:// or https:// URL",
        ),
        (
            StreamsConfig,
            {"acexy_url": "http://h", "acexy": "x"},
            "acexy",
            "Extra inputs are not permitted",
        ),
        (StreamsConfig, {}, "", "set acexy_url, acestream_url or both"),
        (WarpConfig, {"command": []}, "command", "must be a non-empty argv list"),
        (WarpConfig, {"command": "warp-cli status"}, "command", "valid list"),
        (WarpConfig, {"command": None}, "", "set command, trace_url or both"),
        (
            WarpConfig,
            {"trace_url": "cloudflare.com/cdn-cgi/trace"},
            "trace_url",
            "is not an http:// or https:// URL",
        ),
        (WarpConfig, {"interval": "4s"}, "timeout", "must be shorter than interval (4s), got 5s"),
    ],
)
def test_bad_config_names_the_field(
    model: type[BaseModel], data: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    (error,) = caught.value.errors()
    assert ".".join(str(part) for part in error["loc"]) == field
    assert message in error["msg"]
