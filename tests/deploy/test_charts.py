"""Every chart renders, lints clean and validates against the Kubernetes API schemas."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions, schema_contents
from referencing import Registry, Resource

# The oldest and newest supported minors; each more costs ~2 s a values set.
KUBERNETES_VERSIONS = ["1.30", "1.34"]
CUSTOM_RESOURCE_SCHEMAS = {
    (schema["properties"]["apiVersion"]["const"], schema["properties"]["kind"]["const"]): schema
    for schema in (
        json.loads(path.read_text(encoding="utf-8"))
        for path in (Path(__file__).parent / "custom_resource_schemas").glob("*.json")
    )
}


@cache
def strict_validator(version: str, api_version: str, kind: str) -> jsonschema.Validator:
    """The validator ``kubernetes_validate.validate(..., strict=True)`` builds, built once per
    Kubernetes version and kind (building it is most of the cost)."""
    release = [v for v in all_versions() if v.rsplit(".", 1)[0] == version][-1]
    folder = f"kubernetes-json-schema/v{release}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = schema_contents(f"{folder}/{kind.lower()}-{group}.json", version)
    definitions = schema_contents(f"{folder}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(definitions) @ (
        Resource.from_contents(schema) @ Registry()
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_manifest(manifest: dict[str, Any], version: str) -> None:
    key = (manifest["apiVersion"], manifest["kind"])
    if key in CUSTOM_RESOURCE_SCHEMAS:
        jsonschema.validate(manifest, CUSTOM_RESOURCE_SCHEMAS[key])
    else:
        strict_validator(version, *key).validate(manifest)


def test_notes_tell_the_next_steps(charts: Any, case: tuple[str, str]) -> None:
    chart, values = case
    rendered = charts.render_files(chart, charts.example_values(chart, values))
    notes = next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))
    assert "AGENTIC_API_KEY" in notes
    assert "curl" in notes
    no_database = chart == "agentic-platform" and values in ("default", "langfuse")
    assert ("WARNING: secrets.values.AGENTIC_DATABASE_URL" in notes) == no_database


def test_lint_is_clean(charts: Any, case: tuple[str, str]) -> None:
    chart, values = case
    for version in ("v1.30.0", "v1.34.0") if values == "default" else ("v1.34.0",):
        report = helm.lint(
            str(charts.paths[chart]),
            charts.example_values(chart, values),
            strict=True,
            kube_version=version,
        )
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert report["errors"] == [], report
        assert problems == [], report


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_are_valid_kubernetes(manifests: list[dict[str, Any]], version: str) -> None:
    for manifest in manifests:
        validate_manifest(manifest, version)


def test_a_misspelt_field_fails_the_validation() -> None:
    """The strict schemas refuse an unknown field, so the test above can fail."""
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "x", "image": "x:1", "readinessProbes": {}}]},
            },
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.34", strict=True)
    with pytest.raises(jsonschema.ValidationError):
        validate_manifest(deployment, "1.34")
    del deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"]
    kubernetes_validate.validate(deployment, "1.34", strict=True)
    validate_manifest(deployment, "1.34")
    external_secret = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "x"},
        "spec": {"secretStoreRef": {"name": "s"}, "target": {"name": "t"}, "datas": []},
    }
    with pytest.raises(jsonschema.ValidationError):
        validate_manifest(external_secret, "1.34")


def test_a_broken_template_fails_lint(charts: Any, tmp_path: Path) -> None:
    copy = Path(charts.load("agentic-platform").save_dir(tmp_path))
    (copy / "templates" / "broken.yaml").write_text("kind: {{ .Values.nothing.here }}\n")
    report = helm.lint(str(copy), {}, strict=True)
    assert report["errors"] or any(m["severity"] >= 3 for m in report["messages"])
