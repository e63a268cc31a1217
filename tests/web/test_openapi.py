"""The OpenAPI document of every service alone and of all of them together: it validates as
OpenAPI 3.1, every reference in it resolves, it declares how to sign in and what each route
answers, and its examples fit their schemas.

The services come from ``ALL_SERVICES``, so a service added later is checked too. The apps
are built, never started: building one opens nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from agentic_platform.app import create_app
from agentic_platform.settings import ALL_SERVICES, Settings
from agentic_platform.web.openapi import ERROR_SCHEMA, error_statuses
from agentic_platform.web.schema_components import hoist_definitions

# The console alone has no API of its own (its pages stay out of the document).
SERVICE_SETS = [(name,) for name in ALL_SERVICES if name != "console"] + [ALL_SERVICES]
PROBES = {"/healthz", "/readyz"}
DOCUMENT = "urn:agentic:openapi"


def _document(services: tuple[str, ...], **settings: Any) -> dict[str, Any]:
    app = create_app(Settings(data_dir=Path("unused"), **settings), list(services))  # type: ignore[arg-type]
    document: dict[str, Any] = app.openapi()
    return document


@pytest.fixture(params=SERVICE_SETS, ids=lambda services: "+".join(services))
def document(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _document(request.param)


def _found(node: Any, name: str, where: str = "#") -> Iterator[tuple[str, Any]]:
    """Every value held under the key ``name``, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == name:
                yield where, value
            yield from _found(value, name, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _found(item, name, f"{where}/{index}")


def _resolve(document: dict[str, Any], reference: str) -> Any:
    """The node a local JSON pointer (RFC 6901) names; KeyError when there is none."""
    if not reference.startswith("#/"):
        raise KeyError(reference)
    node: Any = document
    for token in reference[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            yield path, method, operation


def _media_types(operation: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from operation.get("requestBody", {}).get("content", {}).values()
    for answer in operation["responses"].values():
        yield from answer.get("content", {}).values()


def test_the_document_validates_as_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    references = list(_found(document, "$ref"))
    assert references, "the document refers to its components"
    unresolved = []
    for where, reference in references:
        try:
            _resolve(document, reference)
        except (KeyError, IndexError, ValueError):
            unresolved.append(f"{where}: {reference}")
    assert unresolved == []
    assert [where for where, _ in _found(document, "$defs")] == []


def test_every_component_has_a_name_and_title_of_its_own(document: dict[str, Any]) -> None:
    """Client generators name their classes after the titles: two alike lose one class."""
    schemas = document["components"]["schemas"]
    titles = [schema.get("title", name) for name, schema in schemas.items()]
    assert sorted(title for title in set(titles) if titles.count(title) > 1) == []
    assert [name for name in schemas if "__" in name] == []


def test_every_route_but_the_probes_needs_a_key(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["ApiKey"]["description"],
    }
    assert (schemes["ApiKeyHeader"]["in"], schemes["ApiKeyHeader"]["name"]) == (
        "header",
        "x-api-key",
    )
    assert "OIDC" not in schemes, "OIDC is off in these settings"
    for path, _method, operation in _operations(document):
        if path in PROBES:
            assert "security" not in operation
        else:
            assert operation["security"] == [{"ApiKey": []}, {"ApiKeyHeader": []}], path


def test_with_oidc_on_a_provider_token_is_accepted_too() -> None:
    oidc = {"enabled": True, "issuer": "https://id.example.com", "audiences": ["agents"]}
    document = _document(ALL_SERVICES, oidc=oidc)
    scheme = document["components"]["securitySchemes"]["OIDC"]
    assert (scheme["scheme"], scheme["bearerFormat"]) == ("bearer", "JWT")
    assert "https://id.example.com" in scheme["description"]
    chat = document["paths"]["/llm/v1/chat/completions"]["post"]
    assert {"OIDC": []} in chat["security"]


def test_errors_are_declared_in_the_envelope_with_each_routes_statuses(
    document: dict[str, Any],
) -> None:
    envelope = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
    anthropic = {"$ref": "#/components/schemas/AnthropicError"}  # the Messages API's format
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert "422" not in responses, path
        errors = sorted(int(status) for status in responses if int(status) >= 400)
        if path in PROBES:
            assert errors == []
            continue
        assert errors == error_statuses(method, operation), (method, path)
        expected = anthropic if path.startswith("/llm/v1/messages") else envelope
        for status in errors:
            assert responses[str(status)]["content"]["application/json"]["schema"] == expected
        assert 404 in errors and 401 in errors
        assert (413 in errors) == ("requestBody" in operation)


def test_the_streaming_answer_is_declared() -> None:
    document = _document(ALL_SERVICES)
    answer = document["paths"]["/llm/v1/chat/completions"]["post"]["responses"]["200"]
    assert set(answer["content"]) == {"application/json", "text/event-stream"}
    event = answer["content"]["text/event-stream"]
    assert event["schema"]["required"] == ["data"]
    assert json.loads(event["example"]["data"])["object"] == "chat.completion.chunk"


def test_the_main_bodies_have_examples_that_fit_their_schemas() -> None:
    document = _document(ALL_SERVICES)
    registry = Registry().with_resource(DOCUMENT, DRAFT202012.create_resource(document))
    checked = set()
    for path, method, operation in _operations(document):
        for media in _media_types(operation):
            shown = [e["value"] for e in media.get("examples", {}).values() if "value" in e]
            if "example" in media:
                shown.append(media["example"])
            if not shown or "schema" not in media:
                continue
            schema = media["schema"]
            if "$ref" in schema:
                schema = {"$ref": DOCUMENT + schema["$ref"]}
            validator = Draft202012Validator(schema, registry=registry)
            for value in shown:
                errors = [error.message for error in validator.iter_errors(value)]
                assert errors == [], (method, path)
            checked.add(f"{method.upper()} {path}")
    assert {
        "POST /llm/v1/chat/completions",
        "POST /llm/v1/embeddings",
        "POST /memory/v1/memories/search",
        "POST /retrieval/v1/knowledge-bases/{kb}/retrieve",
        "POST /retrieval/v1/knowledge-bases/{kb}/documents",
        "POST /agents/v1/{name}/invoke",
        "POST /agents/v1/{name}/stream",
        "POST /admin/v1/keys",
        "PATCH /admin/v1/keys/{key_id}",
        "POST /admin/v1/principals",
        "PATCH /admin/v1/principals/{principal_id}",
        "POST /admin/v1/teams",
        "POST /admin/v1/plans",
        "PATCH /admin/v1/plans/{plan_id}",
    } <= checked


def test_the_document_is_built_once() -> None:
    app = create_app(Settings(data_dir=Path("unused")))
    assert app.openapi() is app.openapi()


def _body(title: str, defs: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"title": title, "type": "object", "properties": properties, "$defs": defs}


def test_nested_models_get_stable_names_that_do_not_collide() -> None:
    ref = {"$ref": "#/$defs/Condition"}
    by_field = {"title": "Condition", "type": "object", "properties": {"field": {}}}
    by_name = {"title": "Condition", "type": "object", "properties": {"name": {}}}
    document = {
        "paths": {
            "/a": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": (_body("First", {"Condition": by_field}, filter=ref))
                            }
                        }
                    }
                }
            },
            "/b": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": (_body("Second", {"Condition": by_field}, filter=ref))
                            }
                        }
                    }
                }
            },
            "/c": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": (_body("Third", {"Condition": by_name}, filter=ref))
                            }
                        }
                    }
                }
            },
        },
        "components": {"schemas": {"Third": {"type": "string"}}},
    }
    hoist_definitions(document)
    schemas = document["components"]["schemas"]
    body = {
        path: document["paths"][path]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]["$ref"]
        for path in ("/a", "/b", "/c")
    }
    assert body == {
        "/a": "#/components/schemas/First",
        "/b": "#/components/schemas/Second",
        "/c": "#/components/schemas/Third2",
    }
    assert schemas["Condition"] == by_field  # shared by the two bodies that agree
    assert schemas["Third_Condition"] == by_name  # the other one is named after its owner
    assert schemas["First"]["properties"]["filter"] == {"$ref": "#/components/schemas/Condition"}
    assert schemas["Third2"]["properties"]["filter"] == {
        "$ref": "#/components/schemas/Third_Condition"
    }
    assert schemas["Third"] == {"type": "string"}
