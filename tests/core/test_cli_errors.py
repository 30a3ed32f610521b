"""A user's mistakes with the API commands: one clear line on stderr, a sensible exit code.

The commands run as real subprocesses with stdout and stderr piped, in an
environment that neither widens the console (``COLUMNS``) nor touches colour, so
what is checked is what a script or a CI log gets.
"""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.core.helpers import sync_job
from tests.support.process import CollectorProcess, free_port

TOKEN = "cli-errors-token"
# Variables that would change what the CLI prints or where it connects.
_LEAKY = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def cli_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _LEAKY and not key.startswith("JOBWATCH_")
    }
    return {**env, **extra}


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """``jobwatch ARGS`` as a script runs it: output piped, no jobwatch.yaml in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "collector", *args],
        cwd=cwd,
        env=env if env is not None else cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single line the command printed on stderr (no traceback, no wrapped message)."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    config = {"api_token": TOKEN, "jobs": [sync_job("contacts", "--total", "1")]}
    process = CollectorProcess(tmp_path_factory.mktemp("collector"), config).start()
    yield process
    process.close()


class _NotJobwatch(BaseHTTPRequestHandler):
    """Another HTTP service: an HTML site under /html, some other JSON API under /json."""

    def _answer(self, code: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/html/api/v1/jobs":
            self._answer(200, "<html>\n<body>welcome</body>\n</html>\n", "text/html")
        elif path.startswith("/json/"):
            answers = {"jobs": {"hello": "world"}, "activity/recent": [1, 2]}
            body = answers.get(path.removeprefix("/json/api/v1/"), {"items": "nope"})
            self._answer(200, json.dumps(body), "application/json")
        else:
            page = "<html>\n<head><title>404</title></head>\n<body>Not Found</body>\n</html>\n"
            self._answer(404, page, "text/html")

    def do_POST(self) -> None:
        self._answer(405, "<html>\n<body>Method Not Allowed</body>\n</html>\n", "text/html")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def other_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotJobwatch)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_all(
    cases: dict[str, tuple[str, ...]],
    cwd: Path,
    env: dict[str, str] | None = None,
    envs: dict[str, dict[str, str]] | None = None,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Independent invocations side by side (``envs`` by case): each costs a start-up."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {
            name: pool.submit(cli, *args, cwd=cwd, env=(envs or {}).get(name, env))
            for name, args in cases.items()
        }
        return {name: future.result() for name, future in futures.items()}


def test_an_unreachable_collector_is_one_line_and_exit_1(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    results = run_all(
        {
            "jobs": ("jobs", "--server", dead),
            "status": ("status", "--server", dead),
            "activity": ("activity", "--server", dead),
            "follow": ("activity", "--follow", "--server", dead),
            "trigger": ("trigger", "contacts", "--wait", "--server", dead),
        },
        tmp_path,
    )
    for name, done in results.items():
        assert done.returncode == 1, (name, done.stderr)
        line = one_line(done)
        assert f"cannot reach the collector at {dead}" in line, (name, line)


def test_a_malformed_server_url_is_a_usage_error(tmp_path: Path) -> None:
    urls = ["notaurl", "127.0.0.1:9108", "http://[bad", "http://127.0.0.1:99999", "ftp://host"]
    results = run_all({url: ("jobs", "--server", url) for url in urls}, tmp_path)
    for url, done in results.items():
        assert done.returncode == 2, (url, done.stderr)
        line = one_line(done)
        assert repr(url) in line and "http://HOST:PORT" in line, line


def test_a_malformed_server_url_stops_exec_before_the_command_runs(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    env = cli_env(JOBWATCH_SPOOL_DIR=str(spool))
    done = cli("exec", "nightly", "--server", "notaurl", "--", "echo", "ran", cwd=tmp_path, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "'notaurl'" in one_line(done)
    assert not spool.exists()


def test_token_job_and_param_mistakes(collector: CollectorProcess, tmp_path: Path) -> None:
    server = ("--server", collector.url)
    authorized = cli_env(JOBWATCH_API_TOKEN=TOKEN)
    results = run_all(
        {
            "unknown job": ("trigger", "no_such_job", *server),
            "no equals": ("trigger", "contacts", "--param", "batch_size", *server),
            "no key": ("trigger", "contacts", "--param", "=5", *server),
            "unknown param": ("trigger", "contacts", "--param", "color=red", *server),
            "bad type": ("activity", "--type", "nonsense", *server),
            "no token": ("trigger", "contacts", *server),
            "wrong token": ("trigger", "contacts", *server),
        },
        tmp_path,
        authorized,
        envs={"no token": cli_env(), "wrong token": cli_env(JOBWATCH_API_TOKEN="wrong")},
    )
    for case in ("no token", "wrong token"):
        assert results[case].returncode == 1
        assert one_line(results[case]).startswith("401: "), case
    assert results["unknown job"].returncode == 1
    assert one_line(results["unknown job"]) == "404: unknown job 'no_such_job'"
    assert results["no equals"].returncode == 2
    assert one_line(results["no equals"]) == "--param 'batch_size': expected KEY=VALUE"
    assert results["no key"].returncode == 2
    assert results["unknown param"].returncode == 2
    assert "params.color" in one_line(results["unknown param"])
    assert results["bad type"].returncode == 2
    assert one_line(results["bad type"]).startswith("type: ")
    assert collector.api("GET", "/runs").json()["items"] == []


def test_another_http_service_is_named_not_dumped(other_service: str, tmp_path: Path) -> None:
    html, other_api = f"{other_service}/html", f"{other_service}/json"
    results = run_all(
        {
            "html 200": ("jobs", "--server", html),
            "html 404": ("status", "--server", f"{other_service}/nothing"),
            "html 405": ("trigger", "contacts", "--server", html),
            "follow": ("activity", "--follow", "--server", html),
            "json jobs": ("jobs", "--server", other_api),
            "json status": ("status", "--server", other_api),
            "json activity": ("activity", "--server", other_api),
        },
        tmp_path,
    )
    for name, done in results.items():
        assert done.returncode == 1, (name, done.stderr)
        line = one_line(done)
        assert "<html>" not in line and "is it a jobwatch collector?" in line, (name, line)


def test_local_commands_say_what_is_wrong_in_one_line(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    taken = tmp_path / "taken.yaml"  # its own database, the port of a running collector
    taken.write_text(
        f"database_url: sqlite:///{tmp_path / 'other.db'}\n"
        f"listen: 127.0.0.1:{collector.port}\njobs: []\n"
    )
    config = ("--config", str(taken))
    postgres_down = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    results = run_all(
        {
            "no such database kind": ("db", "upgrade", *config),
            "database down": ("db", "upgrade", *config),
            "port taken": ("run", *config),
            "no config": ("check-config", "--config", str(tmp_path / "missing.yaml")),
        },
        tmp_path,
        envs={
            "no such database kind": cli_env(JOBWATCH_DATABASE_URL="nonsense://x"),
            "database down": cli_env(JOBWATCH_DATABASE_URL=postgres_down),
        },
    )
    for case in ("no such database kind", "database down"):
        assert results[case].returncode == 1, (case, results[case].stderr)
        assert one_line(results[case]).startswith("cannot upgrade the database: "), case
    taken_port = results["port taken"]
    assert taken_port.returncode == 1, taken_port.stderr
    assert "Traceback" not in taken_port.stderr
    assert f"could not listen on 127.0.0.1:{collector.port}" in taken_port.stderr
    assert results["no config"].returncode == 2
    assert one_line(results["no config"]).endswith("missing.yaml: file: not found")
