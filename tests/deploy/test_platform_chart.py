"""What the platform chart promises beyond the shared policies: the settings it writes are
settings the platform accepts, migrations run once as a hook and never at start-up, AWS
access only where a service needs it, and the optional parts when switched on."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from agentic_platform.auth.keys import new_key_secret
from agentic_platform.cli import app
from agentic_platform.db.engine import create_engine
from agentic_platform.db.migrate import alembic_config, current_revision
from agentic_platform.settings import load_settings

CHART = "agentic-platform"
HOOK = "helm.sh/hook"


def render_example(charts: Any, name: str) -> list[dict[str, Any]]:
    manifests: list[dict[str, Any]] = charts.example(CHART, name)
    return manifests


@pytest.mark.parametrize("example", ["default", "minimal", "full", "eks"])
def test_the_platform_accepts_the_settings_the_chart_writes(
    charts: Any, example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = render_example(charts, example)
    config = charts.named(manifests, "ConfigMap", f"{charts.release}-{CHART}")
    (tmp_path / "platform.yaml").write_text(config["data"]["platform.yaml"])
    services = {m["metadata"]["name"] for m in charts.of_kind(manifests, "Service")}
    for deployment in charts.of_kind(manifests, "Deployment"):
        env = charts.env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        env |= {
            "AGENTIC_CONFIG_FILE": str(tmp_path / "platform.yaml"),
            "AGENTIC_DATA_DIR": str(tmp_path / "data"),
            "AGENTIC_AUTH__SERVICE_KEY": new_key_secret(),
        }
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            settings = load_settings()
        assert settings.auto_migrate is False
        assert settings.environment == "production"
        assert settings.port == 8080
        assert settings.usage_journal_dir == tmp_path / "data" / "journal"
        for url in settings.service_urls.values():
            host = url.removeprefix("http://").split(".", 1)[0]
            assert host in services, f"{url} names no Service of the release"
        assert not [key for key in env if key.startswith("OTEL_")], "the platform reads no OTEL_*"
        assert settings.telemetry.enabled is (example in ("full", "eks"))
        if settings.telemetry.enabled:
            assert_telemetry_reaches_the_collector(charts, manifests, deployment, settings)


def assert_telemetry_reaches_the_collector(
    charts: Any, manifests: list[dict[str, Any]], deployment: dict[str, Any], settings: Any
) -> None:
    (collector,) = charts.of_kind(manifests, "OpenTelemetryCollector")
    endpoint = f"http://{collector['metadata']['name']}-collector.{charts.namespace}.svc:4318"
    component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
    telemetry = settings.telemetry
    assert (telemetry.otlp_endpoint, telemetry.otlp_protocol) == (endpoint, "http")
    assert telemetry.service_name == f"agentic-{component}"
    assert telemetry.resource_attributes == {
        "service.namespace": charts.release,
        "k8s.namespace.name": charts.namespace,
    }


def test_migrations_run_as_a_hook_before_install_and_upgrade(charts: Any) -> None:
    for upgrade in (False, True):
        manifests = charts.render(CHART, {}, upgrade=upgrade)
        (job,) = charts.of_kind(manifests, "Job")
        assert job["metadata"]["annotations"][HOOK] == "pre-install,pre-upgrade"
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] + container["args"] == ["agentic", "db", "upgrade"]
        weights = {
            m["kind"]: int(m["metadata"]["annotations"]["helm.sh/hook-weight"])
            for m in manifests
            if HOOK in m["metadata"].get("annotations", {})
        }
        assert weights.pop("Job") > max(weights.values()), "its Secret and account come first"
        for deployment in charts.of_kind(manifests, "Deployment"):
            env = charts.env_of(deployment["spec"]["template"]["spec"]["containers"][0])
            assert env["AGENTIC_AUTO_MIGRATE"] == "false"


def test_the_migration_job_reads_only_the_database_url(charts: Any) -> None:
    url = "postgresql+asyncpg://agentic:pw@db:5432/agentic"
    values = {"secrets": {"values": {"AGENTIC_DATABASE_URL": url, "OTHER": "x"}}}
    manifests = charts.render(CHART, values)
    secret = charts.named(manifests, "Secret", f"{charts.release}-{CHART}-migrate")
    assert secret["stringData"] == {"AGENTIC_DATABASE_URL": url}
    full = render_example(charts, "full")
    migrate = charts.named(full, "ExternalSecret", f"{charts.release}-{CHART}-migrate")
    assert [d["secretKey"] for d in migrate["spec"]["data"]] == ["AGENTIC_DATABASE_URL"]


def test_aws_roles_and_provider_keys_reach_only_their_services(charts: Any) -> None:
    manifests = render_example(charts, "full")
    with_roles = {
        m["metadata"]["name"].removeprefix(f"{charts.release}-{CHART}-")
        for m in charts.of_kind(manifests, "ServiceAccount")
        if "eks.amazonaws.com/role-arn" in m["metadata"].get("annotations", {})
    }
    assert with_roles == {"llm-gateway", "retrieval", "otel"}
    providers = f"{charts.release}-{CHART}-providers"
    for deployment in charts.of_kind(manifests, "Deployment"):
        sources = [
            s["secretRef"]["name"]
            for s in deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        ]
        is_gateway = deployment["metadata"]["name"].endswith("-llm-gateway")
        assert (providers in sources) == is_gateway, deployment["metadata"]["name"]


def test_external_secrets_come_from_the_aws_store(charts: Any) -> None:
    manifests = render_example(charts, "eks")
    (store,) = charts.of_kind(manifests, "ClusterSecretStore")
    aws = store["spec"]["provider"]["aws"]
    assert aws["service"] == "ParameterStore"
    assert aws["region"] == "eu-west-1"
    assert aws["auth"]["jwt"]["serviceAccountRef"]["namespace"] == "external-secrets"
    assert not charts.of_kind(manifests, "Secret"), "no plain Secret beside External Secrets"
    for external in charts.of_kind(manifests, "ExternalSecret"):
        assert external["spec"]["secretStoreRef"]["name"] == store["metadata"]["name"]


def test_plain_secret_values_are_written_as_given(charts: Any) -> None:
    key = new_key_secret()
    manifests = charts.render(CHART, {"secrets": {"values": {"AGENTIC_AUTH__SERVICE_KEY": key}}})
    secret = charts.named(manifests, "Secret", f"{charts.release}-{CHART}")
    assert secret["stringData"]["AGENTIC_AUTH__SERVICE_KEY"] == key
    assert base64.b64encode(key.encode()) not in yaml.safe_dump(manifests).encode()


def test_autoscaling_replaces_fixed_replicas(charts: Any) -> None:
    manifests = render_example(charts, "full")
    deployments = charts.of_kind(manifests, "Deployment")
    autoscalers = {
        m["spec"]["scaleTargetRef"]["name"]: m
        for m in charts.of_kind(manifests, "HorizontalPodAutoscaler")
    }
    budgets = {m["metadata"]["name"] for m in charts.of_kind(manifests, "PodDisruptionBudget")}
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        assert "replicas" not in deployment["spec"], name
        assert name in autoscalers and name in budgets, name
    gateway = autoscalers[f"{charts.release}-{CHART}-llm-gateway"]["spec"]
    assert (gateway["minReplicas"], gateway["maxReplicas"]) == (3, 20)


def test_pods_spread_across_zones(charts: Any) -> None:
    for deployment in charts.of_kind(render_example(charts, "default"), "Deployment"):
        keys = [
            c["topologyKey"]
            for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        ]
        assert "topology.kubernetes.io/zone" in keys


def test_the_alb_is_internal_unless_asked(charts: Any) -> None:
    (default,) = charts.of_kind(render_example(charts, "default"), "Ingress")
    annotations = default["metadata"]["annotations"]
    assert default["spec"]["ingressClassName"] == "alb"
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert "alb.ingress.kubernetes.io/certificate-arn" not in annotations
    (full,) = charts.of_kind(render_example(charts, "full"), "Ingress")
    annotations = full["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
    assert annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"].startswith("arn:aws:wafv2:")
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    (generic,) = charts.of_kind(render_example(charts, "minimal"), "Ingress")
    assert generic["spec"]["ingressClassName"] == "nginx"
    assert not any(k.startswith("alb.") for k in generic["metadata"].get("annotations") or {})


def test_the_collector_exports_to_cloudwatch_xray_and_langfuse(charts: Any) -> None:
    manifests = render_example(charts, "full")
    (collector,) = charts.of_kind(manifests, "OpenTelemetryCollector")
    pipelines = collector["spec"]["config"]["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["awsxray", "otlphttp/langfuse"]
    assert pipelines["metrics"]["exporters"] == ["awsemf"]
    assert pipelines["logs"]["exporters"] == ["awscloudwatchlogs"]
    endpoint = f"http://{collector['metadata']['name']}-collector.{charts.namespace}.svc:4318"
    for deployment in charts.of_kind(manifests, "Deployment"):
        env = charts.env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        assert env["AGENTIC_TELEMETRY__OTLP_ENDPOINT"] == endpoint
    assert not charts.of_kind(render_example(charts, "default"), "OpenTelemetryCollector")


def test_only_the_gateways_that_need_it_reach_the_internet(charts: Any) -> None:
    manifests = render_example(charts, "default")
    https = set()
    for policy in charts.of_kind(manifests, "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            if any(port["port"] == 443 for port in rule.get("ports", [])):
                https.add(policy["metadata"]["name"].removeprefix(f"{charts.release}-{CHART}-"))
                assert rule["to"][0]["ipBlock"]["except"] == ["169.254.169.254/32"]
    assert https == {"llm-gateway", "retrieval"}


async def test_the_migration_job_command_migrates_a_database(
    charts: Any, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the hook Job runs, run here on SQLite and PostgreSQL: the schema at head after."""
    (job,) = charts.of_kind(render_example(charts, "default"), "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["agentic"]
    for key, value in charts.env_of(container).items():
        monkeypatch.setenv(key, value.replace("/var/lib/agentic", str(tmp_path)))
    monkeypatch.setenv("AGENTIC_DATABASE_URL", database_url)
    result = await asyncio.to_thread(CliRunner().invoke, app, container["args"])
    assert result.exit_code == 0, result.output
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) == head
    finally:
        await engine.dispose()


def test_extra_egress_reaches_only_its_service(charts: Any) -> None:
    manifests = render_example(charts, "full")
    to_vllm = {
        policy["metadata"]["name"].removeprefix(f"{charts.release}-{CHART}-")
        for policy in charts.of_kind(manifests, "NetworkPolicy")
        for rule in policy["spec"].get("egress", [])
        if any(port["port"] == 8000 for port in rule["ports"])
    }
    assert to_vllm == {"llm-gateway"}
