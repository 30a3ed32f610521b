"""``/openapi.json`` says what every JSON route of ``/api/v1`` returns, and it is true.

Before, most routes were documented as a bare ``object``: clients and response-
conformance checks learned nothing. Each route now publishes its shape, and real
responses (of runs the tests trigger, external reports, an alert) are validated
against the published document with no unlisted field allowed: a field added to a
view but not to its model still reaches clients (the models pass it through), and
fails here until the model documents it.
"""

import copy
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.api.helpers import start_external, wait_for_activity
from tests.support.process import CollectorProcess

PREFIX = "/api/v1"
BASE = "urn:jobwatch:openapi"
MUTATING = {401, 422}
# (method, path): (documented success codes, documented error codes)
OPERATIONS: dict[tuple[str, str], tuple[set[int], set[int]]] = {
    ("get", "/activity/recent"): ({200}, {422}),
    ("get", "/jobs"): ({200}, set()),
    ("get", "/jobs/{name}"): ({200}, {404, 422}),
    ("post", "/jobs/{name}/runs"): ({202}, MUTATING | {404, 409, 503}),
    ("get", "/runs"): ({200}, {422}),
    ("get", "/runs/{run_id}"): ({200}, {404, 422}),
    ("post", "/runs/{run_id}/cancel"): ({202}, MUTATING | {404, 409}),
    ("get", "/background-tasks/status"): ({200}, set()),
    ("get", "/config/dashboard"): ({200}, set()),
    ("patch", "/config/dashboard"): ({200}, MUTATING),
    ("get", "/streams/active"): ({200}, set()),
    ("get", "/warp/status"): ({200}, set()),
    ("post", "/alerts/webhook"): ({202}, MUTATING),
    ("post", "/runs"): ({200, 201}, MUTATING | {404, 409}),
    ("post", "/runs/{run_id}/progress"): ({200}, MUTATING | {404, 409}),
    ("post", "/runs/{run_id}/finish"): ({200}, MUTATING | {404, 409}),
}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
ALERT = {
    "version": "4",
    "status": "firing",
    "receiver": "jobwatch",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "JobStale", "job": "echo", "severity": "warning"},
            "annotations": {"summary": "echo has not succeeded lately"},
            "startsAt": "2024-05-01T12:00:00Z",
            "fingerprint": "abc123",
        }
    ],
}


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in ("", *parts))


