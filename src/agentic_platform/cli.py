"""The ``agentic`` command."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from agentic_platform import cli_admin
from agentic_platform.agents.cli import agents_app, runs_app
from agentic_platform.errors import ConfigurationError, PlatformError
from agentic_platform.retrieval.cli import kb_app
from agentic_platform.settings import ALL_SERVICES, Settings, load_settings, masked

if TYPE_CHECKING:
    from agentic_platform.clients.llm import LLMClient

app = typer.Typer(
    help="Agentic Platform: LLM, retrieval and memory gateways and the agents built on them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(kb_app, name="kb")
app.add_typer(agents_app, name="agents")
app.add_typer(runs_app, name="runs")

Host = Annotated[str | None, typer.Option(help="Address to listen on [AGENTIC_HOST].")]
Port = Annotated[int | None, typer.Option(help="Port to listen on [AGENTIC_PORT].")]
Url = Annotated[
    str | None,
    typer.Option(help="Platform URL; defaults to http://AGENTIC_HOST:AGENTIC_PORT."),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        envvar="AGENTIC_API_KEY", help="API key; defaults to the admin key in the data directory."
    ),
]


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigurationError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None


def _run_server(settings: Settings, services: list[str]) -> None:
    """Serve until stopped: status 0 after a clean stop, a one-line error if it cannot start."""
    from agentic_platform.app import create_app
    from agentic_platform.logs import configure_logging
    from agentic_platform.web.serving import StartFailure, serve

    configure_logging(settings.log_level)
    try:
        serve(create_app(settings, services), settings)  # type: ignore[arg-type]
    except ConfigurationError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    except StartFailure as failure:
        typer.echo(f"error: {failure}", err=True)
        raise typer.Exit(failure.status) from None


@app.command()
def up(host: Host = None, port: Port = None) -> None:
    """Run every service in one process on the embedded defaults (SQLite, local model)."""
    settings = _settings(host=host, port=port)
    _run_server(settings, list(settings.services))


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(ALL_SERVICES)}.")],
    host: Host = None,
    port: Port = None,
    only: Annotated[
        str | None,
        typer.Option(
            help="With 'agents': serve just this agent or workflow [AGENTIC_AGENTS__ONLY]."
        ),
    ] = None,
) -> None:
    """Run one service, as one Kubernetes Deployment does."""
    if service not in ALL_SERVICES:
        typer.echo(f"error: unknown service '{service}'; choose one of {ALL_SERVICES}", err=True)
        raise typer.Exit(2)
    if only is not None and service != "agents":
        typer.echo("error: --only applies to the agents service", err=True)
        raise typer.Exit(2)
    settings = _settings(host=host, port=port)
    if only is not None:
        settings.agents.only = only
    _run_server(settings, [service])


@config_app.command("show")
def config_show() -> None:
    """Print the effective settings as JSON, secrets masked."""
    typer.echo(json.dumps(masked(_settings()), indent=2))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply database migrations (run once per release in production)."""
    from agentic_platform.db.migrate import upgrade_sync

    settings = _settings()
    upgrade_sync(settings.effective_database_url, revision)
    typer.echo(f"database at revision {revision}")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random key, e.g. for AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY in a secret store."""
    from agentic_platform.auth.keys import new_key_secret

    typer.echo(new_key_secret())


def _client_target(url: str | None, api_key: str | None) -> tuple[str, str]:
    from agentic_platform.auth.bootstrap import read_admin_key

    settings = _settings()
    key = api_key or read_admin_key(settings)
    if not key:
        typer.echo(
            f"error: no API key: pass --api-key, set AGENTIC_API_KEY, or run `agentic up` once "
            f"to create {settings.admin_key_file}",
            err=True,
        )
        raise typer.Exit(2)
    return url or f"http://{settings.host}:{settings.port}", key


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print raw JSON.")] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """List the models the gateway serves, with what each is for and can do."""
    from agentic_platform.clients.llm import LLMClient

    base_url, key = _client_target(url, api_key)

    async def run() -> None:
        async with LLMClient(base_url, key) as client:
            cards = (await client.models()).data
        rows = [card.model_dump(include={"id", "kind", "capabilities"}) for card in cards]
        if as_json:
            cli_admin.echo_json(rows)
        else:
            cli_admin.table(rows, ["id", "kind", "capabilities"])

    _run_client(run())


@app.command()
def embed(
    text: Annotated[list[str], typer.Argument(help="The text to embed (several: one each).")],
    model: Annotated[
        str | None, typer.Option(help="Embedding model alias; defaults to the catalog's first.")
    ] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Embed text through the gateway and print each vector as a JSON array, one a line."""
    from agentic_platform.clients.llm import LLMClient, decode_embedding

    base_url, key = _client_target(url, api_key)

    async def run() -> None:
        async with LLMClient(base_url, key) as client:
            chosen = model or await _first_embedding_model(client)
            result = await client.embeddings(model=chosen, input=text)
        for item in result.data:
            typer.echo(json.dumps(decode_embedding(item.embedding)))
        dimensions = len(result.data[0].embedding) if result.data else 0
        tokens = result.usage.prompt_tokens
        typer.echo(f"{chosen}: {dimensions} dimensions, {tokens} tokens", err=True)

    _run_client(run())


async def _first_embedding_model(client: LLMClient) -> str:
    found = [card.id for card in (await client.models()).data if card.kind == "embedding"]
    if not found:
        typer.echo("error: the gateway serves no embedding model; pass --model", err=True)
        raise typer.Exit(2)
    return found[0]


@app.command()
def chat(
    question: Annotated[str, typer.Argument(help="What to ask.")],
    model: Annotated[str, typer.Option(help="Model alias.")] = "smollm2-135m",
    system: Annotated[str | None, typer.Option(help="A system prompt.")] = None,
    max_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 256,
    seed: Annotated[
        int | None, typer.Option(help="Sample the same answer again (where the model can).")
    ] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Ask a model through the gateway and stream its answer."""
    from agentic_platform.clients.llm import LLMClient

    base_url, key = _client_target(url, api_key)
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": question})
    sampling = {"seed": seed} if seed is not None else {}

    async def run() -> None:
        async with LLMClient(base_url, key) as client:
            async for chunk in client.stream_chat(
                model=model, messages=messages, max_tokens=max_tokens, **sampling
            ):
                for choice in chunk.choices:
                    sys.stdout.write(choice.delta.content or "")
                    sys.stdout.flush()
        sys.stdout.write("\n")

    _run_client(run())


def _run_client(work: object) -> None:
    import httpx

    try:
        asyncio.run(work)  # type: ignore[arg-type]
    except PlatformError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    except httpx.ConnectError:
        typer.echo("error: cannot reach the platform; is `agentic up` running?", err=True)
        raise typer.Exit(1) from None


cli_admin.register(keys_app, app, _client_target)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
