"""Prometheus exposition and OpenTelemetry tracing of what the collector records.

The collector publishes events; ``exporters.metrics`` turns them into the metrics of
the contract, ``exporters.endpoint`` serves them at ``GET /metrics``,
``exporters.tracing`` and ``exporters.http_tracing`` set up the traces.
"""