def _closed(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every model that lists its fields closed to any other field.

    The response models let an unlisted key through (so a view never loses one on
    the way out); here such a key fails, until its model lists it.
    """
    document = copy.deepcopy(document)
    for schema in document["components"]["schemas"].values():
        if "properties" in schema and schema.get("additionalProperties", True) is True:
            schema["additionalProperties"] = False
    return document


class Published:
    """The collector's own OpenAPI document, and real responses checked against it."""

    def __init__(self, collector: CollectorProcess) -> None:
        response = collector.http.get("/openapi.json")
        assert response.status_code == 200, response.text
        self.collector = collector
        self.document = _closed(response.json())
        self.registry = Registry().with_resource(BASE, DRAFT202012.create_resource(self.document))
        self.resolver = self.registry.resolver(BASE)
        self.checked: set[tuple[str, str, int]] = set()

    def responses(self, method: str, path: str) -> dict[str, Any]:
        return self.document["paths"][PREFIX + path][method]["responses"]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.resolver.lookup(schema["$ref"]).contents
        return schema

    def body_schema(self, method: str, path: str, code: int) -> dict[str, Any]:
        """The object a response holds (or, for a list, each of its items), resolved."""
        response = self.responses(method, path)[str(code)]
        schema = self.resolve(response["content"]["application/json"]["schema"])
        return self.resolve(schema["items"]) if schema.get("type") == "array" else schema

    def validate(self, method: str, path: str, status: int, body: Any) -> None:
        responses = self.responses(method, path)
        assert str(status) in responses, f"{method.upper()} {path} answered {status}: undocumented"
        where = _pointer("paths", PREFIX + path, method, "responses", str(status), "content")
        validator = Draft202012Validator(
            {"$ref": f"{BASE}#{where}/application~1json/schema"}, registry=self.registry
        )
        errors = [
            f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in validator.iter_errors(body)
        ]
        assert not errors, f"{method.upper()} {path} {status} does not match its schema:\n" + (
            "\n".join(errors[:20])
        )
        self.checked.add((method, path, status))

    def call(
        self,
        method: str,
        path: str,
        expect: int,
        *,
        token: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """``method`` on ``path`` (a template, filled from ``path_params``), checked."""
        url = path.format(**kwargs.pop("path_params", {}))
        if token is not None:
            kwargs["headers"] = {"Authorization": f"Bearer {token}"}
        response: httpx.Response = self.collector.api(method.upper(), url, **kwargs)
        assert response.status_code == expect, (method, url, response.status_code, response.text)
        self.validate(method, path, response.status_code, response.json())
        return response.json()


def test_every_json_route_publishes_its_responses(collector: CollectorProcess) -> None:
    published = Published(collector)
    for (method, path), (successes, errors) in OPERATIONS.items():
        responses = published.responses(method, path)
        documented = {int(code) for code in responses}
        assert documented == successes | errors, (method, path, sorted(documented))
        for code in sorted(documented):
            schema = published.body_schema(method, path, code)
            assert schema.get("type") == "object" and schema.get("properties"), (
                method,
                path,
                code,
                schema,
            )
            if code >= 400:
                assert set(schema["properties"]) == {"detail"}, (method, path, code)


def test_the_contract_fields_are_published_with_their_values(collector: CollectorProcess) -> None:
    published = Published(collector)

    def fields(method: str, path: str) -> dict[str, Any]:
        return published.body_schema(method, path, 200)["properties"]

    page = fields("get", "/activity/recent")
    assert set(page) == {"items", "next_cursor"}
    entry = published.resolve(page["items"]["items"])["properties"]
    assert {"id", "timestamp", "type", "status", "message", "details", "user", "job", "run_id"} <= (
        set(entry)
    )
    run = fields("get", "/runs/{run_id}")
    assert {
        "id",
        "job",
        "status",
        "trigger",
        "params",
        "started_at",
        "finished_at",
        "duration_seconds",
        "records_processed",
        "records_created",
        "records_updated",
        "records_failed",
        "error",
        "trace_id",
    } <= set(run)
    assert run["status"]["enum"] == [
        "queued",
        "running",
        "success",
        "partial",
        "failed",
        "cancelled",
        "timed_out",
        "abandoned",
    ]
    assert set(fields("get", "/background-tasks/status")) == {
        "task_name",
        "last_run",
        "next_run",
        "status",
        "last_error",
        "last_result",
    }
    assert fields("get", "/streams/active")["source"]["enum"] == [
        "acexy",
        "acestream",
        "unavailable",
    ]
    warp = fields("get", "/warp/status")
    assert set(warp) == {"status", "last_connected", "error", "details"}
    assert warp["status"]["enum"] == ["connected", "disconnected", "connecting", "error", "unknown"]
    for method in ("get", "patch"):
        dashboard = fields(method, "/config/dashboard")
        assert (dashboard["retention_days"]["minimum"], dashboard["retention_days"]["maximum"]) == (
            0,
            30,
        )
        interval = dashboard["auto_refresh_interval"]
        assert (interval["minimum"], interval["maximum"]) == (10, 600)


def _jobs_and_runs(published: Published) -> None:
    run = published.call(
        "post",
        "/jobs/{name}/runs",
        202,
        path_params={"name": "echo"},
        json={"params": {"name": "schema", "ratio": 0.5, "batch": 3}},
    )
    done = published.collector.wait_run(run["id"])
    assert done["status"] == "success", done
    python_run = published.call(
        "post", "/jobs/{name}/runs", 202, path_params={"name": "counting"}, json={}
    )
    assert published.collector.wait_run(python_run["id"])["result"] == {"total": 3}
    for run_id in (run["id"], python_run["id"]):
        published.call("get", "/runs/{run_id}", 200, path_params={"run_id": run_id})
    page = published.call("get", "/runs", 200, params={"limit": 1000})
    assert page["items"], page
    jobs = published.call("get", "/jobs", 200)
    assert {job["name"] for job in jobs} >= {"echo", "counting", "ext"}
    echo = published.call("get", "/jobs/{name}", 200, path_params={"name": "echo"})
    assert echo["last_run"] is not None and set(echo["params"]) == {
        "name",
        "ratio",
        "scale",
        "batch",
    }
    # a param spec leaves out what it has no value for (as before): no nulls added
    assert echo["params"]["name"] == {
        "type": "str",
        "required": False,
        "secret": False,
        "flag": "--name",
    }
    published.call("get", "/jobs/{name}", 200, path_params={"name": "ext"})
    published.call("get", "/jobs/{name}", 404, path_params={"name": "no_such_job"})
    published.call(
        "post",
        "/jobs/{name}/runs",
        422,
        path_params={"name": "echo"},
        json={"params": {"ratio": 5, "nope": 1}},
    )
    published.call("post", "/jobs/{name}/runs", 409, path_params={"name": "ext"}, json={})
    published.call(
        "post", "/jobs/{name}/runs", 401, path_params={"name": "echo"}, token="wrong", json={}
    )


def _external_runs(published: Published) -> None:
    body = {"job": "ext", "params": {"note": "schema", "batch": 2}, "client_run_id": "schema-1"}
    run = published.call("post", "/runs", 201, json=body, headers={"traceparent": TRACEPARENT})
    again = published.call("post", "/runs", 200, json=body)
    assert again["id"] == run["id"]
    ids = {"run_id": run["id"]}
    progress = {"processed": 4, "created": 3, "updated": 1, "failed": 0, "message": "halfway"}
    published.call("post", "/runs/{run_id}/progress", 200, path_params=ids, json=progress)
    live = published.call("get", "/runs/{run_id}", 200, path_params=ids)
    assert live["status"] == "running" and live["finished_at"] is None, live
    finish = {"status": "partial", "processed": 9, "failed": 1, "result": {"rows": 9}}
    finished = published.call("post", "/runs/{run_id}/finish", 200, path_params=ids, json=finish)
    assert finished["status"] == "partial" and finished["result"] == {"rows": 9}
    published.call("post", "/runs/{run_id}/progress", 409, path_params=ids, json={})
    published.call(
        "post", "/runs/{run_id}/finish", 409, path_params=ids, json={"status": "success"}
    )
    published.call("post", "/runs/{run_id}/cancel", 409, path_params=ids)
    other = start_external(published.collector)
    cancelled = published.call(
        "post", "/runs/{run_id}/cancel", 202, path_params={"run_id": other["id"]}
    )
    assert cancelled["status"] == "cancelled", cancelled
    unknown = {"run_id": 2**31 - 1}
    published.call("get", "/runs/{run_id}", 404, path_params=unknown)
    published.call("post", "/runs/{run_id}/cancel", 404, path_params=unknown)
    published.call("post", "/runs/{run_id}/progress", 404, path_params=unknown, json={})
    published.call(
        "post", "/runs/{run_id}/finish", 404, path_params=unknown, json={"status": "failed"}
    )
    published.call("post", "/runs", 404, json={"job": "no_such_job"})
    published.call("post", "/runs", 409, json={"job": "echo"})
    published.call("post", "/runs", 422, json={"job": "ext", "started_at": 0})
    published.call("get", "/runs/{run_id}", 422, path_params={"run_id": 0})
    published.call("post", "/runs", 401, token="wrong", json={"job": "ext"})


def _activity_and_the_rest(published: Published) -> None:
    received = published.call("post", "/alerts/webhook", 202, json=ALERT)
    assert received == {"received": 1}
    published.call("post", "/alerts/webhook", 422, json={"status": "firing"})
    published.call("post", "/alerts/webhook", 401, token="wrong", json=ALERT)
    wait_for_activity(published.collector, "the alert entry", type="alert", q="JobStale")
    alerts = published.call("get", "/activity/recent", 200, params={"type": "alert", "limit": 10})
    assert alerts["items"][0]["details"]["fingerprint"] == "abc123"
    everything = published.call("get", "/activity/recent", 200, params={"limit": 1000})
    assert {entry["type"] for entry in everything["items"]} >= {"alert", "job", "user_action"}
    first = published.call("get", "/activity/recent", 200, params={"limit": 1})
    assert first["next_cursor"] is not None
    published.call("get", "/activity/recent", 200, params={"cursor": first["next_cursor"]})
    published.call("get", "/activity/recent", 422, params={"limit": 0})
    published.call("get", "/runs", 422, params={"cursor": "not a cursor"})

    tasks = published.call("get", "/background-tasks/status", 200)
    assert {task["task_name"] for task in tasks} >= {"echo", "counting", "ext"}
    current = published.call("get", "/config/dashboard", 200)
    # the same values: the shared collector's retention (the default ``days``) stays put
    published.call("patch", "/config/dashboard", 200, json=current)
    published.call("patch", "/config/dashboard", 422, json={"retention_days": 31})
    published.call("patch", "/config/dashboard", 401, token="wrong", json={})
    published.call("get", "/streams/active", 200)
    published.call("get", "/warp/status", 200)


def _the_other_errors(published: Published) -> None:
    """Each remaining documented error, answered for real: a wrong token on every
    mutation, an impossible run id on every run route."""
    run_id = start_external(published.collector)["id"]
    for (method, path), (_, errors) in OPERATIONS.items():
        path_params = {"name": "echo", "run_id": run_id}
        if 401 in errors:
            published.call(method, path, 401, token="wrong", path_params=path_params, json={})
        if "{run_id}" in path:
            published.call(method, path, 422, path_params={"run_id": 0}, json={})
    published.call("post", "/jobs/{name}/runs", 404, path_params={"name": "no_such_job"})


def test_real_responses_match_the_published_schemas(collector: CollectorProcess) -> None:
    published = Published(collector)
    _jobs_and_runs(published)
    _external_runs(published)
    _activity_and_the_rest(published)
    _the_other_errors(published)
    expected = {
        (method, path, code)
        for (method, path), (successes, errors) in OPERATIONS.items()
        for code in successes | errors
        # 503 only while shutting down; a job name in the path cannot fail validation,
        # but FastAPI documents a 422 for every route with parameters, so ours does too
        if code != 503 and (method, path, code) != ("get", "/jobs/{name}", 422)
    }
    assert expected - published.checked == set()
