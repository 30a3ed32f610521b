"""OpenTelemetry set-up: one SDK TracerProvider for the process, export only when asked.

The SDK provider is always installed, so every run gets a real trace id (written on
the run, passed to command jobs as ``TRACEPARENT``, shown as the duration exemplar)
even when nothing is exported. With no OTLP endpoint configured there is no span
processor at all, so an ended span is simply dropped: near-zero cost. The standard
``OTEL_*`` variables keep their usual meaning: ``OTEL_SDK_DISABLED=true`` turns
tracing off, ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` override the
resource, ``OTEL_TRACES_EXPORTER=none`` disables export, and the exporter and batch
processor read their own ``OTEL_EXPORTER_OTLP_*``/``OTEL_BSP_*`` settings.
"""

import logging
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import (
    SERVICE_NAME,
    SERVICE_VERSION,
    OTELResourceDetector,
    Resource,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

logger = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def _flag(name: str) -> str:
    return os.environ.get(name, "").strip().lower()


def export_endpoint() -> str | None:
    """The configured OTLP endpoint, or None when export is not wanted."""
    if _flag("OTEL_SDK_DISABLED") == "true" or _flag("OTEL_TRACES_EXPORTER") == "none":
        return None
    return next((os.environ[n].strip() for n in ENDPOINT_VARIABLES if _flag(n)), None)


def setup_tracing(service_name: str, version: str) -> TracerProvider:
    """Install the global TracerProvider; call once at start-up, before any run.

    ``service_name`` and ``version`` are defaults: the environment wins, as the
    OpenTelemetry specification wants.
    """
    resource = Resource.create({SERVICE_NAME: service_name, SERVICE_VERSION: version}).merge(
        OTELResourceDetector().detect()
    )
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    endpoint = export_endpoint()
    if endpoint is not None:
        # Imported here so a collector that never exports never loads requests/protobuf.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        logger.info("exporting traces over OTLP/HTTP to %s", endpoint)
    trace.set_tracer_provider(provider)
    return provider


def shutdown_tracing(provider: TracerProvider) -> None:
    """Flush spans still queued for export and stop the exporter; call at shutdown."""
    provider.shutdown()
