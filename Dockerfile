# jobwatch collector: API, /metrics and the scheduler on port 9108.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/jobwatch jobwatch

WORKDIR /src
COPY pyproject.toml README.md ./
COPY collector ./collector
COPY exporters ./exporters
RUN pip install . && rm -rf /src

WORKDIR /var/lib/jobwatch
USER jobwatch

# Beyond loopback jobwatch needs JOBWATCH_API_TOKEN (docker-compose.yml passes it).
ENV JOBWATCH_LISTEN=0.0.0.0:9108 \
    JOBWATCH_CONFIG=/etc/jobwatch/jobwatch.yaml
EXPOSE 9108

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]

CMD ["jobwatch", "run", "--config", "/etc/jobwatch/jobwatch.yaml"]
