"""values.schema.json refuses bad values before anything is rendered, naming the value."""

from __future__ import annotations

import json
from typing import Any

import helm_python as helm
import jsonschema
import pytest


def draft_07(charts: Any, chart: str) -> jsonschema.Draft7Validator:
    schema = json.loads((charts.paths[chart] / "values.schema.json").read_text())
    return jsonschema.Draft7Validator(schema)


BAD_PLATFORM_VALUES = [
    ({"image": {"tag": "latest"}}, "/image/tag"),
    ({"image": {"tag": "latest-local"}}, "/image/tag"),
    ({"image": {"repository": ""}}, "/image/repository"),
    ({"secrets": {"source": "vault"}}, "'secret', 'externalSecrets', 'existing'"),
    ({"secrets": {"source": "existing"}}, "/secrets/existingSecret"),
    ({"secrets": {"source": "externalSecrets"}}, "data"),
    ({"secrets": {"externalSecrets": {"store": {"region": "Ireland"}}}}, "/region"),
    ({"services": {"memory": {"replicas": -1}}}, "/services/memory/replicas"),
    ({"services": {"memory": {"replica": 2}}}, "'replica' not allowed"),
    ({"services": {"memory": {"serve": "mem"}}}, "/services/memory/serve"),
    ({"services": {"memory": {"paths": ["memory/v1"]}}}, "/services/memory/paths/0"),
    (
        {"services": {"memory": {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}}},
        "missing property 'limits'",
    ),
    ({"services": {"llm-gateway": {"serviceAccount": {"roleArn": "bedrock"}}}}, "/roleArn"),
    ({"serviceDefaults": {"terminationGracePeriodSeconds": 10}}, "want 30"),
    ({"serviceDefaults": {"autoscaling": {"minReplicas": 0}}}, "/minReplicas"),
    ({"config": {"auto_migrate": True}}, "auto_migrate"),
    ({"ingress": {"alb": {"scheme": "public"}}}, "'internal', 'internet-facing'"),
    ({"ingress": {"alb": {"certificateArn": "my-cert"}}}, "/certificateArn"),
    ({"telemetry": {"collector": {"image": "otel/collector:latest"}}}, "/image"),
    ({"networkPolicy": {"database": {"port": 0}}}, "/networkPolicy/database/port"),
    ({"unknownTopLevel": 1}, "'unknownTopLevel' not allowed"),
]


@pytest.mark.parametrize(("values", "message"), BAD_PLATFORM_VALUES)
def test_the_platform_schema_refuses(charts: Any, values: dict[str, Any], message: str) -> None:
    chart = charts.load("agentic-platform")
    with pytest.raises(helm.HelmValuesError) as refused:
        chart.validate_schema(values)
    assert message in str(refused.value)
    assert not draft_07(charts, "agentic-platform").is_valid(chart.merge_values(values))


@pytest.mark.parametrize(("values", "message"), BAD_PLATFORM_VALUES[:3])
def test_rendering_refuses_what_the_schema_refuses(
    charts: Any, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmError) as refused:
        charts.render("agentic-platform", values)
    assert message in str(refused.value)


def test_every_example_passes_the_schema(charts: Any, case: tuple[str, str]) -> None:
    chart, name = case
    charts.load(chart).validate_schema(charts.example_values(chart, name))


BAD_AGENT_VALUES = [
    ({"image": {"tag": "latest"}}, "/image/tag"),
    ({"image": {"repository": ""}}, "/image/repository"),
    ({"replicas": "two"}, "/replicas"),
    ({"port": 80}, "/port"),
    ({"platform": {"url": "llm-gateway:8080"}}, "/platform/url"),
    ({"resources": {"limits": None}}, "missing property 'limits'"),
    ({"ingress": {"path": "agents/v1/mine"}}, "/ingress/path"),
    ({"serviceAccount": {"roleArn": "x"}}, "/serviceAccount/roleArn"),
]


@pytest.mark.parametrize(("values", "message"), BAD_AGENT_VALUES)
def test_the_agent_schema_refuses(charts: Any, values: dict[str, Any], message: str) -> None:
    chart = charts.load("agent")
    with pytest.raises(helm.HelmValuesError) as refused:
        chart.validate_schema(values)
    assert message in str(refused.value)
    assert not draft_07(charts, "agent").is_valid(chart.merge_values(values))


def test_the_schemas_are_draft_07_that_other_validators_read(
    charts: Any, case: tuple[str, str]
) -> None:
    """Draft 7, so Helm 3's validator reads them as Helm 4's does; the merged values of every
    example pass a second implementation too."""
    chart, name = case
    validator = draft_07(charts, chart)
    schema = validator.schema
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    merged = charts.load(chart).merge_values(charts.example_values(chart, name))
    validator.validate(merged)
