"""``agentic kb``: knowledge bases from the command line.

``agentic kb ingest ./folder --kb NAME`` walks the folder for the files we load (text,
Markdown, HTML, PDF), sends them as ingestion jobs of a few megabytes each, and shows a
progress bar while the jobs run. A file's path relative to the folder is its document id, so
running the command again replaces changed files and skips unchanged ones.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from agentic_platform.retrieval.loaders import content_type_of

kb_app = typer.Typer(help="Knowledge bases: create, ingest, search.", no_args_is_help=True)

REQUEST_BYTES = 4 * 1024 * 1024
"""Encoded document bytes per job request (under the server's default body limit)."""

Url = Annotated[str | None, typer.Option(help="Platform URL.")]
ApiKey = Annotated[str | None, typer.Option(envvar="AGENTIC_API_KEY", help="API key.")]


def _client(url: str | None, api_key: str | None) -> Any:
    from agentic_platform.cli import _client_target
    from agentic_platform.retrieval.client import RetrievalClient

    base_url, key = _client_target(url, api_key)
    return RetrievalClient(base_url, key)


def _run(work: Any) -> None:
    from agentic_platform.cli import _run_client

    _run_client(work)


def files_to_ingest(folder: Path) -> Iterator[tuple[str, Path, str]]:
    """(document id, path, content type) of every loadable file, in a stable order."""
    paths = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
    root = folder.parent if folder.is_file() else folder
    for path in paths:
        content_type = content_type_of(path.name)
        if content_type is not None:
            yield path.relative_to(root).as_posix(), path, content_type


def _document(
    document_id: str, path: Path, content_type: str, metadata: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": document_id,
        "content_base64": base64.b64encode(path.read_bytes()).decode(),
        "content_type": content_type,
        "source": document_id,
        "metadata": metadata,
    }


def _batches(folder: Path, metadata: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for document_id, path, content_type in files_to_ingest(folder):
        document = _document(document_id, path, content_type, metadata)
        encoded = len(document["content_base64"])
        if batch and size + encoded > REQUEST_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(document)
        size += encoded
    if batch:
        yield batch


def _metadata(pairs: list[str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint="--metadata")
        try:
            metadata[key] = json.loads(value)
        except json.JSONDecodeError:
            metadata[key] = value
    return metadata


@kb_app.command("create")
def create(
    name: str,
    description: Annotated[str, typer.Option(help="What it holds.")] = "",
    embedding_model: Annotated[str | None, typer.Option(help="Catalog alias.")] = None,
    backend: Annotated[str | None, typer.Option(help="sqlite, pgvector or memory.")] = None,
    chunk_tokens: Annotated[int, typer.Option(help="Longest chunk, in tokens.")] = 200,
    overlap_tokens: Annotated[int, typer.Option(help="Tokens shared by neighbours.")] = 32,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Create a knowledge base for your team."""

    async def run() -> None:
        async with _client(url, api_key) as client:
            options: dict[str, Any] = {
                "description": description,
                "chunking": {"chunk_tokens": chunk_tokens, "overlap_tokens": overlap_tokens},
            }
            if embedding_model:
                options["embedding_model"] = embedding_model
            if backend:
                options["backend"] = backend
            kb = await client.create_knowledge_base(name, **options)
            typer.echo(f"created {kb.name} ({kb.id}, {kb.backend}, {kb.embedding_model})")

    _run(run())


@kb_app.command("list")
def list_(url: Url = None, api_key: ApiKey = None) -> None:
    """List the knowledge bases you can see."""

    async def run() -> None:
        async with _client(url, api_key) as client:
            for kb in await client.list_knowledge_bases():
                typer.echo(f"{kb.name}\t{kb.id}\t{kb.document_count} documents\t{kb.backend}")

    _run(run())


@kb_app.command("delete")
def delete(name: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Delete a knowledge base and everything in it."""

    async def run() -> None:
        async with _client(url, api_key) as client:
            await client.delete_knowledge_base(name)
            typer.echo(f"deleted {name}")

    _run(run())


@kb_app.command("ingest")
def ingest(
    folder: Annotated[Path, typer.Argument(exists=True, help="A file or a folder.")],
    kb: Annotated[str, typer.Option("--kb", help="The knowledge base.")],
    metadata: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE for every document (repeatable).")
    ] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Ingest every text, Markdown, HTML and PDF file under FOLDER, with a progress bar."""
    shared = _metadata(metadata or [])
    total = sum(1 for _ in files_to_ingest(folder))
    if total == 0:
        typer.echo("no supported files (.txt .md .html .pdf) found", err=True)
        raise typer.Exit(1)

    async def run() -> None:
        async with _client(url, api_key) as client:
            jobs = [await client.start_ingest_job(kb, b) for b in _batches(folder, shared)]
            if await _follow(client, kb, [job.id for job in jobs], total):
                raise typer.Exit(1)

    _run(run())


async def _follow(client: Any, kb: str, job_ids: list[str], total: int) -> int:
    """Poll the jobs, drawing progress; print failures; return how many failed."""
    done: dict[str, Any] = {}
    with typer.progressbar(length=total, label="ingesting") as bar:
        shown = 0
        while len(done) < len(job_ids):
            jobs = [done.get(i) or await client.get_job(kb, i) for i in job_ids]
            for job in jobs:
                if job.status in ("succeeded", "partial", "failed"):
                    done[job.id] = job
            progress = sum(job.succeeded + job.failed for job in jobs)
            bar.update(progress - shown)
            shown = progress
            if len(done) < len(job_ids):
                await asyncio.sleep(0.5)
    failed = 0
    for job in done.values():
        for error in job.errors:
            typer.echo(f"failed: {error.document_id or error.index}: {error.message}", err=True)
            failed += 1
    typer.echo(f"ingested {total - failed} of {total} files into {kb}")
    return failed


@kb_app.command("search")
def search(
    kb: str,
    query: str,
    top_k: Annotated[int, typer.Option(help="How many chunks.")] = 5,
    search_type: Annotated[str, typer.Option(help="hybrid, semantic or lexical.")] = "hybrid",
    filter: Annotated[str | None, typer.Option(help="A filter as JSON.")] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Search a knowledge base and print the best chunks."""

    async def run() -> None:
        async with _client(url, api_key) as client:
            found = await client.retrieve(
                kb,
                query,
                top_k=top_k,
                search_type=search_type,
                filter=json.loads(filter) if filter else None,
            )
            for chunk in found.data:
                typer.echo(f"[{chunk.score:.3f}] {chunk.document_id} #{chunk.position}")
                typer.echo(f"    {chunk.text[:300]}")

    _run(run())
