"""The agent chart is wired to the platform chart: its URLs name the platform's Services and
real route prefixes, and the two charts' NetworkPolicies let exactly this traffic through."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from agentic_platform.app import create_app
from agentic_platform.settings import Settings

URL_SERVICES = {
    "AGENTIC_LLM_URL": "llm-gateway",
    "OPENAI_BASE_URL": "llm-gateway",
    "AGENTIC_RETRIEVAL_URL": "retrieval",
    "AGENTIC_MEMORY_URL": "memory",
}


def agent_container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [m for m in manifests if m["kind"] == "Deployment"]
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def test_the_urls_name_platform_services_and_routes(charts: Any, tmp_path: Any) -> None:
    platform = charts.example("agentic-platform", "default")
    services = {m["metadata"]["name"]: m for m in charts.of_kind(platform, "Service")}
    env = charts.env_of(agent_container(charts.example("agent", "minimal")))
    for variable, service in URL_SERVICES.items():
        url = urlsplit(env[variable])
        host, namespace, *_ = url.hostname.split(".")  # type: ignore[union-attr]
        assert namespace == charts.namespace
        assert host == f"{charts.release}-agentic-platform-{service}", variable
        assert url.port == services[host]["spec"]["ports"][0]["port"]
        app = create_app(Settings(data_dir=tmp_path), [service])
        assert any(path.startswith(url.path + "/") for path in app.openapi()["paths"]), (
            f"{variable}: `agentic serve {service}` has no route under {url.path}"
        )


def test_the_key_comes_from_the_named_secret(charts: Any) -> None:
    container = agent_container(charts.example("agent", "minimal"))
    refs = {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in container["env"]
        if "valueFrom" in item
    }
    expected = {"name": "support-agent-platform-key", "key": "api-key"}
    assert refs == {"AGENTIC_API_KEY": expected, "OPENAI_API_KEY": expected}
    full = charts.example("agent", "full")
    (external,) = charts.of_kind(full, "ExternalSecret")
    secret = agent_container(full)["env"]
    assert any(
        item.get("valueFrom", {}).get("secretKeyRef", {}).get("name")
        == external["spec"]["target"]["name"]
        for item in secret
    )


def test_the_network_policies_of_both_charts_meet(charts: Any) -> None:
    platform = charts.example("agentic-platform", "default")
    agent = charts.example("agent", "minimal")
    (agent_deployment,) = charts.of_kind(agent, "Deployment")
    agent_labels = agent_deployment["spec"]["template"]["metadata"]["labels"]
    gateways = {
        m["metadata"]["name"]: m["spec"]["template"]["metadata"]["labels"]
        for m in charts.of_kind(platform, "Deployment")
        if m["spec"]["template"]["metadata"]["labels"]["agentic-platform/role"] == "gateway"
    }
    assert len(gateways) == 3
    egress_to = [
        peer
        for policy in charts.of_kind(agent, "NetworkPolicy")
        for rule in policy["spec"].get("egress", [])
        for peer in rule["to"]
        if any(port["port"] == 8080 for port in rule["ports"])
    ]
    for name, labels in gateways.items():
        assert any(selects(peer.get("podSelector", {}), labels) for peer in egress_to), name
        policy = charts.named(platform, "NetworkPolicy", name)
        admitted = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        assert any(
            "namespaceSelector" in peer and selects(peer.get("podSelector", {}), agent_labels)
            for peer in admitted
        ), f"{name} does not admit the team's agent"
    for deployment in charts.of_kind(platform, "Deployment"):
        name = deployment["metadata"]["name"]
        if name in gateways:
            continue
        policy = charts.named(platform, "NetworkPolicy", name)
        admitted = [peer for rule in policy["spec"].get("ingress", []) for peer in rule["from"]]
        assert not any(
            "podSelector" in peer and selects(peer["podSelector"], agent_labels)
            for peer in admitted
        ), f"the team's agent may call {name} directly"
