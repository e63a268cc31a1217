"""Renders the Helm charts offline (helm_python bundles Helm's Go library, no cluster and no
helm binary) for the tests in this folder: the ``charts`` fixture, and ``case`` /
``manifests``, which run a test once per chart and values set."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CHARTS = {
    "agentic-platform": DEPLOY / "helm" / "agentic-platform",
    "agent": DEPLOY / "helm" / "agent",
}
RELEASE = "platform"
NAMESPACE = "agentic"
# Every chart with its defaults, a minimal and a full (everything on) set of values, and
# the platform chart's EKS and Langfuse examples too.
CASES = [
    *(("agentic-platform", name) for name in ("default", "minimal", "full", "eks", "langfuse")),
    *(("agent", name) for name in ("default", "minimal", "full")),
]

Manifest = dict[str, Any]


def example_values(chart: str, name: str) -> dict[str, Any]:
    """The values in ``deploy/helm/<chart>/examples/<name>.yaml``; ``default`` is none."""
    if name == "default":
        return {}
    text = (CHARTS[chart] / "examples" / f"{name}.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text) or {}
    return loaded


@cache
def load_chart(chart: str) -> helm.Chart:
    return helm.Chart.load(str(CHARTS[chart]))


def render_files(chart: str, values: dict[str, Any], *, upgrade: bool = False) -> dict[str, str]:
    """Template path -> rendered text, as an install (or an upgrade) renders it."""
    return load_chart(chart).render(
        values, name=RELEASE, namespace=NAMESPACE, is_install=not upgrade, is_upgrade=upgrade
    )


def render(chart: str, values: dict[str, Any], *, upgrade: bool = False) -> list[Manifest]:
    """Every manifest the chart renders with ``values`` (NOTES.txt left out)."""
    manifests: list[Manifest] = []
    for path, text in sorted(render_files(chart, values, upgrade=upgrade).items()):
        if not path.endswith("NOTES.txt"):
            manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return manifests


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    """(``Kind/name``, pod spec) of every Deployment and Job."""
    return [
        (f"{m['kind']}/{m['metadata']['name']}", m["spec"]["template"]["spec"])
        for m in manifests
        if m["kind"] in ("Deployment", "Job")
    ]


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}


@cache
def _rendered_case(chart: str, name: str) -> tuple[Manifest, ...]:
    return tuple(render(chart, example_values(chart, name)))


class Charts:
    """What the tests use, as one fixture (test modules here cannot import each other)."""

    repo = REPO
    deploy = DEPLOY
    paths = CHARTS
    release = RELEASE
    namespace = NAMESPACE
    example_values = staticmethod(example_values)
    load = staticmethod(load_chart)
    render_files = staticmethod(render_files)
    render = staticmethod(render)
    of_kind = staticmethod(of_kind)
    named = staticmethod(named)
    pod_specs = staticmethod(pod_specs)
    env_of = staticmethod(env_of)

    @staticmethod
    def example(chart: str, name: str) -> list[Manifest]:
        """The manifests of one of the chart's examples (rendered once per session)."""
        return copy.deepcopy(list(_rendered_case(chart, name)))


@pytest.fixture(scope="session")
def charts() -> Charts:
    return Charts()


@pytest.fixture(params=CASES, ids=[f"{chart}-{name}" for chart, name in CASES])
def case(request: pytest.FixtureRequest) -> tuple[str, str]:
    chart, name = request.param
    return chart, name


@pytest.fixture
def manifests(case: tuple[str, str]) -> list[Manifest]:
    """The manifests of one chart and values set (rendered once per test session)."""
    return Charts.example(*case)
