"""``agentic agents`` and ``agentic runs``: the agent API from a terminal.

``agentic agents run NAME "message"`` streams the answer to stdout as it is written and shows
each tool call (name, arguments, then its result) and workflow step on stderr as it happens,
so the answer alone can be piped on. ``agentic agents new NAME`` starts a team's own agent
(see :mod:`agentic_platform.agents.scaffold`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from agentic_platform.agents.events import AgentEvent

agents_app = typer.Typer(help="Agents and workflows: list them, run one.", no_args_is_help=True)
runs_app = typer.Typer(help="Agent run records.", no_args_is_help=True)

Url = Annotated[str | None, typer.Option(help="Platform URL.")]
ApiKey = Annotated[str | None, typer.Option(envvar="AGENTIC_API_KEY", help="API key.")]
Json = Annotated[bool, typer.Option("--json", help="Print raw JSON.")]
PREVIEW_CHARS = 200


def _client(url: str | None, api_key: str | None) -> Any:
    from agentic_platform.cli import _client_target
    from agentic_platform.clients.agents import AgentsClient

    base_url, key = _client_target(url, api_key)
    return AgentsClient(base_url, key)


def _run(work: Any) -> None:
    from agentic_platform.cli import _run_client

    _run_client(work)


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[:PREVIEW_CHARS] + "…"


@agents_app.command("list")
def agents_list(url: Url = None, api_key: ApiKey = None, as_json: Json = False) -> None:
    """The agents and workflows the platform serves."""
    from agentic_platform.cli_admin import echo_json, table

    async def work() -> None:
        async with _client(url, api_key) as client:
            cards = [card.model_dump() for card in (await client.agents()).data]
        if as_json:
            echo_json(cards)
        else:
            table(cards, ["name", "kind", "tools", "description"])

    _run(work())


def _show(event: AgentEvent, failure: list[str]) -> None:
    """Write one event: text to stdout, everything else to stderr."""
    if event.type == "text_delta":
        sys.stdout.write(event.text)
        sys.stdout.flush()
    elif event.type == "tool_call_started":
        typer.echo(f"\n[tool] {event.name} {_preview(event.arguments)}", err=True)
    elif event.type == "tool_call_finished":
        mark = "error" if event.is_error else "result"
        typer.echo(f"[{mark}] {_preview(event.result)} ({event.duration_ms:.0f} ms)", err=True)
    elif event.type == "step_started":
        typer.echo(f"\n[step] {event.name}", err=True)
    elif event.type == "error":
        failure.append(event.message)
    elif event.type == "run_finished":
        sys.stdout.write("\n")
        cost = f", ${event.cost_usd:.6f}" if event.cost_usd else ""
        typer.echo(
            f"[run {event.run_id}] session {event.session_id}, "
            f"{event.usage.total_tokens} tokens{cost}, {event.duration_ms:.0f} ms",
            err=True,
        )


@agents_app.command("run")
def agents_run(
    name: Annotated[str, typer.Argument(help="The agent or workflow.")],
    message: Annotated[str, typer.Argument(help="What to say.")],
    session: Annotated[str | None, typer.Option(help="Continue this session.")] = None,
    kb: Annotated[
        list[str] | None, typer.Option(help="Ground the answer in this knowledge base.")
    ] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Run an agent, streaming its answer and showing its tool calls as they happen."""
    failure: list[str] = []

    async def work() -> None:
        request: dict[str, Any] = {"session_id": session}
        if kb:
            request["knowledge_bases"] = kb
        async with _client(url, api_key) as client:
            async for event in client.stream(name, message, **request):
                _show(event, failure)

    _run(work())
    if failure:
        typer.echo(f"\nerror: {failure[0]}", err=True)
        raise typer.Exit(1)


@agents_app.command("new")
def agents_new(
    name: Annotated[str, typer.Argument(help="The agent's name, e.g. ticket-triage.")],
    path: Annotated[
        Path | None, typer.Option(help="The project's directory (default: ./NAME).")
    ] = None,
) -> None:
    """Start a team's own agent: a template project with its agent, test and README."""
    from agentic_platform.agents.scaffold import ScaffoldRefused, new_agent_project

    try:
        project = new_agent_project(name, path)
    except ScaffoldRefused as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(1) from None
    for created in project.created:
        typer.echo(f"created {created.relative_to(project.directory.parent)}")
    typer.echo(
        f"\nNext: cd {project.directory} && python -m pytest (where agentic-platform is "
        "installed)\n"
        f"Host it: install the package next to the platform (its entry point is read at "
        f"start-up), or AGENTIC_AGENTS__MODULES='[\"{project.package}.agent:make_agent\"]' "
        "with its src/ on PYTHONPATH."
    )


@runs_app.command("list")
def runs_list(
    agent: Annotated[str | None, typer.Option(help="Only this agent's runs.")] = None,
    status: Annotated[
        str | None, typer.Option(help="running, succeeded, failed, cancelled.")
    ] = None,
    session: Annotated[str | None, typer.Option(help="Only this session's runs.")] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 20,
    url: Url = None,
    api_key: ApiKey = None,
    as_json: Json = False,
) -> None:
    """Recent runs, newest first (yours; an admin sees everyone's)."""
    from agentic_platform.cli_admin import echo_json, table

    async def work() -> None:
        async with _client(url, api_key) as client:
            page = await client.runs(agent=agent, status=status, session_id=session, limit=limit)
        rows = [run.model_dump(mode="json") for run in page.data]
        if as_json:
            echo_json(rows)
            return
        for row in rows:
            row["tokens"] = row["usage"]["total_tokens"]
            row["ms"] = round(row["duration_ms"] or 0)
        table(
            rows, ["id", "agent", "status", "started_at", "ms", "tokens", "cost_usd", "error_code"]
        )

    _run(work())


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    url: Url = None,
    api_key: ApiKey = None,
    as_json: Json = False,
) -> None:
    """One run and its steps."""
    from agentic_platform.cli_admin import echo_json, table

    async def work() -> None:
        async with _client(url, api_key) as client:
            run = (await client.run(run_id)).model_dump(mode="json")
        if as_json:
            echo_json(run)
            return
        for field in ("id", "agent", "user_id", "session_id", "status", "error", "model"):
            typer.echo(f"{field}: {run[field] if run[field] is not None else '-'}")
        usage = run["usage"]
        typer.echo(f"tokens: {usage['prompt_tokens']} in, {usage['completion_tokens']} out")
        typer.echo(f"cost_usd: {run['cost_usd']}")
        typer.echo(f"started_at: {run['started_at']}  duration_ms: {run['duration_ms']}\n")
        steps = run["steps"]
        for step in steps:
            step["tokens"] = step["usage"]["total_tokens"]
            step["ms"] = round(step["duration_ms"])
            step["note"] = _preview(step["error"] or step["detail"].get("result", ""))[:60]
        table(steps, ["index", "kind", "name", "ms", "tokens", "note"])

    _run(work())
