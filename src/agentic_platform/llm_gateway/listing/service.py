"""The models a caller may use: what ``/models`` lists and ``/models/{id}`` finds.

A catalog model is listed when the caller's API key allowlist (if any) matches it and every
usage plan in force is active and allows it, the same rules a call to it is admitted by. An
``agent:<name>`` model is governed by the key allowlist alone (the agent's own model calls
are metered under the caller's plans), so only that applies to it."""

from __future__ import annotations

import fnmatch

from fastapi import Request

from agentic_platform.auth.principal import Principal
from agentic_platform.dependencies import llm_gateway, metering
from agentic_platform.llm_gateway.schemas import ModelCard, ModelList


def key_allows(caller: Principal, model: str) -> bool:
    patterns = caller.key_models
    return patterns is None or any(fnmatch.fnmatchcase(model, pattern) for pattern in patterns)


async def visible_models(request: Request, caller: Principal) -> ModelList:
    listed = (await llm_gateway(request)).models()
    applied = await (await metering(request)).governor.plans.applied_to(caller)
    listed.data = [
        card
        for card in listed.data
        if key_allows(caller, card.id)
        and all(entry.plan.active and entry.plan.allows(card.id) for entry in applied)
    ]
    from agentic_platform.agents.as_model import agent_model_cards

    agents = await agent_model_cards(request, caller)
    listed.data.extend(card for card in agents if key_allows(caller, card.id))
    return listed


async def find_model(request: Request, caller: Principal, model_id: str) -> ModelCard | None:
    for card in (await visible_models(request, caller)).data:
        if card.id == model_id:
            return card
    return None
