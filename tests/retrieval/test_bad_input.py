"""Every kind of bad input is a clear 4xx in the platform's error envelope."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from retrieval_harness import SERVICES, retrieval_settings

from agentic_platform.app import create_app
from agentic_platform.testing.server import serve_in_thread

DOCUMENT_LIMIT = 2000


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[httpx.Client]:
    settings = retrieval_settings(
        tmp_path_factory.mktemp("bad") / "data",
        admin_key,
        max_document_bytes=DOCUMENT_LIMIT,
        max_documents_per_request=5,
    )
    with serve_in_thread(create_app(settings, SERVICES)) as url:
        headers = {"Authorization": f"Bearer {admin_key}"}
        with httpx.Client(base_url=url + "/retrieval/v1/", headers=headers) as client:
            assert client.post("knowledge-bases", json={"name": "kb"}).status_code == 201
            ingest(client, {"id": "one", "text": "Some text.", "metadata": {"year": 2024}})
            yield client


def ingest(client: httpx.Client, *documents: dict[str, Any]) -> httpx.Response:
    return client.post("knowledge-bases/kb/documents", json={"documents": list(documents)})


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    return error


def test_an_unsupported_file_type(http: httpx.Client) -> None:
    document = {
        "content_base64": base64.b64encode(b"PK\x03\x04").decode(),
        "content_type": "application/zip",
    }
    error = error_of(ingest(http, document), 400)
    assert error["code"] == "unsupported_content_type"
    assert "documents[0]" in error["message"] and "text/markdown" in error["message"]


def test_an_unreadable_pdf(http: httpx.Client) -> None:
    document = {
        "content_base64": base64.b64encode(b"%PDF-1.7\nnot really a pdf").decode(),
        "content_type": "application/pdf",
    }
    assert error_of(ingest(http, document), 400)["code"] == "unreadable_document"


def test_an_empty_document(http: httpx.Client) -> None:
    assert error_of(ingest(http, {"text": " \n\t "}), 400)["code"] == "empty_document"
    assert (
        error_of(
            ingest(
                http, {"text": "<html><script>x()</script></html>", "content_type": "text/html"}
            ),
            400,
        )["code"]
        == "empty_document"
    )


def test_bad_base64_and_both_contents(http: httpx.Client) -> None:
    assert error_of(ingest(http, {"content_base64": "***"}), 400)["code"] == "bad_content"
    both = error_of(ingest(http, {"text": "a", "content_base64": "YQ=="}), 400)
    assert both["param"] == "documents.0"


def test_an_oversized_document_and_an_oversized_body(http: httpx.Client) -> None:
    too_big = error_of(ingest(http, {"text": "x " * DOCUMENT_LIMIT}), 413)
    assert too_big["code"] == "payload_too_large"
    body = error_of(ingest(http, *[{"text": "y" * 20_000}] * 4), 413)  # over the 64 KiB body limit
    assert body["code"] == "payload_too_large"
    many = error_of(ingest(http, *[{"text": "z"}] * 6), 400)
    assert "jobs" in many["message"]


@pytest.mark.parametrize(
    ("bad_filter", "param"),
    [
        ({"field": "year", "op": "around", "value": 1}, "filter.condition.op"),
        ({"field": "year", "op": "in", "value": 2024}, "filter.condition"),
        ({"and": {"field": "year"}}, "filter.and.and"),
        ("year = 2024", "filter"),
    ],
)
def test_a_malformed_filter(http: httpx.Client, bad_filter: Any, param: str) -> None:
    response = http.post(
        "knowledge-bases/kb/retrieve", json={"query": "text", "filter": bad_filter}
    )
    error = error_of(response, 400)
    assert error["param"].startswith(param)


def test_an_unknown_field_in_a_filter(http: httpx.Client) -> None:
    response = http.post(
        "knowledge-bases/kb/retrieve",
        json={"query": "text", "filter": {"field": "colour", "op": "eq", "value": "red"}},
    )
    error = error_of(response, 400)
    assert error["code"] == "unknown_filter_field"
    assert "colour" in error["message"] and "year" in error["message"]


def test_an_unknown_knowledge_base(http: httpx.Client) -> None:
    for response in (
        http.post("knowledge-bases/nope/retrieve", json={"query": "x"}),
        http.get("knowledge-bases/nope"),
        http.delete("knowledge-bases/nope"),
        http.post("knowledge-bases/nope/documents", json={"documents": [{"text": "x"}]}),
        http.post("retrieve", json={"query": "x", "knowledge_bases": ["kb", "nope"]}),
    ):
        assert error_of(response, 404)["code"] == "not_found"
    assert error_of(http.get("knowledge-bases/kb/jobs/job_nope"), 404)["code"] == "not_found"
    assert error_of(http.get("knowledge-bases/kb/documents/nope"), 404)["code"] == "not_found"


def test_malformed_requests(http: httpx.Client) -> None:
    assert (
        error_of(http.post("knowledge-bases/kb/retrieve", content=b"{"), 400)["code"]
        == "invalid_json"
    )
    assert (
        error_of(http.post("knowledge-bases/kb/retrieve", json={"query": ""}), 400)["param"]
        == "query"
    )
    assert (
        error_of(http.post("knowledge-bases/kb/retrieve", json={"query": "x", "top_k": 5000}), 400)[
            "param"
        ]
        == "top_k"
    )
    assert (
        error_of(http.post("knowledge-bases", json={"name": "bad name!"}), 400)["param"] == "name"
    )
    unknown_model = http.post("knowledge-bases", json={"name": "m", "embedding_model": "nope"})
    assert error_of(unknown_model, 404)["code"] == "model_not_found"
    chat_model = http.post("knowledge-bases", json={"name": "m", "embedding_model": "echo"})
    assert error_of(chat_model, 404)["param"] == "embedding_model"
    unconfigured = http.post("knowledge-bases", json={"name": "m", "backend": "pgvector"})
    assert error_of(unconfigured, 400)["code"] == "backend_unavailable"


HUGE = "1" + "0" * 400  # 10**400: an integer beyond 64 bits, a float beyond float64


def post_raw(client: httpx.Client, path: str, body: str) -> httpx.Response:
    return client.post(path, content=body.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (HUGE, "64 bits"),
        (str(2**63), "64 bits"),
        (str(-(2**63) - 1), "64 bits"),
        ("1e400", "finite"),
        ("-1e400", "finite"),
        (f"[1, {HUGE}]", "64 bits"),
    ],
)
def test_a_filter_number_no_backend_holds(http: httpx.Client, value: str, says: str) -> None:
    op = "in" if value.startswith("[") else "gt"
    body = f'{{"query": "text", "filter": {{"field": "year", "op": "{op}", "value": {value}}}}}'
    error = error_of(post_raw(http, "knowledge-bases/kb/retrieve", body), 400)
    assert error["param"] == "filter.condition" and says in error["message"]
    many = post_raw(http, "retrieve", body[:-1] + ', "knowledge_bases": ["kb"]}')
    assert says in error_of(many, 400)["message"]


def test_the_largest_numbers_that_fit_still_filter(http: httpx.Client) -> None:
    for value in (str(2**63 - 1), str(-(2**63)), "1.7e308"):
        body = f'{{"query": "text", "filter": {{"field": "year", "op": "lt", "value": {value}}}}}'
        response = post_raw(http, "knowledge-bases/kb/retrieve", body)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("value", [HUGE, str(2**63), "1e400"])
def test_a_metadata_number_no_backend_holds(http: httpx.Client, value: str) -> None:
    body = f'{{"documents": [{{"id": "n", "text": "x", "metadata": {{"n": {value}}}}}]}}'
    for path in ("knowledge-bases/kb/documents", "knowledge-bases/kb/jobs"):
        error = error_of(post_raw(http, path, body), 400)
        assert error["param"] == "documents.0.metadata" and "'n'" in error["message"]


@pytest.mark.parametrize("top_k", [str(2**63), "1e20", HUGE, "0", "-1", "2.5"])
def test_a_top_k_out_of_range(http: httpx.Client, top_k: str) -> None:
    for path, extra in (
        ("knowledge-bases/kb/retrieve", ""),
        ("retrieve", ', "knowledge_bases": ["kb"]'),
    ):
        body = f'{{"query": "text", "top_k": {top_k}{extra}}}'
        assert error_of(post_raw(http, path, body), 400)["param"] == "top_k"


@pytest.mark.parametrize("min_score", ["1e400", "-1e400", "NaN", "Infinity"])
def test_a_min_score_that_is_not_a_finite_number(http: httpx.Client, min_score: str) -> None:
    body = f'{{"query": "text", "min_score": {min_score}}}'
    error = error_of(post_raw(http, "knowledge-bases/kb/retrieve", body), 400)
    assert error["param"] == "min_score"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": str(2**63)},
        {"limit": "1e20"},
        {"limit": HUGE},
        {"limit": "0"},
        {"after": "x" * 201},
    ],
)
def test_a_document_page_out_of_range(http: httpx.Client, params: dict[str, str]) -> None:
    response = http.get("knowledge-bases/kb/documents", params=params)
    assert error_of(response, 400)["param"] == next(iter(params))


@pytest.mark.parametrize(
    "chunking",
    [f'{{"chunk_tokens": {2**63}}}', '{"chunk_tokens": 1e20}', f'{{"overlap_tokens": {HUGE}}}'],
)
def test_chunking_numbers_out_of_range(http: httpx.Client, chunking: str) -> None:
    body = f'{{"name": "huge", "chunking": {chunking}}}'
    assert error_of(post_raw(http, "knowledge-bases", body), 400)["param"].startswith("chunking")
