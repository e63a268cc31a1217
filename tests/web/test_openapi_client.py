"""A client built from the schema a running platform publishes calls it for real.

Each service alone and all of them together run on a loopback server (uvicorn, SQLite, the
scripted models, under the aliases the examples name). The schema is read from the server's
own ``/openapi.json``, and the client is built from it by a standard tool:

- ``openapi-python-client`` generates a typed package that is imported and called. It is not
  a dependency of the project (its own pins clash with ours): ``make test`` installs it in a
  tool environment of its own. Without it the test is skipped, but not under ``CI``;
- schemathesis' loader, always: every operation becomes a typed call (its parameters and body
  schema resolved, a request strategy built), and the calls' answers are checked against the
  schema (status, content type, body).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, find, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import ALL_SERVICES, ServiceName, Settings
from agentic_platform.testing.catalog import scripted_models, scripted_rerank_model
from agentic_platform.testing.server import serve_in_thread
from agentic_platform.testing.upstream import closed_port_url

# The console alone has no API of its own (its pages stay out of the document).
SERVICE_SETS = [(name,) for name in ALL_SERVICES if name != "console"] + [ALL_SERVICES]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
GENERATOR = "openapi-python-client"


def _catalog() -> list[ModelEntry]:
    """The scripted models, plus the default catalog's aliases the examples name."""
    return [
        *scripted_models(),
        ModelEntry(
            alias="smollm2-135m",
            capabilities={"chat", "streaming", "tools"},
            deployments=[Deployment(provider="test", model="echo")],
        ),
        ModelEntry(
            alias="minilm-l6",
            kind="embedding",
            capabilities={"embeddings"},
            deployments=[Deployment(provider="test", model="embed", options={"dimensions": 8})],
        ),
        scripted_rerank_model("rerank"),
    ]


class Served:
    def __init__(self, url: str, admin_key: str, services: list[ServiceName]) -> None:
        self.url = url
        self.services = services
        self.headers = {"Authorization": f"Bearer {admin_key}"}
        self.document: dict[str, Any] = httpx.get(f"{url}/openapi.json").json()
        self.schema = schemathesis.openapi.from_dict(self.document)

    def operations(self) -> Iterator[Any]:
        for result in self.schema.get_all_operations():
            yield result.ok()  # an operation the loader cannot build raises here


@pytest.fixture(scope="module", params=SERVICE_SETS, ids=lambda services: "+".join(services))
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, admin_key: str
) -> Iterator[Served]:
    services: list[ServiceName] = list(request.param)
    # The agents service needs the gateways it calls: alone, it is told where they are (the
    # calls made here never reach them).
    elsewhere = {name: closed_port_url() for name in ALL_SERVICES if name not in services}
    config = Settings(
        service_urls=elsewhere,
        data_dir=tmp_path_factory.mktemp("client") / "data",
        models=_catalog(),
        auth={"bootstrap_admin_key": SecretStr(admin_key)},  # type: ignore[arg-type]
        log_requests=False,
        memory={"extraction_model": "none", "worker_poll_seconds": 0.2},  # type: ignore[arg-type]
        retrieval={"default_embedding_model": "minilm-l6"},  # type: ignore[arg-type]
    )
    with serve_in_thread(create_app(config, services)) as url:
        yield Served(url, admin_key, services)


def test_every_operation_builds_into_a_typed_call(served: Served) -> None:
    built = []
    for operation in served.operations():
        case = find(
            operation.as_strategy(),
            lambda _case: True,
            settings=settings(
                database=None,
                max_examples=1,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            ),
        )
        assert case.method.upper() == operation.method.upper()
        built.append(operation.label)
    assert len(built) == sum(len(item) for item in served.document["paths"].values())


@pytest.mark.parametrize("scheme", ["ApiKey", "ApiKeyHeader"])
def test_the_calls_that_need_no_input_answer_as_the_schema_says(
    served: Served, scheme: str
) -> None:
    """Signed in each way the security schemes declare."""
    key = served.headers["Authorization"].removeprefix("Bearer ")
    headers = served.headers if scheme == "ApiKey" else {"x-api-key": key}
    called = []
    for operation in served.operations():
        needed = [p for p in operation.definition.raw.get("parameters", ()) if p.get("required")]
        if operation.method.upper() != "GET" or needed:
            continue
        response = operation.Case().call_and_validate(
            base_url=served.url, headers=headers, checks=CHECKS
        )
        assert response.status_code == 200, (operation.label, response.text)
        called.append(operation.label)
    assert "GET /healthz" in called and len(called) > 2


def test_every_route_that_declares_security_refuses_a_call_without_a_key(served: Served) -> None:
    for path, path_item in served.document["paths"].items():
        for method, operation in path_item.items():
            url = served.url + path.replace("{", "").replace("}", "")
            answer = httpx.request(method, url)
            if "security" in operation:
                assert answer.status_code == 401, (method, path, answer.text)
                assert answer.json()["error"]["message"]
            else:
                assert answer.status_code == 200, (method, path)


