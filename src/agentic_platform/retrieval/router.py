"""HTTP routes of the retrieval gateway under ``/retrieval/v1``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from agentic_platform.auth.principal import Principal
from agentic_platform.dependencies import current_principal, platform
from agentic_platform.errors import InvalidRequestError, ServiceUnavailableError
from agentic_platform.retrieval import examples
from agentic_platform.retrieval.models import KnowledgeBaseRow
from agentic_platform.retrieval.schemas import (
    Document,
    DocumentList,
    IngestJob,
    IngestRequest,
    IngestResponse,
    KnowledgeBase,
    KnowledgeBaseCreate,
    KnowledgeBaseList,
    MultiRetrieveRequest,
    RetrieveRequest,
    RetrieveResponse,
)
from agentic_platform.retrieval.service import RetrievalService
from agentic_platform.telemetry.spans import ingestion_span, retrieval_span
from agentic_platform.web.bodies import body_schema, json_response, parse_body

M = TypeVar("M", bound=BaseModel)

router = APIRouter(prefix="/retrieval/v1", tags=["retrieval"])


def retrieval_service(request: Request) -> RetrievalService:
    service = platform(request).retrieval
    if service is None:
        raise ServiceUnavailableError("The retrieval gateway is not running in this process.")
    return service


Caller = Annotated[Principal, Depends(current_principal)]
Service = Annotated[RetrievalService, Depends(retrieval_service)]


async def _search(
    request: Request,
    service: RetrievalService,
    caller: Principal,
    rows: Sequence[KnowledgeBaseRow],
    body: RetrieveRequest,
) -> RetrieveResponse:
    state = platform(request)
    with retrieval_span(state, [row.id for row in rows], body.search_type, body.top_k) as span:
        found = await service.searcher.search(caller, rows, body)
        span.set_attribute("agentic.retrieval.results", len(found.chunks))
    return RetrieveResponse(
        search_type=body.search_type,
        data=found.chunks,
        documents=found.documents,
        reranked_by=found.reranked_by,
    )


def _deleted(kind: str, identifier: str) -> Response:
    body = f'{{"id":"{identifier}","object":"{kind}.deleted","deleted":true}}'
    return Response(body, media_type="application/json")


@router.post(
    "/knowledge-bases",
    status_code=201,
    response_model=KnowledgeBase,
    openapi_extra=body_schema(KnowledgeBaseCreate, examples.KNOWLEDGE_BASE),
    summary="Create a knowledge base owned by the caller's team.",
)
async def create_knowledge_base(request: Request, caller: Caller, service: Service) -> Response:
    body = await parse_body(request, KnowledgeBaseCreate)
    return json_response(await service.knowledge_bases.create(caller, body), 201)


@router.get("/knowledge-bases", response_model=KnowledgeBaseList, summary="List knowledge bases.")
async def list_knowledge_bases(caller: Caller, service: Service) -> Response:
    return json_response(KnowledgeBaseList(data=await service.knowledge_bases.list(caller)))


@router.get("/knowledge-bases/{kb}", response_model=KnowledgeBase, summary="A knowledge base.")
async def get_knowledge_base(kb: str, caller: Caller, service: Service) -> Response:
    from agentic_platform.retrieval.service import to_knowledge_base

    return json_response(to_knowledge_base(await service.knowledge_bases.find(caller, kb)))


@router.delete("/knowledge-bases/{kb}", summary="Delete a knowledge base and its documents.")
async def delete_knowledge_base(kb: str, caller: Caller, service: Service) -> Response:
    row = await service.knowledge_bases.find(caller, kb)
    await service.jobs.cancel(row.id)
    await service.knowledge_bases.delete(row)
    return _deleted("knowledge_base", row.id)


@router.post(
    "/knowledge-bases/{kb}/documents",
    response_model=IngestResponse,
    openapi_extra=body_schema(IngestRequest, examples.INGEST),
    summary="Ingest documents now (small batches; use jobs for large ones).",
)
async def ingest_documents(kb: str, request: Request, caller: Caller, service: Service) -> Response:
    body = await parse_body(request, IngestRequest)
    limit = service.settings.max_documents_per_request
    if len(body.documents) > limit:
        raise InvalidRequestError(
            f"At most {limit} documents per request; send larger batches as a job "
            f"(POST .../knowledge-bases/{kb}/jobs).",
            param="documents",
        )
    row = await service.knowledge_bases.find(caller, kb)
    with ingestion_span(platform(request), row.id, len(body.documents), job=False):
        prepared = await service.documents.prepare_all(row, body.documents)
        results = await service.documents.ingest(caller, row, prepared)
    return json_response(IngestResponse(data=results))


@router.get(
    "/knowledge-bases/{kb}/documents", response_model=DocumentList, summary="List documents."
)
async def list_documents(
    kb: str,
    caller: Caller,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    row = await service.knowledge_bases.find(caller, kb)
    return json_response(await service.documents.list(row, limit=limit, after=after))


@router.get(
    "/knowledge-bases/{kb}/documents/{document_id:path}",
    response_model=Document,
    summary="A document.",
)
async def get_document(kb: str, document_id: str, caller: Caller, service: Service) -> Response:
    row = await service.knowledge_bases.find(caller, kb)
    return json_response(await service.documents.get(row, document_id))


@router.delete("/knowledge-bases/{kb}/documents/{document_id:path}", summary="Delete a document.")
async def delete_document(kb: str, document_id: str, caller: Caller, service: Service) -> Response:
    row = await service.knowledge_bases.find(caller, kb)
    await service.documents.delete(row, document_id)
    return _deleted("document", document_id)


@router.post(
    "/knowledge-bases/{kb}/jobs",
    status_code=202,
    response_model=IngestJob,
    openapi_extra=body_schema(IngestRequest, examples.INGEST),
    summary="Ingest a large batch in the background; poll the job for its status.",
)
async def start_job(kb: str, request: Request, caller: Caller, service: Service) -> Response:
    body = await parse_body(request, IngestRequest)
    row = await service.knowledge_bases.find(caller, kb)
    with ingestion_span(platform(request), row.id, len(body.documents), job=True):
        job = await service.jobs.start(caller, row, body.documents)
    return json_response(job, 202)


@router.get(
    "/knowledge-bases/{kb}/jobs/{job_id}", response_model=IngestJob, summary="An ingest job."
)
async def get_job(kb: str, job_id: str, caller: Caller, service: Service) -> Response:
    row = await service.knowledge_bases.find(caller, kb)
    return json_response(await service.jobs.get(row, job_id))


@router.post(
    "/knowledge-bases/{kb}/retrieve",
    response_model=RetrieveResponse,
    openapi_extra=body_schema(RetrieveRequest, examples.RETRIEVE),
    summary="Search a knowledge base (hybrid by default).",
)
async def retrieve(kb: str, request: Request, caller: Caller, service: Service) -> Response:
    body = await parse_body(request, RetrieveRequest)
    row = await service.knowledge_bases.find(caller, kb)
    return json_response(await _search(request, service, caller, [row], body))


@router.post(
    "/retrieve",
    response_model=RetrieveResponse,
    openapi_extra=body_schema(MultiRetrieveRequest, examples.RETRIEVE_MANY),
    summary="Search several knowledge bases at once; results merged by score.",
)
async def retrieve_many(request: Request, caller: Caller, service: Service) -> Response:
    body = await parse_body(request, MultiRetrieveRequest)
    rows = [await service.knowledge_bases.find(caller, kb) for kb in body.knowledge_bases]
    return json_response(await _search(request, service, caller, rows, body))
