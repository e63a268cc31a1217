"""Helpers for workflow tests: the scripted workflow model, knowledge bases of a user's own,
and checks of a run's steps and events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agents_harness import Platform, User

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.testing.agents import EVERY

WORKFLOWS = (
    "prompt-chaining",
    "routing",
    "parallelization",
    "parallelization-voting",
    "orchestrator-workers",
    "evaluator-optimizer",
)


def flow_model(alias: str, **options: Any) -> ModelEntry:
    return ModelEntry(
        alias=alias,
        capabilities=EVERY,
        deployments=[
            Deployment(
                provider="test",
                model=alias,
                max_retries=0,
                options={"function": "workflow_replies:workflow_reply", **options},
            )
        ],
    )


async def knowledge_base(user: User, name: str, *documents: dict[str, str]) -> str:
    """A new knowledge base of the user's team (``name`` and a random suffix) with
    ``documents`` ingested through the retrieval gateway; its name."""
    name = f"{name}-{uuid.uuid4().hex[:8]}"
    async with user.client() as http:
        created = await http.post("/retrieval/v1/knowledge-bases", json={"name": name})
        assert created.status_code == 201, created.text
        added = await http.post(
            f"/retrieval/v1/knowledge-bases/{name}/documents", json={"documents": list(documents)}
        )
        assert added.status_code == 200, added.text
    return name


def step_names(answer: dict[str, Any], kind: str = "step") -> list[str]:
    return [step["name"] for step in answer["steps"] if step["kind"] == kind]


def assert_well_ordered(events: list[dict[str, Any]]) -> None:
    """``run_started`` first, ``run_finished`` last, and each step's ``step_started`` before
    its ``step_finished`` (steps are named once per run)."""
    kinds = [event["type"] for event in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("run_finished") == 1
    started = [e["name"] for e in events if e["type"] == "step_started"]
    finished = [e["name"] for e in events if e["type"] == "step_finished"]
    assert sorted(started) == sorted(finished) and len(set(started)) == len(started)
    for name in started:
        opened = next(
            i for i, e in enumerate(events) if e["type"] == "step_started" and e["name"] == name
        )
        closed = next(
            i for i, e in enumerate(events) if e["type"] == "step_finished" and e["name"] == name
        )
        assert opened < closed


@contextmanager
def workflow_on(platform: Platform, workflow: str, model: str) -> Iterator[None]:
    """Run ``workflow`` on ``model`` for the duration (then on ``flow-bot`` again)."""
    models = platform.state.settings.agents.agent_models
    models[workflow] = model
    try:
        yield
    finally:
        models[workflow] = "flow-bot"
