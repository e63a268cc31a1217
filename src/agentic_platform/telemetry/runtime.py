"""Builds a process's tracer, metrics and exporters from ``settings.telemetry``.

Nothing is global: the tracer provider is this process's own (never installed as the
OpenTelemetry global), built in the app's lifespan and held on ``PlatformState.telemetry``;
the code that traces asks that object for its tracer. Spans (:mod:`.tracing`) leave
through a ``BatchSpanProcessor`` per exporter, whose thread does the sending: a request only appends
its finished spans to a bounded queue (dropped when full), so a collector that is down or
slow never slows or fails it. Shutting down flushes what is queued, within the export
timeout.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentic_platform import __version__
from agentic_platform.errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

    from agentic_platform.settings import Settings
    from agentic_platform.telemetry.metrics import PlatformMetrics
    from agentic_platform.telemetry.otlp_metrics import MetricPusher
    from agentic_platform.telemetry.settings import TelemetrySettings
    from agentic_platform.telemetry.tracing import PlatformTracerProvider

logger = logging.getLogger("agentic_platform.telemetry")

LANGFUSE_TRACES_PATH = "/api/public/otel/v1/traces"


class Telemetry:
    """What the code that traces and measures uses. Off (the default) it holds neither a
    tracer nor metrics, and every instrumented place costs one ``is None`` test."""

    def __init__(
        self,
        *,
        tracer: Tracer | None = None,
        provider: PlatformTracerProvider | None = None,
        metrics: PlatformMetrics | None = None,
        capture_content: bool = False,
        database_spans: bool = False,
    ) -> None:
        self.tracer = tracer
        self.provider = provider
        """The tracer provider: tests add an in-memory exporter to it."""
        self.metrics = metrics
        self.capture_content = capture_content
        self.database_spans = database_spans
        self._pusher: MetricPusher | None = None
        self._prometheus: Any = None

    async def aclose(self) -> None:
        """Flush and stop the exporters (in a thread: the SDK's shutdown blocks)."""
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        if self._prometheus is not None:
            self._prometheus.shutdown()
            self._prometheus.server_close()
        if self._pusher is not None:
            self._pusher.stop()
        if self.provider is not None:
            self.provider.shutdown()


def service_name(settings: Settings, services: Sequence[str]) -> str:
    if settings.telemetry.service_name:
        return settings.telemetry.service_name
    return f"agentic-{services[0]}" if len(services) == 1 else "agentic-platform"


def start_telemetry(settings: Settings, services: Sequence[str]) -> Telemetry:
    """The telemetry ``settings.telemetry`` asks for, its exporters started."""
    config = settings.telemetry
    if not config.enabled:
        return Telemetry()
    try:
        from opentelemetry.sdk.resources import Resource

        from agentic_platform.telemetry.metrics import PlatformMetrics
    except ImportError:
        raise ConfigurationError(
            "telemetry needs the 'telemetry' extra: pip install 'agentic-platform[telemetry]' "
            "(or set AGENTIC_TELEMETRY__ENABLED=false)"
        ) from None
    resource = Resource(
        {
            **config.resource_attributes,
            "service.name": service_name(settings, services),
            "service.version": config.service_version or __version__,
            "deployment.environment.name": config.deployment_environment or settings.environment,
        }
    )
    provider = _tracer_provider(config, resource)
    telemetry = Telemetry(
        tracer=provider.get_tracer("agentic_platform", __version__),
        provider=provider,
        metrics=PlatformMetrics() if config.metrics else None,
        capture_content=config.capture_content,
        database_spans=config.database_spans,
    )
    if telemetry.metrics is not None:
        _start_metric_exports(telemetry, telemetry.metrics, settings, resource)
    return telemetry


def _tracer_provider(config: TelemetrySettings, resource: Resource) -> PlatformTracerProvider:
    """The process's tracers, sampling as :mod:`.tracing` says: a span inside this process
    follows its parent; a new trace, and by default a caller's trace too, is recorded by
    ``sampling_ratio`` on its trace id, whatever flag the caller's ``traceparent`` carries,
    so no caller can make the platform record (and pay for) its requests.
    ``honour_incoming_sampling`` follows the caller's flag instead."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from agentic_platform.telemetry.tracing import PlatformTracerProvider

    provider = PlatformTracerProvider(
        resource, config.sampling_ratio, honour_incoming=config.honour_incoming_sampling
    )
    for exporter in span_exporters(config):
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                max_queue_size=config.max_queue_size,
                schedule_delay_millis=config.batch_delay_seconds * 1000,
                export_timeout_millis=config.export_timeout_seconds * 1000,
            )
        )
    return provider


def _headers(config: TelemetrySettings) -> dict[str, str]:
    return {name: value.get_secret_value() for name, value in config.otlp_headers.items()}


def langfuse_headers(public_key: str, secret_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def span_exporters(config: TelemetrySettings) -> list[SpanExporter]:
    """One exporter per destination: the OTLP collector, Langfuse. Over HTTP they encode
    with the platform's lean encoder (:mod:`.span_export`); gRPC uses the SDK's exporter."""
    from agentic_platform.telemetry.span_export import OtlpHttpSpanExporter

    exporters: list[SpanExporter] = []
    timeout = config.export_timeout_seconds
    if config.otlp_endpoint:
        endpoint = config.otlp_endpoint.rstrip("/")
        if config.otlp_protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcSpanExporter,
            )

            exporters.append(
                GrpcSpanExporter(
                    endpoint=endpoint,
                    insecure=endpoint.startswith("http://"),
                    headers=_headers(config),
                    timeout=timeout,
                )
            )
        else:
            exporters.append(
                OtlpHttpSpanExporter(f"{endpoint}/v1/traces", _headers(config), timeout)
            )
    langfuse = config.langfuse
    if langfuse.enabled and langfuse.public_key and langfuse.secret_key is not None:
        exporters.append(
            OtlpHttpSpanExporter(
                langfuse.host.rstrip("/") + LANGFUSE_TRACES_PATH,
                langfuse_headers(langfuse.public_key, langfuse.secret_key.get_secret_value()),
                timeout,
            )
        )
    return exporters


def _metric_exporter(config: TelemetrySettings) -> MetricExporter:
    endpoint = (config.otlp_endpoint or "").rstrip("/")
    timeout = config.export_timeout_seconds
    if config.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter(
            endpoint=endpoint,
            insecure=endpoint.startswith("http://"),
            headers=_headers(config),
            timeout=timeout,
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(
        endpoint=f"{endpoint}/v1/metrics", headers=_headers(config), timeout=timeout
    )


def _start_metric_exports(
    telemetry: Telemetry, metrics: PlatformMetrics, settings: Settings, resource: Resource
) -> None:
    config = settings.telemetry
    prometheus = config.prometheus
    if prometheus.enabled and prometheus.port is not None:
        from prometheus_client import start_http_server

        host = prometheus.host or settings.host
        try:
            server, _thread = start_http_server(prometheus.port, host, registry=metrics.registry)
        except OSError as error:
            raise ConfigurationError(
                f"the metrics listener cannot bind {host}:{prometheus.port} "
                f"({error.strerror}): set AGENTIC_TELEMETRY__PROMETHEUS__PORT to a free port"
            ) from None
        telemetry._prometheus = server
    if config.otlp_endpoint:
        from agentic_platform.telemetry.otlp_metrics import MetricPusher

        pusher = MetricPusher(
            metrics.registry,
            _metric_exporter(config),
            resource,
            config.metrics_export_seconds,
            config.export_timeout_seconds,
        )
        pusher.start()
        telemetry._pusher = pusher
