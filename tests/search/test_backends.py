"""Every search backend keeps the same contract: the in-memory one, SQLite (in the platform's
migrated database) and PostgreSQL + pgvector (a private embedded server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from agentic_platform.db.engine import create_engine
from agentic_platform.db.migrate import upgrade
from agentic_platform.search.backends.base import IndexRecord, SearchBackend, SearchQuery
from agentic_platform.search.filters import Condition, Filter

FILTER: TypeAdapter[Filter] = TypeAdapter(Filter)


def _records() -> list[IndexRecord]:
    def record(i: str, text: str, vector: list[float], **metadata: object) -> IndexRecord:
        return IndexRecord(
            id=i,
            text=text,
            vector=vector,
            metadata=dict(metadata),
            payload={"position": int(i[-1])},
            context="Animal facts",
        )

    return [
        record("r1", "Cats purr when they are content.", [1, 0, 0, 0], kind="cat", year=2020),
        record("r2", "Dogs bark at strangers.", [0, 1, 0, 0], kind="dog", year=2021),
        record("r3", "Parrots can mimic human speech.", [0, 0, 1, 0], kind="bird", year=2022),
        record("r4", "Cats and dogs can live together.", [0.7, 0.7, 0, 0], kind="mixed", year=2023),
        record("r5", "Goldfish need clean water.", [0, 0, 0, 1], kind="fish", year=2024),
    ]


@pytest.fixture(params=["memory", "sqlite", pytest.param("pgvector", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchBackend]:
    if request.param == "memory":
        from agentic_platform.search.backends.memory import MemorySearchBackend

        yield MemorySearchBackend()
        return
    if request.param == "sqlite":
        from agentic_platform.search.backends.sqlite import SqliteSearchBackend

        url = f"sqlite+aiosqlite:///{tmp_path / 'search.db'}"
        await upgrade(url)
        engine = create_engine(url)
        sqlite_backend = SqliteSearchBackend(engine)
        yield sqlite_backend
        await sqlite_backend.aclose()
        await engine.dispose()
        return
    from agentic_platform.search.backends.pgvector import PgVectorSearchBackend

    pg_backend = PgVectorSearchBackend(request.getfixturevalue("pgvector_url"))
    yield pg_backend
    await pg_backend.aclose()


@pytest.fixture
async def loaded(backend: SearchBackend) -> tuple[SearchBackend, str]:
    collection = f"c{uuid.uuid4().hex[:12]}"
    await backend.upsert(collection, _records())
    return backend, collection


async def _ids(backend: SearchBackend, collection: str, **query: object) -> list[str]:
    hits = await backend.search(collection, SearchQuery(**query))  # type: ignore[arg-type]
    return [hit.id for hit in hits]


async def test_semantic_search_ranks_by_cosine(loaded: tuple[SearchBackend, str]) -> None:
    backend, collection = loaded
    hits = await backend.search(
        collection, SearchQuery(text="", vector=[1, 0.1, 0, 0], mode="semantic", top_k=2)
    )
    assert [hit.id for hit in hits] == ["r1", "r4"]
    assert hits[0].score == pytest.approx(0.995, abs=0.01)
    assert hits[0].text == "Cats purr when they are content."
    assert hits[0].metadata == {"kind": "cat", "year": 2020}
    assert hits[0].payload == {"position": 1}


async def test_lexical_search_needs_a_shared_word(loaded: tuple[SearchBackend, str]) -> None:
    backend, collection = loaded
    found = await _ids(backend, collection, text="barking dogs", mode="lexical", top_k=5)
    assert found[0] in ("r2", "r4")
    assert set(found) == {"r2", "r4"}
    assert await _ids(backend, collection, text="zebra", mode="lexical") == []


async def test_hybrid_prefers_what_both_sides_like(loaded: tuple[SearchBackend, str]) -> None:
    backend, collection = loaded
    found = await _ids(backend, collection, text="cats and dogs", vector=[0.6, 0.8, 0, 0], top_k=3)
    assert found[0] == "r4"
    assert set(found[1:]) == {"r1", "r2"}


async def test_filters_restrict_and_top_k_still_fills(loaded: tuple[SearchBackend, str]) -> None:
    backend, collection = loaded
    after_2021 = FILTER.validate_python({"field": "year", "op": "gt", "value": 2021})
    found = await _ids(
        backend, collection, text="", vector=[1, 0, 0, 0], mode="semantic", filter=after_2021
    )
    assert found[0] == "r4"
    assert set(found) == {"r3", "r4", "r5"}
    pets = FILTER.validate_python(
        {
            "or": [
                {"field": "kind", "op": "eq", "value": "cat"},
                {"field": "kind", "op": "eq", "value": "dog"},
            ]
        }
    )
    found = await _ids(backend, collection, text="cats", vector=[1, 0, 0, 0], filter=pets)
    assert found == ["r1", "r2"]


async def test_upsert_replaces_and_delete_removes(loaded: tuple[SearchBackend, str]) -> None:
    backend, collection = loaded
    await backend.upsert(
        collection,
        [
            IndexRecord(
                id="r5",
                text="Goldfish forget quickly.",
                vector=[1, 0, 0, 0],
                metadata={"kind": "fish"},
            )
        ],
    )
    hits = await backend.search(collection, SearchQuery(text="goldfish", mode="lexical"))
    assert [(hit.id, hit.text) for hit in hits] == [("r5", "Goldfish forget quickly.")]
    assert await backend.delete(collection, ids=["r1", "nope"]) == 1
    fish = Condition(field="kind", op="eq", value="fish")
    assert await backend.delete(collection, where=fish) == 1
    remaining = await _ids(backend, collection, text="", vector=[1, 0, 0, 0], mode="semantic")
    assert set(remaining) == {"r2", "r3", "r4"}


async def test_min_score_and_isolated_collections(loaded: tuple[SearchBackend, str]) -> None:
    backend, collection = loaded
    close = await _ids(
        backend, collection, text="", vector=[1, 0, 0, 0], mode="semantic", min_score=0.5
    )
    assert close == ["r1", "r4"]
    assert await _ids(backend, "other_collection", text="cats", vector=[1, 0, 0, 0]) == []
    await backend.drop(collection)
    assert await _ids(backend, collection, text="cats", vector=[1, 0, 0, 0]) == []


async def test_replacing_most_records_keeps_answers_right(
    loaded: tuple[SearchBackend, str],
) -> None:
    backend, collection = loaded
    for round_ in range(3):  # every record replaced three times: the index compacts itself
        await backend.upsert(
            collection,
            [
                IndexRecord(id=f"r{i}", text=f"version {round_} of record {i}", vector=[1, 0, 0, i])
                for i in range(1, 6)
            ],
        )
    assert await backend.delete(collection, ids=["r1", "r2", "r3"]) == 3
    hits = await backend.search(collection, SearchQuery(text="version 2", mode="lexical", top_k=10))
    assert sorted(hit.id for hit in hits) == ["r4", "r5"]
    assert all(hit.text.startswith("version 2") for hit in hits)


async def test_the_sqlite_index_survives_a_restart(tmp_path: Path) -> None:
    from agentic_platform.search.backends.sqlite import SqliteSearchBackend

    url = f"sqlite+aiosqlite:///{tmp_path / 'search.db'}"
    await upgrade(url)
    engine = create_engine(url)
    try:
        await SqliteSearchBackend(engine).upsert("kb", _records())
        restarted = SqliteSearchBackend(engine)
        hits = await restarted.search(
            "kb", SearchQuery(text="parrots", vector=[0, 0, 1, 0], top_k=1)
        )
        assert [(hit.id, hit.metadata, hit.payload) for hit in hits] == [
            ("r3", {"kind": "bird", "year": 2022}, {"position": 3})
        ]
    finally:
        await engine.dispose()


async def test_fetch_reads_records_by_id_and_skips_missing_ones(
    loaded: tuple[SearchBackend, str],
) -> None:
    backend, collection = loaded
    hits = await backend.fetch(collection, ["r1", "nope", "r4"])
    assert sorted(hit.id for hit in hits) == ["r1", "r4"]
    first = next(hit for hit in hits if hit.id == "r1")
    assert first.text == "Cats purr when they are content."
    assert first.payload == {"position": 1} and first.metadata == {"kind": "cat", "year": 2020}
    assert await backend.fetch(collection, []) == []
    assert await backend.fetch("never-written", ["r1"]) == []
    await backend.delete(collection, ids=["r1"])
    assert [hit.id for hit in await backend.fetch(collection, ["r1", "r4"])] == ["r4"]
