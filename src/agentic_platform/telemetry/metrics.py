"""The platform's metrics, recorded once into a private Prometheus registry.

That registry is both what ``/metrics`` serves and what :mod:`.otlp_metrics` pushes over
OTLP under the OpenTelemetry names. Recording straight into ``prometheus_client`` costs about
a microsecond a value; the OpenTelemetry metrics SDK cost six, per reader, on the
gateway's hot path. Names follow the OpenTelemetry semantic conventions where there is one
(``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration``,
``http.server.request.duration``); Prometheus sees them with dots as underscores and the
unit as a suffix (``gen_ai_client_operation_duration_seconds``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

InstrumentKind = Literal["histogram", "counter", "gauge"]
M = TypeVar("M", Histogram, Counter)

TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
OPERATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True, slots=True)
class Instrument:
    """One metric: its OpenTelemetry name, unit and attributes, and its Prometheus name."""

    name: str
    kind: InstrumentKind
    unit: str
    description: str
    attributes: tuple[str, ...]

    @property
    def prometheus_name(self) -> str:
        base = self.name.replace(".", "_")
        suffix = {"s": "_seconds", "USD": "_usd"}.get(self.unit, "")
        return base + suffix

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(attribute.replace(".", "_") for attribute in self.attributes)


TOKEN_USAGE = Instrument(
    "gen_ai.client.token.usage",
    "histogram",
    "{token}",
    "Tokens per model call, by gen_ai.token.type (input or output).",
    ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.token.type"),
)
OPERATION_DURATION = Instrument(
    "gen_ai.client.operation.duration",
    "histogram",
    "s",
    "Duration of each model call through the LLM gateway, admission included.",
    ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "error.type"),
)
HTTP_DURATION = Instrument(
    "http.server.request.duration",
    "histogram",
    "s",
    "Duration of each HTTP request the platform served.",
    ("http.request.method", "http.route", "http.response.status_code"),
)
REJECTIONS = Instrument(
    "agentic.gateway.rejections",
    "counter",
    "{request}",
    "Model calls refused by a limit: reason rate_limit, budget or request_too_large.",
    ("reason", "gen_ai.request.model"),
)
SPEND = Instrument(
    "agentic.gateway.spend",
    "counter",
    "USD",
    "Spend of the model calls, priced from the catalog.",
    ("gen_ai.provider.name", "gen_ai.request.model"),
)
UPSTREAM_ERRORS = Instrument(
    "agentic.gateway.upstream.errors",
    "counter",
    "{error}",
    "Failed attempts at a provider (each retry and fallback counts).",
    ("gen_ai.provider.name", "error.type"),
)
QUEUE_DEPTH = Instrument(
    "agentic.queue.depth",
    "gauge",
    "{item}",
    "Work waiting in the process: queue ledger, memory_indexing, memory_extraction, "
    "ingestion_jobs.",
    ("queue",),
)
INSTRUMENTS = (
    TOKEN_USAGE,
    OPERATION_DURATION,
    HTTP_DURATION,
    REJECTIONS,
    SPEND,
    UPSTREAM_ERRORS,
    QUEUE_DEPTH,
)

_REJECTION_REASONS = {"budget_exceeded": "budget", "request_too_large": "request_too_large"}


class _QueueDepths(Collector):
    """Asks each registered queue for its depth at collection time."""

    def __init__(self) -> None:
        self.queues: dict[str, Callable[[], int]] = {}

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            QUEUE_DEPTH.prometheus_name, QUEUE_DEPTH.description, labels=QUEUE_DEPTH.labels
        )
        for name, depth in list(self.queues.items()):
            family.add_metric([name], float(depth()))
        yield family


def _histogram(
    spec: Instrument, buckets: tuple[float, ...], registry: CollectorRegistry
) -> Histogram:
    return Histogram(
        spec.prometheus_name, spec.description, spec.labels, registry=registry, buckets=buckets
    )


def _counter(spec: Instrument, registry: CollectorRegistry) -> Counter:
    return Counter(spec.prometheus_name, spec.description, spec.labels, registry=registry)


class _Series(Generic[M]):
    """A metric's children by label values, looked up in a plain dict: ``labels()`` checks
    and converts its arguments and takes a lock on every call, twice the cost of the
    observation itself."""

    __slots__ = ("_children", "_metric")
    _metric: M
    _children: dict[tuple[str, ...], M]

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._children = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class PlatformMetrics:
    """The instruments of one process; every method is safe to call on the hot path."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._tokens = _Series(_histogram(TOKEN_USAGE, TOKEN_BUCKETS, self.registry))
        self._operations = _Series(_histogram(OPERATION_DURATION, OPERATION_BUCKETS, self.registry))
        self._http = _Series(_histogram(HTTP_DURATION, HTTP_BUCKETS, self.registry))
        self._rejections = _Series(_counter(REJECTIONS, self.registry))
        self._spend = _Series(_counter(SPEND, self.registry))
        self._upstream_errors = _Series(_counter(UPSTREAM_ERRORS, self.registry))
        self._queues = _QueueDepths()
        self.registry.register(self._queues)

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._http(method, route, str(status)).observe(seconds)

    def model_call(
        self,
        operation: str,
        provider: str,
        model: str,
        error_type: str | None,
        seconds: float,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float,
    ) -> None:
        """One settled gateway call: its duration, tokens and spend."""
        self._operations(operation, provider, model, error_type or "").observe(seconds)
        if input_tokens:
            self._tokens(operation, provider, model, "input").observe(input_tokens)
        if output_tokens:
            self._tokens(operation, provider, model, "output").observe(output_tokens)
        if cost_usd > 0:
            self._spend(provider, model).inc(cost_usd)

    def rejection(self, code: str | None, model: str) -> None:
        """A call a limit refused (429), by its error code."""
        reason = _REJECTION_REASONS.get(code or "", "rate_limit")
        self._rejections(reason, model).inc()

    def upstream_error(self, provider: str, error_type: str) -> None:
        self._upstream_errors(provider, error_type).inc()

    def watch_queue(self, name: str, depth: Callable[[], int]) -> None:
        """Report ``depth()`` as the depth of queue ``name`` whenever metrics are read."""
        self._queues.queues[name] = depth
