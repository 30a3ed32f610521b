"""docker-compose.yml, the Dockerfile and .env.example, checked without a Docker engine.

The compose file is validated against the Compose Specification JSON schema that the
check-jsonschema package ships (``--builtin-schema vendor.compose-spec``), then held to
the stack's rules: pinned images, loopback-only ports, mounted paths that exist.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack.helpers import REPO, load_yaml, output
from tests.support.binaries import stack_required

COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE = load_yaml(COMPOSE_FILE)
SERVICES = COMPOSE["services"]


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        reason = "check-jsonschema is not installed (pip install check-jsonschema)"
        if stack_required():
            pytest.fail(f"{reason}; JOBWATCH_REQUIRE_STACK=1 forbids skipping")
        pytest.skip(reason)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_matches_the_compose_schema() -> None:
    result = _check_jsonschema(COMPOSE_FILE)
    assert result.returncode == 0, output(result)


def test_schema_check_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        COMPOSE_FILE.read_text().replace("    restart: unless-stopped\n", "    restart: [1]\n", 1)
    )
    result = _check_jsonschema(broken)
    assert result.returncode != 0, output(result)
    assert "restart" in result.stdout + result.stderr


def test_the_stack_has_its_services() -> None:
    assert set(SERVICES) >= {
        "jobwatch",
        "postgres",
        "prometheus",
        "alertmanager",
        "grafana",
        "tempo",
    }
    jobwatch = SERVICES["jobwatch"]
    assert jobwatch["build"] == "."
    environment = jobwatch["environment"]
    assert environment["JOBWATCH_LISTEN"] == "0.0.0.0:9108"
    assert environment["JOBWATCH_API_TOKEN"].startswith("${JOBWATCH_API_TOKEN:?")
    assert environment["JOBWATCH_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in environment["JOBWATCH_DATABASE_URL"]
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://tempo:4318"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in SERVICES["postgres"]["volumes"])


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "image" in s))
def test_every_image_is_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    assert "@sha256:" in image or re.fullmatch(r"[\w./-]+:[\w.-]+", image), image
    tag = image.rsplit(":", 1)[-1]
    assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not an exact version"


def _published_ports() -> list[tuple[str, str]]:
    return [
        (name, str(port)) for name, service in SERVICES.items() for port in service.get("ports", [])
    ]


def test_every_published_port_is_bound_to_loopback() -> None:
    ports = _published_ports()
    assert {name for name, _ in ports} >= {"jobwatch", "grafana", "prometheus", "alertmanager"}
    for name, port in ports:
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        assert len(port.split(":")) == 3, port


def _bind_sources() -> list[tuple[str, str]]:
    sources = []
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/")):
                sources.append((name, source))
        build = service.get("build")
        if build:
            sources.append((name, build if isinstance(build, str) else build.get("context", ".")))
    for kind in ("configs", "secrets"):
        for name, item in COMPOSE.get(kind, {}).items():
            if "file" in item:
                sources.append((name, item["file"]))
    return sources


def test_every_mounted_host_path_exists_in_the_repo() -> None:
    sources = _bind_sources()
    assert len(sources) >= 8
    for name, source in sources:
        assert not source.startswith("/"), f"{name} mounts an absolute host path {source}"
        path = (REPO / source).resolve()
        assert path.is_relative_to(REPO), f"{name}: {source} leaves the repository"
        assert path.exists(), f"{name} mounts {source}, which does not exist"


def test_secrets_and_required_variables_are_documented_in_env_example() -> None:
    example = (REPO / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    text = COMPOSE_FILE.read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)(?::[?-][^}]*)?\}", text))
    used |= {secret["environment"] for secret in COMPOSE["secrets"].values()}
    assert used - documented == set()
    # .env.example carries no values: secrets are never committed.
    assert re.findall(r"^[A-Z_]+=(.+)$", example, re.MULTILINE) == []


def test_demo_config_uses_no_unescaped_interpolation() -> None:
    content = COMPOSE["configs"]["jobwatch_config"]["content"]
    assert "jobs:" in content
    assert re.search(r"(?<!\$)\$(?!\$)", content) is None


DOCKERFILE = (REPO / "Dockerfile").read_text()


def test_dockerfile_is_pinned_non_root_with_a_health_check() -> None:
    (base,) = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    (healthcheck,) = re.findall(r"^HEALTHCHECK (?:.*\\\n)*.*", DOCKERFILE, re.MULTILINE)
    assert "urllib.request" in healthcheck and "/healthz" in healthcheck
    assert 'CMD ["jobwatch", "run", "--config", "/etc/jobwatch/jobwatch.yaml"]' in DOCKERFILE
    assert "pip install ." in DOCKERFILE


def test_dockerfile_copies_files_that_exist() -> None:
    for line in re.findall(r"^COPY (.+)$", DOCKERFILE, re.MULTILINE):
        *sources, _destination = line.split()
        for source in sources:
            assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
