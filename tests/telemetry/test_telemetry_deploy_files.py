"""The collector configurations, alert rules and dashboard in deploy/ name only metrics the
platform emits and components they define."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from agentic_platform.telemetry.metrics import INSTRUMENTS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\b((?:gen_ai|agentic|http_server)_[a-z_]+)\b")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("_total",), "gauge": ("",)}


def exposed() -> set[str]:
    return {spec.prometheus_name + suffix for spec in INSTRUMENTS for suffix in SUFFIXES[spec.kind]}


def named_metrics(expressions: list[str]) -> set[str]:
    """The metric names in PromQL expressions (label names that look alike left out)."""
    labels = {label for spec in INSTRUMENTS for label in spec.labels}
    return {name for expr in expressions for name in METRIC.findall(expr)} - labels


def test_alert_rules_use_real_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yaml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    alerts = {rule.get("alert") for group in rules["groups"] for rule in group["rules"]}
    assert {"AgenticHighErrorRate", "AgenticHighLatency", "AgenticBudgetNearlySpent"} <= alerts
    assert {"AgenticLedgerBacklog"} <= alerts
    used = named_metrics(expressions)
    assert used, "no metric found in the rules"
    assert used <= exposed(), f"unknown metrics: {used - exposed()}"


def test_dashboard_uses_real_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = named_metrics(expressions)
    assert len(used) >= 8
    assert used <= exposed(), f"unknown metrics: {used - exposed()}"


def test_collector_pipelines_use_defined_components() -> None:
    base = yaml.safe_load((DEPLOY / "otel" / "collector.yaml").read_text())
    overlay = yaml.safe_load((DEPLOY / "otel" / "langfuse.yaml").read_text())
    for config in (base, {**base, "exporters": {**base["exporters"], **overlay["exporters"]}}):
        pipelines = overlay["service"]["pipelines"] if config is not base else {}
        for name, pipeline in {**base["service"]["pipelines"], **pipelines}.items():
            for kind in ("receivers", "processors", "exporters"):
                missing = set(pipeline.get(kind, [])) - set(config[kind])
                assert not missing, f"{name} uses undefined {kind}: {missing}"
    assert base["service"]["pipelines"]["traces"]["exporters"] == ["awsxray"]
    assert base["service"]["pipelines"]["metrics"]["exporters"] == ["awsemf"]
    assert base["service"]["pipelines"]["logs"]["exporters"] == ["awscloudwatchlogs"]
    assert "otlphttp/langfuse" in overlay["service"]["pipelines"]["traces"]["exporters"]
