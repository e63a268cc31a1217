"""``langgraph-chat``: a LangGraph ``StateGraph`` chat agent with memory.

The graph's state is the conversation as OpenAI-style chat messages (what ``ctx.chat``
takes) and the answer. Its nodes, each a plain async function of the state and the run's
:class:`~agentic_platform.agents.context.RunContext` (LangGraph's run context)::

    START → recall → model ─(tool calls)→ tools → model …
                          └─(text)──────→ answer → END

* ``recall``: the session's history from the memory gateway (``ctx.history``) and the
  user's long-term memories recalled for this message, under the system prompt;
* ``model``: one model call through the gateway as the user (``ctx.chat``: recorded,
  metered, streamed as text deltas when the run is);
* ``tools``: every tool call of the model's reply through ``ctx.call_tool``;
* ``answer``: the reply's text becomes the run's answer; the platform appends the turn to
  the session, so the next turn of the same session recalls it.

``agents.max_steps`` bounds the model calls: LangGraph's recursion limit is set to the node
runs that many calls need, and reaching it is
:class:`~agentic_platform.agents.protocol.StepLimitReached`, as ``ctx.chat`` itself reports
one call past the limit. The graph is compiled once; a run's context travels with the
invocation, so runs never share state.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.diy.agent import DiyAgent
from agentic_platform.agents.protocol import TEXT_INPUT, AgentKind, StepLimitReached

SYSTEM_PROMPT = (
    "You are a helpful assistant in a conversation that goes on across turns: use what was "
    "said before and what you know about the user. Use the tools when they help: the "
    "calculator for any arithmetic, the knowledge base for the team's documents. Answer "
    "briefly."
)


class ChatState(TypedDict, total=False):
    messages: Annotated[list[dict[str, Any]], operator.add]
    """The chat for the model: system prompt, history, the new message, then each reply and
    tool result as the graph goes."""
    answer: str


async def recall(state: ChatState, *, runtime: Runtime[RunContext]) -> ChatState:
    return {"messages": runtime.context.messages(SYSTEM_PROMPT)}


async def model(state: ChatState, *, runtime: Runtime[RunContext]) -> ChatState:
    ctx = runtime.context
    completion = await ctx.chat(messages=state["messages"], tools=ctx.tools.definitions() or None)
    return {"messages": [completion.choices[0].message.model_dump(exclude_none=True)]}


async def tools(state: ChatState, *, runtime: Runtime[RunContext]) -> ChatState:
    results = []
    for call in state["messages"][-1]["tool_calls"]:
        function = call["function"]
        result = await runtime.context.call_tool(
            function["name"], function["arguments"], call_id=call["id"]
        )
        results.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    return {"messages": results}


async def answer(state: ChatState) -> ChatState:
    return {"answer": str(state["messages"][-1].get("content") or "")}


def after_model(state: ChatState) -> Literal["tools", "answer"]:
    return "tools" if state["messages"][-1].get("tool_calls") else "answer"


def chat_graph() -> CompiledStateGraph[ChatState, RunContext, ChatState, ChatState]:
    graph = StateGraph(ChatState, context_schema=RunContext)
    graph.add_node("recall", recall)
    graph.add_node("model", model)
    graph.add_node("tools", tools)
    graph.add_node("answer", answer)
    graph.add_edge(START, "recall")
    graph.add_edge("recall", "model")
    graph.add_conditional_edges("model", after_model)
    graph.add_edge("tools", "model")
    graph.add_edge("answer", END)
    return graph.compile(name="langgraph-chat")


def recursion_limit(max_steps: int) -> int:
    """LangGraph's recursion limit for a turn of at most ``max_steps`` model calls: such a
    turn runs recall, the calls, a tools run between each two and the answer (2n + 1
    nodes), and LangGraph needs one step more than the nodes a run goes through."""
    return 2 * max_steps + 2


class LangGraphChat:
    name = "langgraph-chat"
    description = "A LangGraph chat graph with memory: recall, model, tools, answer."
    kind: AgentKind = "agent"
    tools: tuple[str, ...] = DiyAgent.tools
    input_schema: dict[str, Any] = TEXT_INPUT

    def __init__(self) -> None:
        self._graph = chat_graph()

    async def run(self, ctx: RunContext) -> str:
        limit = ctx.limits.max_steps
        try:
            final = await self._graph.ainvoke(
                {}, {"recursion_limit": recursion_limit(limit)}, context=ctx
            )
        except GraphRecursionError:
            raise StepLimitReached(
                f"The agent made {ctx.model_calls} model calls without finishing "
                f"(agents.max_steps is {limit}).",
            ) from None
        return str(final.get("answer", ""))
