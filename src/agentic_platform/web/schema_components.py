"""Moves the body schemas of routes that read their body themselves into
``components/schemas``, so every ``$ref`` of the OpenAPI document resolves.

Such a route declares its body with pydantic's own JSON schema (``web/bodies.py``), whose
nested models sit under a local ``$defs`` and are referred to as ``#/$defs/Name``: inside an
OpenAPI document that pointer names nothing. Each body schema here becomes a component named
after its model, its ``$defs`` become components too, and the references are rewritten.

A name already taken by a different schema (FastAPI's components, or another body's model of
the same name) gets its owner's name in front (``RetrieveRequest_Condition``), then a number;
one already taken by an identical schema is shared. The names depend only on the models and
the order of the routes, so the document is the same from one build to the next.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

_LOCAL = "#/$defs/"
_COMPONENT = "#/components/schemas/"


def hoist_definitions(document: dict[str, Any]) -> None:
    """Hoist every request body's model schema and its ``$defs`` in ``document``, in place."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                schema = media.get("schema")
                if isinstance(schema, dict) and _is_model(schema):
                    media["schema"] = _hoist(schema, components)


def name_after_domains(document: dict[str, Any]) -> None:
    """Give each component FastAPI named after its module path a short, unique name, in place.

    Two models of one name (the gateway's ``Usage`` and the agents' ``Usage``) become
    ``agentic_platform__llm_gateway__schemas__Usage`` and so on, and both keep the title
    ``Usage``: a client generator names its classes after the titles, makes two ``Usage``
    classes and drops one, and with it every schema that refers to it. Each is named after
    its domain instead (``LlmGatewayUsage``, ``AgentsUsage``), title included."""
    components: dict[str, Any] = document.get("components", {}).get("schemas", {})
    names = {name: name for name in components}
    for name in components:
        parts = name.split("__")
        if len(parts) < 3:
            continue
        domain = "".join(word.capitalize() for word in parts[1].split("_"))
        short = f"{domain}{parts[-1]}"
        numbered = (f"{short}{number}" for number in itertools.count(2))
        names[name] = next(
            candidate
            for candidate in itertools.chain([short], numbered)
            if candidate not in names.values()
        )
    if names == {name: name for name in components}:
        return
    renamed = {names[name]: schema for name, schema in components.items()}
    for name, schema in components.items():
        if names[name] != name:
            renamed[names[name]] = {**schema, "title": names[name]}
    document["components"]["schemas"] = renamed
    _point_at(document, {_COMPONENT + old: _COMPONENT + new for old, new in names.items()})


def _point_at(node: Any, references: dict[str, str]) -> None:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference in references:
            node["$ref"] = references[reference]
        for value in node.values():
            _point_at(value, references)
    elif isinstance(node, list):
        for item in node:
            _point_at(item, references)


def _is_model(schema: dict[str, Any]) -> bool:
    return "$ref" not in schema and ("$defs" in schema or "properties" in schema)


def _hoist(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """``schema`` and its ``$defs`` as components; answers the reference that replaces it."""
    schema = copy.deepcopy(schema)
    definitions: dict[str, Any] = schema.pop("$defs", {})
    owner = str(schema.get("title", "Body"))
    definitions[owner] = schema
    names = _choose_names(owner, definitions, components)
    for name, definition in definitions.items():
        components[names[name]] = _rewrite(definition, names)
    return {"$ref": _COMPONENT + names[owner]}


def _choose_names(
    owner: str, definitions: dict[str, Any], components: dict[str, Any]
) -> dict[str, str]:
    """Each definition's component name: its own where free or holding the same schema.

    Renaming one changes the schemas that refer to it, which may then clash in turn, so
    this repeats until no name moves."""
    names = {name: name for name in definitions}
    for _ in range(len(definitions) + 1):
        moved = False
        for name, definition in definitions.items():
            chosen = _free_name(name, owner, _rewrite(definition, names), components)
            if chosen != names[name]:
                names[name], moved = chosen, True
        if not moved:
            break
    return names


def _free_name(name: str, owner: str, schema: Any, components: dict[str, Any]) -> str:
    own = [name] if name == owner else [name, f"{owner}_{name}"]
    numbered = (f"{own[-1]}{number}" for number in itertools.count(2))
    for candidate in itertools.chain(own, numbered):
        if components.get(candidate, schema) == schema:
            return candidate
    raise AssertionError("unreachable: the numbered names never end")


def _rewrite(schema: Any, names: dict[str, str]) -> Any:
    """A copy of ``schema`` with its local references pointing at the components."""
    if isinstance(schema, dict):
        rewritten = {key: _rewrite(value, names) for key, value in schema.items()}
        reference = rewritten.get("$ref")
        if isinstance(reference, str) and reference.startswith(_LOCAL):
            rewritten["$ref"] = _COMPONENT + names[reference.removeprefix(_LOCAL)]
        return rewritten
    if isinstance(schema, list):
        return [_rewrite(item, names) for item in schema]
    return schema
