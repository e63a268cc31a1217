"""The ingress sends every route of every service to a Deployment that serves it. The
routes come from ``create_app`` itself, not from a list kept beside the chart."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic_platform.app import create_app
from agentic_platform.settings import ALL_SERVICES, Settings

# Served by every process, never routed by path prefix to one service.
INFRASTRUCTURE = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")
VALUES = Path(__file__).parents[2] / "deploy/helm/agentic-platform/values.yaml"
CHART_SERVICES = ("llm-gateway", "retrieval", "memory", "agents", "console")


@cache
def service_routes(service: str) -> list[str]:
    """The routes `agentic serve <service>` answers (the app is built, never started)."""
    settings = Settings(data_dir=Path(tempfile.gettempdir()) / "agentic-routes")
    app = create_app(settings, [service])  # type: ignore[list-item]
    paths = set(app.openapi()["paths"]) | set(_paths(app.router.routes))
    return sorted(p for p in paths if not p.startswith(INFRASTRUCTURE))


def _paths(routes: list[Any]) -> list[str]:
    """Every route's path, into included routers too (those left out of the schema, /mcp)."""
    found = []
    for route in routes:
        if (path := getattr(route, "path", None)) is not None:
            found.append(path)
        if (included := getattr(route, "original_router", None)) is not None:
            found.extend(_paths(included.routes))
    return found


def covers(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def may_reach(prefix: str, route: str) -> bool:
    """Whether some request under ``prefix`` is served by ``route`` (whose ``{param}``
    segments match any one segment)."""
    wanted, offered = prefix.rstrip("/").split("/"), route.split("/")
    return len(offered) >= len(wanted) and all(
        have == want or (have.startswith("{") and have.endswith("}"))
        for want, have in zip(wanted, offered, strict=False)
    )


def ingress_rules(charts: Any, values: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(path prefix, the backend's `agentic serve` arguments), in the ingress's order."""
    manifests = charts.render("agentic-platform", values)
    args = {
        m["metadata"]["name"]: m["spec"]["template"]["spec"]["containers"][0]["args"]
        for m in charts.of_kind(manifests, "Deployment")
    }
    (ingress,) = charts.of_kind(manifests, "Ingress")
    return [
        (path["path"], args[path["backend"]["service"]["name"]])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]


def first_match(rules: list[tuple[str, list[str]]], path: str) -> list[str] | None:
    """The backend the ALB picks: the first rule whose prefix covers the path."""
    return next((args for prefix, args in rules if covers(prefix, path)), None)


@cache
def example_rules(charts: Any, name: str) -> list[tuple[str, list[str]]]:
    return ingress_rules(charts, charts.example_values("agentic-platform", name))


@pytest.fixture(params=["default", "minimal", "full"])
def rules(request: pytest.FixtureRequest, charts: Any) -> list[tuple[str, list[str]]]:
    return example_rules(charts, request.param)


@pytest.mark.parametrize("service", CHART_SERVICES)
def test_every_route_reaches_a_deployment_that_serves_it(
    service: str, rules: list[tuple[str, list[str]]]
) -> None:
    if service not in ALL_SERVICES:
        pytest.skip(f"`agentic serve {service}` is not in this build")
    routes = service_routes(service)
    assert routes, f"{service} serves no routes?"
    for route in routes:
        args = first_match(rules, route)
        assert args is not None, f"no ingress path routes {route} ({service})"
        assert args[0] == service, f"{route} is routed to `agentic serve {' '.join(args)}`"
        if "--only" in args:
            only = args[args.index("--only") + 1]
            assert f"/{only}" in route, f"{route} is routed to the {only} Deployment"


@pytest.mark.parametrize("service", CHART_SERVICES)
def test_every_ingress_path_leads_to_real_routes(
    service: str, rules: list[tuple[str, list[str]]]
) -> None:
    if service not in ALL_SERVICES:
        pytest.skip(f"`agentic serve {service}` is not in this build")
    routes = service_routes(service)
    prefixes = [prefix for prefix, args in rules if args[0] == service]
    for prefix in prefixes:
        assert any(may_reach(prefix, route) for route in routes), (
            f"the ingress sends {prefix} to `agentic serve {service}`, which has no such route"
        )


def test_more_specific_paths_come_first(rules: list[tuple[str, list[str]]]) -> None:
    """The ALB takes the first matching rule, so a prefix must precede any shorter one
    that covers it (nginx's longest match then agrees)."""
    prefixes = [prefix for prefix, _ in rules]
    for index, prefix in enumerate(prefixes):
        for earlier in prefixes[:index]:
            assert not covers(earlier, prefix), f"{earlier} hides {prefix}"


def test_a_disabled_service_leaves_the_ingress(charts: Any) -> None:
    values = {"services": {"memory": {"enabled": False}}}
    prefixes = [prefix for prefix, _ in ingress_rules(charts, values)]
    assert "/memory/v1" not in prefixes
    assert "/llm/v1" in prefixes


def test_every_built_in_agent_has_its_own_deployment() -> None:
    from agentic_platform.agents.registry import builtin_factories

    values = yaml.safe_load(VALUES.read_text())
    served_alone = {
        entry.get("only") for entry in values["services"].values() if isinstance(entry, dict)
    }
    assert set(builtin_factories()) <= served_alone
