"""One filter grammar: parsed strictly, checked against known fields, and meaning the same
thing as a Python predicate, as SQLite SQL and as PostgreSQL SQL."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from agentic_platform.errors import InvalidRequestError
from agentic_platform.search.filters import (
    Filter,
    check_filter,
    to_postgres,
    to_predicate,
    to_sqlite,
)

FILTER: TypeAdapter[Filter] = TypeAdapter(Filter)

RECORDS: list[dict[str, Any]] = [
    {"year": 2020, "topic": "cats", "tags": ["pets", "animals"], "score": 0.5, "draft": False},
    {"year": 2021, "topic": "dogs", "tags": ["pets"], "score": 1, "draft": True},
    {"year": 2024, "topic": "catalogue", "tags": [], "score": 2.5},
    {"year": "2022", "topic": "Cats", "tags": ["animals", 7]},
    {"topic": "birds", "draft": False, "year": 1},
    {},
]

CASES: list[tuple[dict[str, Any], list[int]]] = [
    ({"field": "year", "op": "eq", "value": 2020}, [0]),
    ({"field": "year", "op": "eq", "value": 2020.0}, [0]),
    ({"field": "year", "op": "eq", "value": "2022"}, [3]),
    ({"field": "year", "op": "neq", "value": 2020}, [1, 2, 3, 4, 5]),
    ({"field": "year", "op": "gt", "value": 2020}, [1, 2]),
    ({"field": "year", "op": "gte", "value": 2021}, [1, 2]),
    ({"field": "year", "op": "lt", "value": 2021}, [0, 4]),
    ({"field": "year", "op": "lte", "value": 2021}, [0, 1, 4]),
    ({"field": "topic", "op": "gt", "value": "cats"}, [1]),
    ({"field": "topic", "op": "lt", "value": "birds"}, [3]),
    ({"field": "score", "op": "eq", "value": 1}, [1]),
    ({"field": "draft", "op": "eq", "value": False}, [0, 4]),
    ({"field": "draft", "op": "eq", "value": True}, [1]),
    ({"field": "draft", "op": "neq", "value": True}, [0, 2, 3, 4, 5]),
    ({"field": "topic", "op": "contains", "value": "at"}, [0, 2, 3]),
    ({"field": "tags", "op": "contains", "value": "pets"}, [0, 1]),
    ({"field": "tags", "op": "contains", "value": 7}, [3]),
    ({"field": "topic", "op": "starts_with", "value": "cat"}, [0, 2]),
    ({"field": "topic", "op": "in", "value": ["cats", "dogs", "fish"]}, [0, 1]),
    ({"field": "year", "op": "in", "value": [2020, "2022"]}, [0, 3]),
    ({"field": "topic", "op": "not_in", "value": ["cats", "dogs"]}, [2, 3, 4, 5]),
    (
        {
            "and": [
                {"field": "tags", "op": "contains", "value": "pets"},
                {
                    "or": [
                        {"field": "year", "op": "gte", "value": 2021},
                        {"field": "draft", "op": "eq", "value": False},
                    ]
                },
            ]
        },
        [0, 1],
    ),
    (
        {
            "or": [
                {"field": "missing", "op": "eq", "value": 1},
                {"field": "year", "op": "eq", "value": 1},
            ]
        },
        [4],
    ),
]


def _sqlite_matches(node: Filter) -> list[int]:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE records (position INTEGER, metadata TEXT)")
    connection.executemany(
        "INSERT INTO records VALUES (?, ?)",
        [(i, json.dumps(record)) for i, record in enumerate(RECORDS)],
    )
    sql, params = to_sqlite(node)
    rows = connection.execute(
        f"SELECT position FROM records WHERE {sql} ORDER BY position",  # noqa: S608
        params,
    )
    return [row[0] for row in rows]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_python_and_sqlite_agree_with_the_documented_meaning(
    raw: dict[str, Any], expected: list[int]
) -> None:
    node = FILTER.validate_python(raw)
    holds = to_predicate(node)
    assert [i for i, record in enumerate(RECORDS) if holds(record)] == expected
    assert _sqlite_matches(node) == expected


@pytest.mark.postgres
def test_postgresql_agrees_on_every_case(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    import asyncpg

    async def run() -> list[list[int]]:
        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            await connection.execute("CREATE TEMP TABLE records (position int, metadata jsonb)")
            await connection.executemany(
                "INSERT INTO records VALUES ($1, $2::jsonb)",
                [(i, json.dumps(record)) for i, record in enumerate(RECORDS)],
            )
            found = []
            for raw, _ in CASES:
                sql, params = to_postgres(FILTER.validate_python(raw))
                rows = await connection.fetch(
                    f"SELECT position FROM records WHERE {sql} ORDER BY position",  # noqa: S608
                    *params,
                )
                found.append([row["position"] for row in rows])
            return found
        finally:
            await connection.close()

    assert asyncio.run(run()) == [expected for _, expected in CASES]


@pytest.mark.parametrize(
    "raw",
    [
        {"field": "year", "op": "like", "value": 1},
        {"field": "year", "op": "eq"},
        {"field": "year", "op": "eq", "value": [1, 2]},
        {"field": "year", "op": "in", "value": 1},
        {"field": "year", "op": "in", "value": []},
        {"field": "year", "op": "gt", "value": True},
        {"field": "year", "op": "starts_with", "value": 1},
        {"field": "year", "op": "eq", "value": {"nested": 1}},
        {"field": "bad name", "op": "eq", "value": 1},
        {"field": "year", "op": "eq", "value": 1, "extra": 1},
        {"and": []},
        {"and": [{"field": "year", "op": "eq", "value": 1}], "or": []},
        {"not": {"field": "year", "op": "eq", "value": 1}},
    ],
)
def test_malformed_filters_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FILTER.validate_python(raw)


def test_unknown_fields_are_named() -> None:
    node = FILTER.validate_python(
        {
            "and": [
                {"field": "year", "op": "eq", "value": 1},
                {"field": "colour", "op": "eq", "value": "red"},
            ]
        }
    )
    check_filter(node, {"year", "colour"})
    with pytest.raises(InvalidRequestError) as caught:
        check_filter(node, {"year"})
    assert caught.value.code == "unknown_filter_field"
    assert "colour" in caught.value.message


def test_nesting_is_bounded() -> None:
    raw: dict[str, Any] = {"field": "year", "op": "eq", "value": 1}
    for _ in range(9):
        raw = {"and": [raw]}
    with pytest.raises(InvalidRequestError, match="deeper"):
        check_filter(FILTER.validate_python(raw), {"year"})