def test_the_example_bodies_are_accepted(served: Served) -> None:
    """In the document's order, each example is sent as it is; a path id comes from the
    answer of the create call on the collection above it."""
    if set(served.services) != set(ALL_SERVICES):
        pytest.skip("memory and retrieval embed through the gateway: all services are needed")
    ids = {"name": "diy-agent"}  # the agent routes' path names an agent, not a created id
    sent = []
    for operation in served.operations():
        media = operation.definition.raw.get("requestBody", {}).get("content", {})
        example = media.get("application/json", {}).get("example")
        parameters = operation.definition.raw.get("parameters", ())
        path_names = [p["name"] for p in parameters if p["in"] == "path"]
        if example is None or not set(path_names) <= set(ids):
            continue
        case = operation.Case(body=example, path_parameters={n: ids[n] for n in path_names})
        response = case.call_and_validate(
            base_url=served.url, headers=served.headers, checks=CHECKS
        )
        assert 200 <= response.status_code < 300, (operation.label, response.text)
        _remember_ids(served.document, operation.path, response, ids)
        sent.append(operation.label)
    assert len(sent) == _example_count(served.document), sent


def _example_count(document: dict[str, Any]) -> int:
    return sum(
        "example" in op.get("requestBody", {}).get("content", {}).get("application/json", {})
        for item in document["paths"].values()
        for op in item.values()
    )


def _remember_ids(document: dict[str, Any], path: str, response: Any, ids: dict[str, str]) -> None:
    """A 201 on a collection gives the id of the item paths below it (``{path}/{name}``)."""
    if response.status_code != 201:
        return
    for other in document["paths"]:
        rest = other.removeprefix(path + "/")
        if rest != other and rest.startswith("{") and rest.endswith("}") and "/" not in rest:
            ids[rest[1:-1]] = response.json()["id"]


def test_a_streamed_chat_is_answered_with_the_declared_event_stream(served: Served) -> None:
    if "/llm/v1/chat/completions" not in served.document["paths"]:
        pytest.skip("the LLM gateway does not run here")
    operation = served.schema["/llm/v1/chat/completions"]["POST"]
    media = operation.definition.raw["requestBody"]["content"]["application/json"]
    case = operation.Case(body={**media["example"], "stream": True})
    response = case.call_and_validate(base_url=served.url, headers=served.headers, checks=CHECKS)
    assert response.headers["content-type"][0].startswith("text/event-stream")
    assert response.text.endswith("data: [DONE]\n\n")


def _generator() -> str | None:
    """The generator's executable: named by ``AGENTIC_OPENAPI_CLIENT_GENERATOR`` (``make test``
    installs it in a tool environment of its own), beside this interpreter, or on the PATH."""
    named = os.environ.get("AGENTIC_OPENAPI_CLIENT_GENERATOR")
    if named:
        return named
    beside = Path(sys.executable).with_name(GENERATOR)
    return str(beside) if beside.exists() else shutil.which(GENERATOR)


def _generate(served: Served, tmp_path: Path) -> tuple[str, Path]:
    """A client package generated from the served schema: its import name and folder.

    The name is one per service set, so the packages of the sets never share a module."""
    generator = _generator()
    if generator is None:
        if os.environ.get("CI"):
            pytest.fail(f"{GENERATOR} is not installed: `make test` installs it")
        pytest.skip(f"{GENERATOR} is not installed (`make test` installs it)")
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(served.document))
    config = tmp_path / "generator.yaml"
    config.write_text("post_hooks: []\n")  # no formatter is run over the generated code
    name = "agentic_client_" + "_".join(served.services)
    package = tmp_path / name
    arguments = ["--path", str(spec), "--output-path", str(package), "--meta", "none"]
    done = subprocess.run(
        [generator, "generate", *arguments, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    return name, package


def _call(name: str, operation: dict[str, Any]) -> Any:
    """The generated module of ``operation``: ``api/<tag>/<operationId in snake case>``."""
    module = re.sub("_+", "_", operation["operationId"])
    return importlib.import_module(f"{name}.api.{operation['tags'][0]}.{module}")


def test_a_package_generated_by_openapi_python_client_calls_the_platform(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every GET that needs no input, and a chat completion where the gateway runs, each
    through the generated package's typed call and answer."""
    name, package = _generate(served, tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    generated = importlib.import_module(name)
    client = generated.AuthenticatedClient(
        base_url=served.url, token=served.headers["Authorization"].removeprefix("Bearer ")
    )
    called = []
    for operation in served.operations():
        raw = operation.definition.raw
        needed = [p for p in raw.get("parameters", ()) if p.get("required")]
        if operation.method.upper() != "GET" or needed or "security" not in raw:
            continue
        answer = _call(name, raw).sync_detailed(client=client)
        assert answer.status_code == 200, (operation.label, answer.content)
        assert type(answer.parsed).__name__ != "ErrorEnvelope", operation.label
        assert answer.parsed is not None, operation.label
        called.append(operation.label)
    assert called
    assert (package / "api").is_dir()
    if "llm" in served.services:
        _chat_through(name, client, served)


def _chat_through(name: str, client: Any, served: Served) -> None:
    """``GET /llm/v1/models`` and one chat completion, answered by the scripted ``echo``."""
    listing = served.document["paths"]["/llm/v1/models"]["get"]
    models = _call(name, listing).sync(client=client)
    assert "echo" in [card.id for card in models.data]
    chat = served.document["paths"]["/llm/v1/chat/completions"]["post"]
    request_type = importlib.import_module(f"{name}.models").ChatCompletionRequest
    body = request_type.from_dict(
        {"model": "echo", "messages": [{"role": "user", "content": "Hello from a client"}]}
    )
    answer = _call(name, chat).sync(client=client, body=body)
    assert type(answer).__name__ == "ChatCompletion", answer
    assert answer.choices[0].message.content == "Hello from a client"
    assert answer.usage.total_tokens > 0
