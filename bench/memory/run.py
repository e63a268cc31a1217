"""``python -m bench.memory``: LoCoMo through the memory gateway, over HTTP, as users would.

1. Start the platform as a user does (``agentic up``: every service, SQLite, the packaged
   embedder; extraction off unless ``--extraction-model`` names one).
2. One user per conversation; each LoCoMo session becomes a memory session, loaded turn by
   turn (the seven users type at the same time), timing every append.
3. Wait until the background worker has indexed (and, if on, extracted) every turn.
4. Ask every question (category 5 excluded) as its conversation's user, top 10, timing every
   search; score the evidence turns covered by the results' sources.
5. Append throughput: 16 writers appending at once, while the worker indexes behind them.
6. The raw-turn baselines (BM25, dense, RRF) on the same questions, in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from bench.gateway import procs
from bench.gateway.machine import OtherLoad, wait_until_quiet
from bench.memory import baselines, freshness, locomo, report
from bench.memory.report import Result, Timings

BENCH_DIR = Path(__file__).resolve().parents[1]
REPO = BENCH_DIR.parent
THROUGHPUT_WRITERS = 16


def _command() -> list[str]:
    beside = Path(sys.executable).with_name("agentic")
    if not beside.exists():
        raise RuntimeError("the `agentic` command is not installed: run `uv sync` first")
    return [str(beside)]


def start_platform(
    work: Path,
    logs: Path,
    extraction_model: str | None,
    settings: list[str],
    config: Path | None = None,
) -> tuple[procs.Server, str]:
    key = "agp_" + secrets.token_urlsafe(32)
    port = procs.free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AGENTIC_")}
    env |= {
        "AGENTIC_DATA_DIR": str(work / "data"),
        "AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY": key,
        "AGENTIC_LOG_REQUESTS": "false",
        "AGENTIC_LOG_LEVEL": "warning",
        "AGENTIC_HOST": "127.0.0.1",
        "AGENTIC_PORT": str(port),
        "AGENTIC_MEMORY__EXTRACTION_MODEL": extraction_model or "none",
    }
    for setting in settings:
        name, _, value = setting.partition("=")
        env[f"AGENTIC_MEMORY__{name.upper()}"] = value
    if config is not None:
        env["AGENTIC_CONFIG_FILE"] = str(config.resolve())
    server = procs.start("memory-platform", [*_command(), "up"], port=port, env=env, logs=logs)
    try:
        procs.wait_ready(server, "/healthz", timeout=120)
    except BaseException:
        server.stop()
        raise
    return server, key


class Bench:
    """The users, sessions and message ids of one run, and its timings."""

    def __init__(self, base: str, admin_key: str, pace: float) -> None:
        self.base = base
        self.interval = 1 / pace if pace > 0 else 0.0
        self.admin_key = admin_key
        self.keys: dict[str, str] = {}
        self.sessions: dict[str, list[str]] = defaultdict(list)
        self.dia_ids: dict[str, str] = {}
        self.appends: list[float] = []
        self.searches: list[float] = []
        self.freshness: list[float] = []
        """Append-to-searchable seconds of the probes run during the throughput load."""

    def client(self, key: str) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=THROUGHPUT_WRITERS)
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=120, limits=limits)

    async def user(self, name: str) -> str:
        async with self.client(self.admin_key) as admin:
            principal = (await admin.post("/admin/v1/principals", json={"name": name})).json()
            issued = await admin.post("/admin/v1/keys", json={"principal_id": principal["id"]})
        return str(issued.json()["secret"])

    async def load(self, conversation: locomo.Conversation) -> None:
        """Every session, turn by turn, as one user typing."""
        key = self.keys[conversation.sample_id]
        async with self.client(key) as http:
            for number, turns in enumerate(conversation.sessions, start=1):
                meta = {"locomo": conversation.sample_id, "session": number}
                created = await http.post(
                    "/memory/v1/sessions", json={"agent_id": "locomo", "metadata": meta}
                )
                session = created.json()["id"]
                self.sessions[conversation.sample_id].append(session)
                for turn in turns:
                    started = time.perf_counter()
                    await self._append(http, session, turn)
                    rest = self.interval - (time.perf_counter() - started)
                    if rest > 0:
                        await asyncio.sleep(rest)

    async def _append(self, http: httpx.AsyncClient, session: str, turn: locomo.Turn) -> None:
        body = {
            "role": "user",
            "name": turn.speaker,
            "content": turn.text,
            "occurred_at": turn.when.isoformat(),
        }
        started = time.perf_counter()
        response = await http.post(f"/memory/v1/sessions/{session}/messages", json=body)
        self.appends.append(time.perf_counter() - started)
        response.raise_for_status()
        self.dia_ids[response.json()["id"]] = turn.dia_id

    async def settled(self, extraction: bool, max_wait: float) -> float:
        """Seconds until every session is indexed (and extracted); polls the status API with
        one client per user (a new client per request would cost more than the polling)."""
        started = time.perf_counter()
        clients = {sample_id: self.client(key) for sample_id, key in self.keys.items()}
        waiting = {(sid, s) for sid, ids in self.sessions.items() for s in ids}
        try:
            while waiting and time.perf_counter() - started < max_wait:
                for sample_id, session in list(waiting):
                    response = await clients[sample_id].get(
                        f"/memory/v1/sessions/{session}/extraction"
                    )
                    status = response.json()
                    done = status["indexed_through"] >= status["last_position"]
                    if extraction:
                        done = done and status["pending_turns"] == 0
                    if done:
                        waiting.discard((sample_id, session))
                if waiting:
                    await asyncio.sleep(0.5)
        finally:
            for client in clients.values():
                await client.aclose()
        if waiting:
            raise RuntimeError(f"{len(waiting)} sessions not processed after {max_wait} s")
        return time.perf_counter() - started

    async def extraction_outcome(self) -> tuple[int, int, int]:
        """(memories stored, sessions, sessions whose latest extraction run failed)."""
        memories = sessions = failed = 0
        for sample_id, key in self.keys.items():
            async with self.client(key) as http:
                page = await http.get("/memory/v1/memories", params={"limit": 1000})
                memories += len(page.json()["data"])
                for session in self.sessions[sample_id]:
                    status = await http.get(f"/memory/v1/sessions/{session}/extraction")
                    sessions += 1
                    failed += status.json()["status"] == "failed"
        return memories, sessions, failed

    async def ask(self, conversation: locomo.Conversation) -> list[tuple[locomo.Question, float]]:
        scores = []
        async with self.client(self.keys[conversation.sample_id]) as http:
            await http.post("/memory/v1/memories/search", json={"query": "warm up"})
            for question in conversation.questions:
                started = time.perf_counter()
                response = await http.post(
                    "/memory/v1/memories/search", json={"query": question.text, "top_k": 10}
                )
                self.searches.append(time.perf_counter() - started)
                response.raise_for_status()
                found = {
                    self.dia_ids.get(source["message_id"], "")
                    for hit in response.json()["data"]
                    for source in hit["sources"]
                }
                scores.append((question, locomo.coverage(question, found)))
        return scores

    async def throughput(self, total: int) -> Timings:
        """``total`` appends from concurrent writers, each on its own session."""
        key = await self.user("throughput")
        latencies: list[float] = []
        async with self.client(key) as http:
            sessions = [
                (await http.post("/memory/v1/sessions", json={"agent_id": "load"})).json()["id"]
                for _ in range(THROUGHPUT_WRITERS)
            ]

            async def writer(session: str, count: int) -> None:
                for i in range(count):
                    body = {"role": "user", "content": f"Load test message number {i} here."}
                    started = time.perf_counter()
                    response = await http.post(f"/memory/v1/sessions/{session}/messages", json=body)
                    latencies.append(time.perf_counter() - started)
                    response.raise_for_status()

            probe = (await http.post("/memory/v1/sessions", json={"agent_id": "probe"})).json()
            loading = asyncio.Event()
            loading.set()
            probing = asyncio.create_task(freshness.probe_while(http, probe["id"], loading))
            started = time.perf_counter()
            share = total // THROUGHPUT_WRITERS
            await asyncio.gather(*(writer(session, share) for session in sessions))
            elapsed = time.perf_counter() - started
            loading.clear()
            self.freshness = await probing
        return Timings(latencies, elapsed)


async def measure(
    bench: Bench, conversations: list[locomo.Conversation], args: argparse.Namespace
) -> Result:
    for conversation in conversations:
        bench.keys[conversation.sample_id] = await bench.user(conversation.sample_id)
    load_other = OtherLoad().start()
    started = time.perf_counter()
    await asyncio.gather(*(bench.load(c) for c in conversations))
    load_seconds = time.perf_counter() - started
    load_cores = load_other.cores()
    print(f"loaded {len(bench.appends)} turns in {load_seconds:.1f} s", flush=True)
    settle = await bench.settled(args.extraction_model is not None, args.max_wait)
    print(f"indexed{' and extracted' if args.extraction_model else ''} {settle:.1f} s later")
    extracted = await bench.extraction_outcome() if args.extraction_model else None
    search_other = OtherLoad().start()
    scores = []
    for conversation in conversations:
        scores.extend(await bench.ask(conversation))
    search_cores = search_other.cores()
    appends_under_load = await bench.throughput(args.throughput) if args.throughput else None
    by_conversation: dict[str, list[float]] = defaultdict(list)
    for conversation in conversations:
        by_conversation[conversation.sample_id] = [
            s for q, s in scores if q in set(conversation.questions)
        ]
    return Result(
        scores=scores,
        by_conversation=dict(by_conversation),
        appends=Timings(bench.appends, load_seconds),
        searches=Timings(bench.searches, sum(bench.searches)),
        throughput=appends_under_load,
        freshness=bench.freshness,
        settle_seconds=settle,
        other_cores={"load": load_cores, "search": search_cores},
        extracted=extracted,
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extraction-model", default=None, help="e.g. smollm2-135m (off)")
    parser.add_argument("--conversations", nargs="*", help="only these sample ids")
    parser.add_argument(
        "--memory",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a memory setting for the platform, e.g. extraction_max_attempts=1",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="a settings file for the platform (AGENTIC_CONFIG_FILE), e.g. a catalog with "
        "another extraction model",
    )
    parser.add_argument("--throughput", type=int, default=3200, help="appends (0: skip)")
    parser.add_argument(
        "--pace", type=float, default=10, help="turns/s per user while loading (0: flat out)"
    )
    parser.add_argument("--no-baselines", action="store_true", help="skip BM25/dense/RRF")
    parser.add_argument("--max-wait", type=float, default=7200, help="seconds to settle")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        help="first wait up to this many seconds for other processes to go quiet",
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch the docs")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    conversations = locomo.load(only=set(args.conversations) if args.conversations else None)
    logs = BENCH_DIR / "results"
    logs.mkdir(exist_ok=True)
    if args.wait_quiet:
        wait_until_quiet(args.wait_quiet)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        server, key = start_platform(
            Path(tmp), logs, args.extraction_model, args.memory, args.config
        )
        try:
            bench = Bench(server.base, key, args.pace)
            result = asyncio.run(measure(bench, conversations, args))
        finally:
            server.stop()
    if not args.no_baselines:
        result.baselines = baselines.run(conversations)
    command = "python -m bench.memory " + " ".join(sys.argv[1:])
    result.pace = args.pace
    text = report.section(result, conversations, args.extraction_model, command.strip())
    print(text)
    if not args.no_write:
        report.write(args.out, text, args.extraction_model)
