"""Policies every rendered manifest keeps: restricted pod security, limits, probes, pinned
images, a ServiceAccount per Deployment, deny-by-default NetworkPolicies, migrations as a
hook and never at start-up, room for the ledger to flush on SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# 15 s for requests in flight (uvicorn's graceful timeout) + ~5 s of ledger write retries.
SHUTDOWN_SECONDS = 20


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_every_container_runs_restricted(charts: Any, manifests: list[dict[str, Any]]) -> None:
    pods = charts.pod_specs(manifests)
    assert pods
    for name, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        for container in containers(pod):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, name
            assert context["runAsUser"] != 0, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in context["capabilities"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name


def test_writable_paths_are_empty_dirs(
    charts: Any, case: tuple[str, str], manifests: list[dict[str, Any]]
) -> None:
    """/tmp, and the platform's data directory (the usage journal lives there)."""
    for name, pod in charts.pod_specs(manifests):
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
            assert "emptyDir" in mounts["/tmp"], name
            if case[0] == "agentic-platform":
                data_dir = Path(charts.env_of(container)["AGENTIC_DATA_DIR"])
                (volume,) = [v for p, v in mounts.items() if data_dir.is_relative_to(p)]
                assert "emptyDir" in volume, name


def test_every_deployment_has_probes_and_time_to_stop(
    charts: Any, manifests: list[dict[str, Any]]
) -> None:
    deployments = charts.of_kind(manifests, "Deployment")
    assert deployments
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"]:
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            sleep = container["lifecycle"]["preStop"]["exec"]["command"]
            assert sleep[0] == "sleep"
            budget = pod["terminationGracePeriodSeconds"] - int(sleep[1])
            assert budget > SHUTDOWN_SECONDS, deployment["metadata"]["name"]


def test_images_are_pinned(charts: Any, manifests: list[dict[str, Any]]) -> None:
    images = [c["image"] for _, pod in charts.pod_specs(manifests) for c in containers(pod)]
    images += [m["spec"]["image"] for m in charts.of_kind(manifests, "OpenTelemetryCollector")]
    assert images
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag, f"{image} has no tag"
        assert not tag.startswith("latest"), image


def test_every_deployment_has_its_own_service_account(
    charts: Any, manifests: list[dict[str, Any]]
) -> None:
    accounts = {m["metadata"]["name"] for m in charts.of_kind(manifests, "ServiceAccount")}
    used = [pod["serviceAccountName"] for _, pod in charts.pod_specs(manifests)]
    assert len(used) == len(set(used)), "two workloads share a ServiceAccount"
    assert set(used) <= accounts


def test_network_policies_deny_by_default(charts: Any, manifests: list[dict[str, Any]]) -> None:
    policies = charts.of_kind(manifests, "NetworkPolicy")
    deny = [p for p in policies if not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert len(deny) == 1, "one deny-all policy for the release"
    assert set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    selects_all = deny[0]["spec"]["podSelector"]["matchLabels"]
    for name, pod_labels in pod_labels_of(manifests):
        assert selects(selects_all, pod_labels), f"{name} escapes the deny-all policy"
        allowing = [
            p
            for p in policies
            if p is not deny[0] and selects(p["spec"]["podSelector"]["matchLabels"], pod_labels)
        ]
        assert allowing, f"{name} has no policy allowing its traffic"


def pod_labels_of(manifests: list[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    return [
        (m["metadata"]["name"], m["spec"]["template"]["metadata"]["labels"])
        for m in manifests
        if m["kind"] in ("Deployment", "Job")
    ]


def selects(match_labels: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in match_labels.items())
