"""The platform as the benchmark runs it: ``agentic up`` in its own process, embedded defaults
(SQLite, the packaged MiniLM embedder), only the gateway and retrieval services."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.gateway import procs
from bench.gateway.targets import _agentic_command, _clean_env, generate_key

EMBEDDING_MODEL = "minilm-l6"
CONFIG = f"""models:
  - alias: {EMBEDDING_MODEL}
    kind: embedding
    capabilities: [embeddings]
    deployments:
      - provider: local
        model: all-minilm-l6-v2
"""


@dataclass
class Platform:
    server: procs.Server
    key: str

    @property
    def url(self) -> str:
        return self.server.base

    def client(self, timeout: float = 600) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + "/retrieval/v1/",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=timeout,
        )


def start(data_dir: Path, logs: Path) -> Platform:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "agentic.yaml"
    config.write_text(CONFIG)
    key = generate_key()
    port = procs.free_port()
    env = _clean_env() | {
        "AGENTIC_CONFIG_FILE": str(config),
        "AGENTIC_DATA_DIR": str(data_dir),
        "AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY": key,
        "AGENTIC_LOG_REQUESTS": "false",
        "AGENTIC_PORT": str(port),
        "AGENTIC_SERVICES": json.dumps(["llm-gateway", "retrieval"]),
    }
    server = procs.start("retrieval", [*_agentic_command(), "up"], port=port, env=env, logs=logs)
    try:
        procs.wait_ready(server, "/healthz", timeout=120)
    except BaseException:
        server.stop()
        raise
    return Platform(server, key)


def wait_for_jobs(http: httpx.Client, kb: str, job_ids: list[str]) -> list[dict[str, Any]]:
    """Poll the oldest unfinished job (jobs run in order) a few times a second, so polling
    costs the server next to nothing while it ingests."""
    finished = []
    for job_id in job_ids:
        while True:
            job = http.get(f"knowledge-bases/{kb}/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "partial", "failed"):
                finished.append(job)
                break
            time.sleep(0.2)
    return finished
