"""Pushes the Prometheus registry of :mod:`.metrics` over OTLP, under the OpenTelemetry names.

A thread of its own reads the registry every ``metrics_export_seconds`` and hands it to the
OTLP metric exporter as cumulative data points (Prometheus's cumulative buckets become
OTLP's per-bucket counts). A collector that is down costs that thread its export timeout;
requests never wait for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from agentic_platform import __version__
from agentic_platform.telemetry.metrics import INSTRUMENTS, Instrument

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.samples import Sample

logger = logging.getLogger("agentic_platform.telemetry")

_CUMULATIVE = AggregationTemporality.CUMULATIVE
_BY_PROMETHEUS_NAME = {spec.prometheus_name: spec for spec in INSTRUMENTS}
_SCOPE = InstrumentationScope("agentic_platform", __version__)

Labels = tuple[tuple[str, str], ...]


def _attributes(spec: Instrument, labels: dict[str, str]) -> dict[str, str]:
    named = dict(zip(spec.labels, spec.attributes, strict=True))
    return {named[key]: value for key, value in labels.items() if key in named and value != ""}


def _histogram_points(
    spec: Instrument, samples: list[Sample], start: int, now: int
) -> list[HistogramDataPoint]:
    buckets: dict[Labels, list[tuple[float, float]]] = defaultdict(list)
    sums: dict[Labels, float] = {}
    counts: dict[Labels, float] = {}
    for sample in samples:
        labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        if sample.name.endswith("_bucket"):
            buckets[labels].append((float(sample.labels["le"]), sample.value))
        elif sample.name.endswith("_sum"):
            sums[labels] = sample.value
        elif sample.name.endswith("_count"):
            counts[labels] = sample.value
    points = []
    for labels, cumulative in buckets.items():
        cumulative.sort()
        bounds = [bound for bound, _ in cumulative if bound != float("inf")]
        per_bucket, previous = [], 0.0
        for _, value in cumulative:
            per_bucket.append(int(value - previous))
            previous = value
        points.append(
            HistogramDataPoint(
                attributes=_attributes(spec, dict(labels)),
                start_time_unix_nano=start,
                time_unix_nano=now,
                count=int(counts.get(labels, previous)),
                sum=sums.get(labels, 0.0),
                bucket_counts=per_bucket,
                explicit_bounds=bounds,
                min=_lowest(bounds, per_bucket),
                max=_highest(bounds, per_bucket),
            )
        )
    return points


def _lowest(bounds: list[float], per_bucket: list[int]) -> float:
    """Prometheus keeps no minimum: the lower bound of the first bucket with a value."""
    for index, count in enumerate(per_bucket):
        if count:
            return bounds[index - 1] if index else 0.0
    return 0.0


def _highest(bounds: list[float], per_bucket: list[int]) -> float:
    """Nor a maximum: the upper bound of the last bucket with a value (the overflow bucket
    reports the largest bound)."""
    for index in range(len(per_bucket) - 1, -1, -1):
        if per_bucket[index]:
            return bounds[min(index, len(bounds) - 1)] if bounds else 0.0
    return 0.0


def _number_points(
    spec: Instrument, samples: list[Sample], suffix: str, start: int, now: int
) -> list[NumberDataPoint]:
    return [
        NumberDataPoint(
            attributes=_attributes(spec, dict(sample.labels)),
            start_time_unix_nano=start,
            time_unix_nano=now,
            value=sample.value,
        )
        for sample in samples
        if sample.name == spec.prometheus_name + suffix
    ]


def snapshot(registry: CollectorRegistry, resource: Resource, start: int) -> MetricsData:
    """The registry as OTLP data, every instrument of :data:`INSTRUMENTS` by its own name."""
    now = time.time_ns()
    metrics = []
    for family in registry.collect():
        spec = _BY_PROMETHEUS_NAME.get(family.name)
        if spec is None:
            continue
        data: Histogram | Sum | Gauge
        if spec.kind == "histogram":
            data = Histogram(_histogram_points(spec, family.samples, start, now), _CUMULATIVE)
        elif spec.kind == "counter":
            points = _number_points(spec, family.samples, "_total", start, now)
            data = Sum(points, _CUMULATIVE, is_monotonic=True)
        else:
            data = Gauge(_number_points(spec, family.samples, "", start, now))
        metrics.append(Metric(spec.name, spec.description, spec.unit, data))
    scope = ScopeMetrics(_SCOPE, metrics, "")
    return MetricsData([ResourceMetrics(resource, [scope], "")])


class MetricPusher:
    """Exports the registry every ``interval`` seconds, and once more when stopped."""

    def __init__(
        self,
        registry: CollectorRegistry,
        exporter: MetricExporter,
        resource: Resource,
        interval: float,
        timeout: float,
    ) -> None:
        self._registry = registry
        self._exporter = exporter
        self._resource = resource
        self._interval = interval
        self._timeout = timeout
        self._start = time.time_ns()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otlp-metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.export()

    def export(self) -> None:
        try:
            data = snapshot(self._registry, self._resource, self._start)
            self._exporter.export(data, timeout_millis=self._timeout * 1000)
        except Exception as error:  # an exporter must never take the process down
            logger.warning("metrics export failed", extra={"error": type(error).__name__})

    def stop(self) -> None:
        """Stop the thread and export what was recorded since the last push."""
        self._stop.set()
        self._thread.join(self._interval + self._timeout)
        self.export()
        self._exporter.shutdown(timeout_millis=self._timeout * 1000)
