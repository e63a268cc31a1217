"""A scripted model for the workflows: it recognises each step by its prompt and answers as
the test's message steers it.

Markers in the user's message choose the behaviour: ``REFUSE`` fails the prompt-chaining
gate and ``GARBLE`` makes every structured step unreadable; ``MATH: <expr>``, ``DOCS:`` and
``ODD:`` steer the router (``ODD`` answers a label no route has); ``PLAN:<n>`` asks the
planner for ``n`` sub-tasks; ``PASS_AT:<n>`` makes the evaluator pass answer ``v<n>`` and
``NEVER`` makes it fail every one; ``BREAK`` makes the model fail the parallel ``caveats``
sub-task. Any step whose prompt carries knowledge-base passages says
which passage it was given (``[from: ...]``), so grounding shows in the answer.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from collections.abc import Iterator

from agentic_platform.errors import UpstreamUnavailableError
from agentic_platform.llm_gateway.schemas import (
    ChatCompletionRequest,
    SystemMessage,
    ToolMessage,
    UserMessage,
    message_text,
)

VOTES = ("Paris", "paris.", "Lyon")
_ballots: defaultdict[str, Iterator[int]] = defaultdict(itertools.count)


def _prompt(request: ChatCompletionRequest) -> str:
    users = [m for m in request.messages if isinstance(m, UserMessage)]
    return message_text(users[-1].content) if users else ""


def _system(request: ChatCompletionRequest) -> str:
    system = next((m for m in request.messages if isinstance(m, SystemMessage)), None)
    return message_text(system.content) if system else ""


def _grounding(prompt: str) -> str:
    """`` [from: <first passage>]`` when the prompt carries passages."""
    if "Passages from the knowledge base" not in prompt:
        return ""
    first = next(line for line in prompt.splitlines() if line.startswith("[1]"))
    return f" [from: {first}]"


def workflow_reply(request: ChatCompletionRequest) -> str | dict[str, object]:
    prompt = _prompt(request)
    if "GARBLE" in prompt and request.response_format is not None:
        return "I would rather not answer in JSON."
    for marker, answer in _STEPS:
        if marker in prompt or marker in _system(request):
            return answer(request, prompt)
    return f"plain answer{_grounding(prompt)}"


def _gate(_request: ChatCompletionRequest, prompt: str) -> str:
    if "REFUSE" in prompt:
        return json.dumps({"ok": False, "reason": "the request asks for private data"})
    return json.dumps({"ok": True, "reason": "it covers the request"})


def _classify(_request: ChatCompletionRequest, prompt: str) -> str:
    labels = {"MATH:": "math", "DOCS:": "knowledge", "ODD:": "poetry"}
    label = next((name for marker, name in labels.items() if marker in prompt), "general")
    return json.dumps({"route": label})


def _math(request: ChatCompletionRequest, prompt: str) -> str | dict[str, object]:
    last = request.messages[-1]
    if isinstance(last, ToolMessage):
        return f"The result is {message_text(last.content)}."
    expression = prompt.split("MATH:", 1)[1].strip()
    return {"tool_calls": [{"name": "calculator", "arguments": {"expression": expression}}]}


def _vote(_request: ChatCompletionRequest, prompt: str) -> str:
    number = next(_ballots[prompt])
    return json.dumps({"answer": f"{_grounding(prompt)} {VOTES[number % len(VOTES)]}".strip()})


def _caveats(prompt: str) -> str:
    if "BREAK" in prompt:
        raise UpstreamUnavailableError("the scripted model is down")
    return "the caveats"


def _combine(prompt: str) -> str:
    sections = prompt.split("\n\n")[1:-1]
    return "combined: " + " | ".join(section.replace("\n", " ") for section in sections)


def _plan(_request: ChatCompletionRequest, prompt: str) -> str:
    found = re.search(r"PLAN:(\d+)", prompt)
    count = int(found.group(1)) if found else 2
    subtasks = [{"title": f"part {n}", "instruction": f"do part {n}"} for n in range(1, count + 1)]
    return json.dumps({"subtasks": subtasks})


def _work(_request: ChatCompletionRequest, prompt: str) -> str:
    instruction = prompt.split("):\n", 1)[1].split("\n", 1)[0]
    return f"done: {instruction}{_grounding(prompt)}"


def _synthesize(_request: ChatCompletionRequest, prompt: str) -> str:
    findings = prompt.split("Results of its parts:\n\n", 1)[1].split("\n\nCombine", 1)[0]
    return "synthesis of " + " | ".join(findings.split("\n\n"))


def _evaluate(_request: ChatCompletionRequest, prompt: str) -> str:
    version = int(re.findall(r"Answer to review:\nv(\d+)", prompt)[0])
    target = re.search(r"PASS_AT:(\d+)", prompt)
    passed = target is not None and version >= int(target.group(1))
    return json.dumps({"pass": passed, "feedback": f"v{version} is not good enough"})


def _improve(_request: ChatCompletionRequest, prompt: str) -> str:
    version = int(re.findall(r"Your answer:\nv(\d+)", prompt)[0])
    feedback = prompt.split("A reviewer's feedback:\n", 1)[1].split("\n", 1)[0]
    return f"v{version + 1} after: {feedback}"


def _generate(_request: ChatCompletionRequest, prompt: str) -> str:
    return f"v1{_grounding(prompt)}"


_STEPS = (
    ("Write a short outline", lambda _r, p: f"1. start 2. middle 3. end{_grounding(p)}"),
    ("Does this outline answer", _gate),
    ("Write the answer following the outline", lambda _r, p: f"draft{_grounding(p)}"),
    ("Polish the draft", lambda _r, p: "polished " + p.split("Draft:\n", 1)[1].split("\n")[0]),
    ("Which category is the request?", _classify),
    ("You solve calculations.", _math),
    ("Answer the request directly", lambda _r, p: f"the answer{_grounding(p)}"),
    ("List the main caveats", lambda _r, p: _caveats(p)),
    ("Give one short, concrete example", lambda _r, _p: "an example"),
    ("Combine these into one clear answer", lambda _r, p: _combine(p)),
    ('{"answer": "<your answer>"}', _vote),
    ("sub-tasks. Reply as JSON", _plan),
    ("Your part (", _work),
    ("Results of its parts", _synthesize),
    ("Answer to review:", _evaluate),
    ("A reviewer's feedback", _improve),
    ("You are a careful writer. Answer the request", _generate),
)
