"""Metrics: recorded as calls settle, served on /metrics (no key) or on a port of their own,
and pushed over OTLP under the OpenTelemetry names."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from agentic_platform.llm_gateway.catalog import ModelEntry
from agentic_platform.testing.redis_server import free_port
from agentic_platform.testing.telemetry import OtlpReceiver

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "one two three"}]}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    matching = [
        v for (n, ls), v in found.items() if n == name and labels.items() <= dict(ls).items()
    ]
    assert matching, f"no {name} with {labels}"
    return sum(matching)


async def test_gateway_metrics_on_metrics(
    telemetry_settings: Any, platform: Any, client_for: Any, flaky_model: ModelEntry
) -> None:
    settings = telemetry_settings(models=[flaky_model])
    async with platform(settings) as (app, _spans), client_for(app) as http:
        plan = await http.post(
            "/admin/v1/plans", json={"name": "tiny", "input_tokens_per_minute": 1}
        )
        user = await http.post("/admin/v1/principals", json={"name": "small"})
        key = await http.post(
            "/admin/v1/keys",
            json={"principal_id": user.json()["id"], "name": "k", "plan_id": plan.json()["id"]},
        )
        for _ in range(3):
            assert (await http.post("/llm/v1/chat/completions", json=CHAT)).status_code == 200
        assert (
            await http.post("/llm/v1/chat/completions", json={**CHAT, "model": "flaky"})
        ).status_code == 200
        async with client_for(app, key.json()["secret"]) as small:
            refused = await small.post("/llm/v1/chat/completions", json=CHAT)
        scraped = await httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://platform"
        ).get("/metrics")
    assert refused.status_code == 429
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    found = samples(scraped.text)
    echo = {"gen_ai_request_model": "echo", "gen_ai_operation_name": "chat"}
    duration = "gen_ai_client_operation_duration_seconds_count"
    assert value(found, duration, **echo, error_type="") == 3
    assert value(found, duration, **echo, error_type="request_too_large") == 1
    tokens = {**echo, "gen_ai_provider_name": "test"}
    assert value(found, "gen_ai_client_token_usage_sum", **tokens, gen_ai_token_type="output") == 9
    assert value(found, "gen_ai_client_token_usage_count", **tokens, gen_ai_token_type="input") == 3
    route = {"http_route": "/llm/v1/chat/completions", "http_request_method": "POST"}
    assert value(found, "http_server_request_duration_seconds_count", **route) == 5
    assert (
        value(
            found,
            "agentic_gateway_rejections_total",
            reason="request_too_large",
            gen_ai_request_model="echo",
        )
        == 1
    )
    assert value(found, "agentic_gateway_upstream_errors_total", gen_ai_provider_name="openai") == 1
    spend = value(found, "agentic_gateway_spend_usd_total", gen_ai_request_model="flaky")
    assert spend > 0
    assert value(found, "agentic_queue_depth", queue="ledger") >= 0
    assert "sk-upstream-never-shown" not in scraped.text


async def test_metrics_on_their_own_port_or_off(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    port = free_port()
    own_port = telemetry_settings(prometheus={"port": port})
    async with platform(own_port) as (app, _spans), client_for(app) as http:
        assert (await http.post("/llm/v1/chat/completions", json=CHAT)).status_code == 200
        assert (await http.get("/metrics")).status_code == 404
        scraped = await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{port}/metrics")
        assert "gen_ai_client_token_usage_bucket" in scraped.text
    off = telemetry_settings(prometheus={"enabled": False})
    async with platform(off) as (app, _spans), client_for(app) as http:
        assert (await http.get("/metrics")).status_code == 404


async def test_metrics_and_spans_pushed_over_otlp_http(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    receiver = OtlpReceiver().start()
    settings = telemetry_settings(
        otlp_endpoint=receiver.url,
        otlp_protocol="http",
        otlp_headers={"x-collector-token": "collector-secret"},
        deployment_environment="staging",
        resource_attributes={"k8s.cluster.name": "test-cluster"},
    )
    try:
        async with platform(settings) as (app, _spans), client_for(app) as http:
            assert (await http.post("/llm/v1/chat/completions", json=CHAT)).status_code == 200
    finally:
        receiver.stop()  # the lifespan's end flushed both
    metrics = [r for r in receiver.received if r.metrics is not None]
    traces = [r for r in receiver.received if r.traces is not None]
    assert metrics and traces
    assert all(r.headers["x-collector-token"] == "collector-secret" for r in receiver.received)
    resource = metrics[-1].metrics.resource_metrics[0].resource  # type: ignore[union-attr]
    attributes = {a.key: a.value.string_value for a in resource.attributes}
    assert attributes["service.name"] == "agentic-llm-gateway"
    assert attributes["deployment.environment.name"] == "staging"
    assert attributes["k8s.cluster.name"] == "test-cluster"
    pushed = {
        metric.name: metric
        for scope in metrics[-1].metrics.resource_metrics[0].scope_metrics  # type: ignore[union-attr]
        for metric in scope.metrics
    }
    usage = pushed["gen_ai.client.token.usage"]
    assert usage.unit == "{token}"
    by_type = {
        next(a.value.string_value for a in p.attributes if a.key == "gen_ai.token.type"): p
        for p in usage.histogram.data_points
    }
    assert by_type["output"].sum == 3 and by_type["output"].count == 1
    assert sum(by_type["output"].bucket_counts) == 1
    assert "http.server.request.duration" in pushed
    assert "chat echo" in receiver.span_names()
