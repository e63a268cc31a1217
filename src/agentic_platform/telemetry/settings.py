"""Settings for traces, metrics and their exporters (``settings.telemetry``,
``AGENTIC_TELEMETRY__*``).

Plain pydantic: reading them needs none of the ``telemetry`` extra, which only the start-up
of an enabled telemetry imports.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


class PrometheusSettings(BaseModel):
    enabled: bool = Field(
        default=True,
        description="Serve the metrics in the Prometheus text format (no API key needed).",
    )
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve them on their own listener on this port instead of at /metrics on "
        "the platform's port (keeps them off an ingress that exposes the API).",
    )
    host: str | None = Field(
        default=None,
        description="Address the separate metrics listener binds (only with a port); "
        "defaults to the platform's `host`.",
    )


class LangfuseSettings(BaseModel):
    enabled: bool = Field(
        default=False, description="Also send every trace to Langfuse over OTLP/HTTP."
    )
    host: str = Field(
        default="https://cloud.langfuse.com",
        description="Base URL of the Langfuse server (cloud or self-hosted); traces go to "
        "<host>/api/public/otel/v1/traces.",
    )
    public_key: str | None = Field(
        default=None, description="The Langfuse project's public key (pk-lf-...)."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="The Langfuse project's secret key (sk-lf-...), from a secret; sent with "
        "the public key as HTTP basic auth.",
    )

    @model_validator(mode="after")
    def _keys_when_enabled(self) -> LangfuseSettings:
        if self.enabled and (not self.public_key or self.secret_key is None):
            raise ValueError(
                "Langfuse export needs both keys: set AGENTIC_TELEMETRY__LANGFUSE__PUBLIC_KEY "
                "and AGENTIC_TELEMETRY__LANGFUSE__SECRET_KEY (or turn it off)"
            )
        return self


class TelemetrySettings(BaseModel):
    """OpenTelemetry traces and metrics (docs/observability.md)."""

    enabled: bool = Field(
        default=False,
        description="Trace requests and record metrics (needs the 'telemetry' extra).",
    )
    service_name: str | None = Field(
        default=None,
        description="service.name of this process; defaults to agentic-<service> for one "
        "service (agentic-llm-gateway, ...) and agentic-platform for several.",
    )
    service_version: str | None = Field(
        default=None, description="service.version; defaults to the platform's version."
    )
    deployment_environment: str | None = Field(
        default=None,
        description="deployment.environment.name (e.g. staging); defaults to `environment`.",
    )
    resource_attributes: dict[str, str] = Field(
        default_factory=dict,
        description="More resource attributes on every span and metric "
        '(e.g. {"k8s.cluster.name": "prod-eu"}).',
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="The OTLP collector: http://collector:4317 for grpc, "
        "http://collector:4318 for http (the /v1/traces and /v1/metrics paths are added). "
        "Unset: nothing is sent over OTLP (Langfuse and /metrics still work).",
    )
    otlp_protocol: Literal["grpc", "http"] = Field(
        default="grpc", description="OTLP transport: grpc or http (protobuf over HTTP)."
    )
    otlp_headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Headers sent with every OTLP export (e.g. an auth token), from a secret.",
    )
    export_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Longest an export may take; a collector that is down or slow costs the "
        "exporter's thread this much, never a request.",
    )
    sampling_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of traces recorded, decided on the trace id (the same decision "
        "in every service at the same ratio), for new traces and, unless "
        "honour_incoming_sampling, for a caller's too. 0 records none but still propagates "
        "trace ids.",
    )
    honour_incoming_sampling: bool = Field(
        default=False,
        description="Follow the sampled flag of a caller's traceparent (record what it says is "
        "sampled, skip what it says is not). Off (the default): a caller's trace is joined "
        "but recorded by sampling_ratio, so no caller can make the platform trace every "
        "request it sends. Turn on only where every caller is trusted (e.g. a gateway "
        "reachable only from the platform's own agents at a lower ratio).",
    )
    capture_content: bool = Field(
        default=False,
        description="Put prompts and completions on the model-call spans "
        "(gen_ai.input.messages / gen_ai.output.messages). Off: only sizes, tokens and "
        "parameters.",
    )
    max_queue_size: int = Field(
        default=4096,
        ge=64,
        description="Finished spans waiting for export; past this, new ones are dropped.",
    )
    batch_delay_seconds: float = Field(
        default=2.0, gt=0, le=60, description="Longest a finished span waits for its export."
    )
    database_spans: bool = Field(
        default=True,
        description="A span per SQL statement run inside a traced request.",
    )
    metrics: bool = Field(default=True, description="Record metrics.")
    metrics_export_seconds: float = Field(
        default=60.0, ge=1, description="How often metrics are pushed over OTLP."
    )
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    langfuse: LangfuseSettings = Field(default_factory=LangfuseSettings)

    @property
    def serves_metrics_on_app(self) -> bool:
        """Whether ``/metrics`` is a route of the platform's own port."""
        return (
            self.enabled and self.metrics and self.prometheus.enabled and not self.prometheus.port
        )
