"""The platform's one settings tree.

Values come from (highest first) ``AGENTIC_*`` environment variables (nested with ``__``,
e.g. ``AGENTIC_GATEWAY__MAX_BODY_BYTES``), then the optional YAML file named by
``AGENTIC_CONFIG_FILE`` (the natural home of the model catalog), then the defaults below.
Settings are read once, by the CLI, and passed down; nothing else reads the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from agentic_platform.agents.tools.mcp.settings import McpServerSettings
from agentic_platform.auth.oidc_settings import OIDCSettings
from agentic_platform.console.settings import ConsoleSettings
from agentic_platform.errors import ConfigurationError
from agentic_platform.llm_gateway.breaker import CooldownSettings
from agentic_platform.llm_gateway.catalog import ModelEntry, default_models
from agentic_platform.telemetry.settings import TelemetrySettings

ServiceName = Literal["llm-gateway", "memory", "retrieval", "agents", "console"]
ALL_SERVICES: tuple[ServiceName, ...] = ("llm-gateway", "memory", "retrieval", "agents", "console")


class GatewaySettings(BaseModel):
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest request body accepted (bytes)."
    )
    retry_backoff_seconds: float = Field(
        default=0.25, ge=0, description="Base of the jittered exponential backoff between retries."
    )
    retry_backoff_max_seconds: float = Field(
        default=8.0, ge=0, description="Longest single wait between retries (Retry-After included)."
    )
    cooldown: CooldownSettings = Field(
        default_factory=CooldownSettings,
        description="When a deployment that keeps failing is skipped, and for how long.",
    )


class AuthSettings(BaseModel):
    bootstrap_admin_key: SecretStr | None = Field(
        default=None,
        description="An admin key to install at start-up (from a secret store); when unset, "
        "the first start creates one and writes it to <data_dir>/admin.key.",
    )
    service_key: SecretStr | None = Field(
        default=None,
        description="The key platform services use to call each other on a user's behalf "
        "(the same value in every Deployment, from a secret). When unset, the first start "
        "creates one and writes it to <data_dir>/service.key.",
    )


class LimitsSettings(BaseModel):
    url: str = Field(
        default="memory://",
        description="Where rate-limit, concurrency and budget counters live: memory:// (one "
        "replica) or redis://host:6379/0 (shared by every replica).",
    )
    on_backend_error: Literal["fail_closed", "fail_open", "local"] = Field(
        default="fail_closed",
        description="While Redis is unreachable: refuse requests (503), admit them unchecked, "
        "or enforce limits per replica in memory.",
    )
    socket_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How long a counter operation may wait for Redis (a saturated event loop "
        "adds its own delay: too short a timeout turns load into false outages).",
    )
    concurrency_lease_seconds: float = Field(
        default=900,
        gt=0,
        description="A principal's concurrent-request counter ends this long after its last "
        "admission, so slots that were never released (a replica crashed mid-request) come "
        "back. Keep it above the longest request.",
    )


class GovernanceSettings(BaseModel):
    default_plan: str | None = Field(
        default=None,
        description="Name of the plan for keys and principals that have none of their own.",
    )
    change_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        le=1.0,
        description="How often each replica looks for revoked keys and changed plans.",
    )
    ledger_flush_seconds: float = Field(
        default=0.5, gt=0, description="Longest time a usage record waits before it is written."
    )
    ledger_batch_size: int = Field(
        default=500, ge=1, description="Usage records written per database round trip."
    )
    ledger_journal: bool = Field(
        default=True,
        description="Append each usage record to a local journal file before its answer is "
        "sent, so a crash (kill -9, out of memory) loses no record; the next start writes "
        "what the journal holds. Off: a crash loses the records not written yet.",
    )
    ledger_journal_dir: Path | None = Field(
        default=None,
        description="Where the usage journal lives (a local, writable directory; several "
        "processes may share it); defaults to <data_dir>/journal. In Kubernetes an emptyDir "
        "survives a container restart.",
    )
    ledger_journal_sync_seconds: float = Field(
        default=0,
        ge=0,
        description="fsync the journal this often, so a power loss or kernel crash loses at "
        "most that many seconds of usage records; 0 leaves it to the operating system "
        "(records survive the process crashing, not the machine).",
    )
    default_output_reservation: int = Field(
        default=1024,
        ge=1,
        description="Output tokens reserved against limits and budgets when a request sets "
        "no max_tokens (settled to the real count afterwards).",
    )


class MemorySettings(BaseModel):
    """The memory gateway: sessions (conversation history) and long-term memories."""

    extraction_model: str | None = Field(
        default="smollm2-135m",
        description="Model alias (from the catalog) that extracts long-term memories from new "
        "turns, called through the LLM gateway as the session's owner; 'none' or null turns "
        "extraction off (raw turns stay searchable).",
    )
    embedding_model: str = Field(
        default="minilm-l6",
        description="Embedding model alias for memories, turns and queries (the packaged "
        "local embedder by default). Changing it needs a re-index of existing memories.",
    )
    search_backend: Literal["auto", "sqlite", "pgvector", "memory"] = Field(
        default="auto",
        description="Where the search index lives: auto = pgvector on PostgreSQL, the embedded "
        "index in SQLite otherwise; memory = in-process only (tests, demos).",
    )
    pgvector_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL with the vector extension for the pgvector backend "
        "(postgresql://user:password@host:5432/db); defaults to the platform database.",
    )
    retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Sessions with no new message for this many days are deleted (history and "
        "extraction status; long-term memories stay). Unset keeps sessions forever.",
    )
    max_message_bytes: int = Field(
        default=32 * 1024,
        ge=1,
        description="Largest message content accepted (UTF-8 bytes); larger ones get a 413.",
    )
    extraction_batch_turns: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Most new turns the extraction model reads in one call.",
    )
    extraction_context_turns: int = Field(
        default=4,
        ge=0,
        le=100,
        description="Earlier turns shown to the extraction model as context (not re-extracted).",
    )
    extraction_max_attempts: int = Field(
        default=3,
        ge=1,
        description="Tries per batch of turns; after the last failure the batch is skipped (its "
        "turns stay searchable as messages) and the error stays in the extraction status.",
    )
    worker_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the background worker looks for sessions with unindexed turns "
        "written by other replicas (appends in this process wake it at once).",
    )
    index_delay_seconds: float = Field(
        default=0.2,
        ge=0,
        le=10,
        description="How long the indexer lets pass after a new turn wakes it, so turns "
        "appended meanwhile (on any session) are embedded in the same batch.",
    )
    index_batch_size: int = Field(
        default=256,
        ge=1,
        description="Turns embedded and indexed per batch by the background worker.",
    )
    search_top_k: int = Field(
        default=10, ge=1, le=100, description="Results a search returns when top_k is not given."
    )
    search_max_top_k: int = Field(
        default=100, ge=1, le=1000, description="Largest top_k a search may ask for."
    )
    context_turns: int = Field(
        default=2,
        ge=0,
        le=5,
        description="Neighbouring turns (each side) indexed with a turn's text to help "
        "search find it; the turn alone stays the result's source.",
    )

    @field_validator("extraction_model")
    @classmethod
    def _none_disables(cls, value: str | None) -> str | None:
        return None if value is None or value.strip().lower() in ("", "none", "null") else value


class RetrievalSettings(BaseModel):
    """The retrieval gateway: knowledge bases, ingestion and search (docs/retrieval.md)."""

    default_embedding_model: str = Field(
        default="minilm-l6",
        description="Embedding model alias (from the catalog) of a new knowledge base that "
        "names none; the packaged local embedder by default.",
    )
    default_rerank_model: str | None = Field(
        default=None,
        description="Rerank model alias used by `rerank: true` when the knowledge base names "
        "none (searches rerank only when asked or when their knowledge base has a default).",
    )
    default_backend: Literal["auto", "sqlite", "pgvector", "memory"] = Field(
        default="auto",
        description="Search backend of a new knowledge base that names none: auto = sqlite "
        "when the platform database is SQLite, pgvector otherwise; memory = in-process only.",
    )
    pgvector_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL (with the vector extension) for the pgvector backend: "
        "postgresql://user:password@host:5432/db.",
    )
    bedrock_region: str | None = Field(
        default=None, description="AWS region of Bedrock knowledge bases (default: the SDK's)."
    )
    embedding_batch_size: int = Field(
        default=64, ge=1, le=2048, description="Texts per embeddings call while ingesting."
    )
    embedding_concurrency: int = Field(
        default=2, ge=1, le=32, description="Embeddings calls in flight at once while ingesting."
    )
    max_document_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="Largest document accepted (decoded bytes)."
    )
    max_documents_per_request: int = Field(
        default=64, ge=1, description="Most documents one synchronous ingest request may carry."
    )
    max_documents_per_job: int = Field(
        default=10_000, ge=1, description="Most documents one ingestion job may carry."
    )
    max_concurrent_jobs: int = Field(
        default=2, ge=1, description="Ingestion jobs a process runs at once; others queue."
    )
    job_lease_seconds: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        description="How long a replica's claim on an ingestion job (and on a write in "
        "flight) lasts unless renewed; the replica renews it every third of this. A job "
        "whose replica died is resumed by another (or the next start) once it lapses.",
    )
    job_max_attempts: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Runs an ingestion job gets: one interrupted this many times (each crash "
        "or lost lease counts; a clean stop does not) is marked failed with the reason.",
    )
    max_top_k: int = Field(
        default=1000, ge=1, le=1_000_000, description="Largest top_k a search may ask."
    )


class AgentsSettings(BaseModel):
    """The agents service: agents and workflows behind one API (docs/agents.md)."""

    only: str | None = Field(
        default=None,
        description="Serve just this agent or workflow (one Kubernetes Deployment per agent); "
        "unset serves every one that is registered.",
    )
    default_model: str = Field(
        default="smollm2-135m",
        min_length=1,
        description="Model alias (from the catalog) agents call through the LLM gateway "
        "unless agent_models names another for them.",
    )
    agent_models: dict[str, str] = Field(
        default_factory=dict,
        description="Model alias per agent or workflow name, overriding default_model.",
    )
    modules: list[str] = Field(
        default_factory=list,
        description="A team's own agents: 'package.module:factory' paths, each a callable "
        "that takes no arguments and returns an agent.",
    )
    entry_points: bool = Field(
        default=True,
        description="Also load agents from installed packages' 'agentic_platform.agents' "
        "entry points.",
    )
    max_steps: int = Field(
        default=10, ge=1, le=100, description="Most model calls one agent run may make."
    )
    run_timeout_seconds: float = Field(
        default=300.0, gt=0, le=3600, description="Longest an agent run may take, in total."
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Most tokens each model call of an agent may answer with (None: the "
        "model's own limit).",
    )
    tool_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Longest one tool call may take; past it the model is told it timed out.",
    )
    max_tool_output_chars: int = Field(
        default=20_000,
        ge=100,
        le=1_000_000,
        description="Largest tool result handed to the model; a larger one is replaced by an "
        "error saying so.",
    )
    max_message_bytes: int = Field(
        default=32 * 1024,
        ge=1,
        le=8 * 1024 * 1024,
        description="Largest message text an invocation may carry (UTF-8 bytes); larger is a 413.",
    )
    history_turns: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="Earlier turns of the session loaded into the model's context.",
    )
    recall_top_k: int = Field(
        default=3,
        ge=0,
        le=50,
        description="Long-term memories recalled into the context each turn (0: none).",
    )
    weather_url: str = Field(
        default="https://api.open-meteo.com/v1/forecast",
        description="The weather tool's forecast API (Open-Meteo's shape: latitude, longitude "
        "and current=... query parameters).",
    )
    geocoding_url: str = Field(
        default="https://geocoding-api.open-meteo.com/v1/search",
        description="The weather tool's place-name lookup (Open-Meteo's shape: name and count "
        "query parameters).",
    )

    mcp_servers: list[McpServerSettings] = Field(
        default_factory=list,
        description="MCP servers whose tools agents offer their models as '<server>__<tool>' "
        "(docs/agents.md, MCP).",
    )

    @field_validator("mcp_servers")
    @classmethod
    def _unique_mcp_names(cls, servers: list[McpServerSettings]) -> list[McpServerSettings]:
        names = [server.name for server in servers]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"agents.mcp_servers: the names {repeated} are used more than once")
        return servers

    def model_for(self, agent: str) -> str:
        """The model alias ``agent`` calls."""
        return self.agent_models.get(agent, self.default_model)


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by ``AGENTIC_CONFIG_FILE``, if any."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get("AGENTIC_CONFIG_FILE")
        self._data: dict[str, Any] = {}
        if path:
            try:
                loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            except OSError as exc:
                raise ConfigurationError(
                    f"AGENTIC_CONFIG_FILE={path}: cannot read the file ({exc.strerror})"
                ) from exc
            except yaml.YAMLError as exc:
                raise ConfigurationError(
                    f"AGENTIC_CONFIG_FILE={path}: not valid YAML ({exc})"
                ) from exc
            if loaded is not None and not isinstance(loaded, dict):
                raise ConfigurationError(
                    f"AGENTIC_CONFIG_FILE={path}: the top level must be a mapping of settings"
                )
            self._data = loaded or {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGENTIC_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    environment: Literal["development", "production"] = Field(
        default="development",
        description="production refuses the laptop shortcuts: keys must come from secrets "
        "(auth.service_key; an admin key from auth.bootstrap_admin_key or an existing admin), "
        "never from files the platform writes itself.",
    )
    data_dir: Path = Field(
        default=Path("~/.agentic"),
        description="Where the embedded defaults keep their files (SQLite, the admin key).",
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port to listen on.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...; "
        "defaults to SQLite in data_dir.",
    )
    auto_migrate: bool = Field(
        default=True, description="Apply database migrations when the server starts."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level written to the JSON log."
    )
    log_requests: bool = Field(default=True, description="Log one JSON line per request.")
    services: list[ServiceName] = Field(
        default_factory=lambda: list(ALL_SERVICES), description="Services `agentic up` runs."
    )
    models: list[ModelEntry] = Field(
        default_factory=default_models,
        description="The model catalog (usually from the YAML file).",
    )
    service_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Base URLs of services that run in other processes, by service name "
        "(e.g. llm-gateway: http://llm-gateway:8080). A service in this process is called "
        "in-process.",
    )
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    oidc: OIDCSettings = Field(default_factory=OIDCSettings)
    console: ConsoleSettings = Field(
        default_factory=ConsoleSettings, description="The web console at /console."
    )
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    agents: AgentsSettings = Field(default_factory=AgentsSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls), file_secret_settings)

    @model_validator(mode="after")
    def _expand_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser()
        if self.governance.ledger_journal_dir is not None:
            self.governance.ledger_journal_dir = self.governance.ledger_journal_dir.expanduser()
        if self.database_url is not None and not self.database_url.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise ValueError(
                "database_url must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        if self.environment == "production" and self.auth.service_key is None:
            raise ValueError(
                "in production AGENTIC_AUTH__SERVICE_KEY must be set from a secret (the same "
                "value for every replica; make one with `agentic keys generate`)"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'agentic.db'}"

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir / "admin.key"

    @property
    def service_key_file(self) -> Path:
        return self.data_dir / "service.key"

    @property
    def usage_journal_dir(self) -> Path:
        return self.governance.ledger_journal_dir or self.data_dir / "journal"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning a validation failure into a message that names each
    setting and what to do about it."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None
    except SettingsError as exc:  # e.g. a list or mapping variable that is not JSON
        raise ConfigurationError(
            f"invalid settings: {exc}. Lists and mappings in AGENTIC_* variables are JSON, "
            "e.g. AGENTIC_SERVICES='[\"llm-gateway\"]'."
        ) from None


def describe_validation_error(exc: ValidationError) -> str:
    lines = ["invalid settings:"]
    for error in exc.errors():
        path = "__".join(str(part) for part in error["loc"])
        env_name = f"AGENTIC_{path.upper()}" if path else "AGENTIC_*"
        lines.append(f"  {env_name}: {error['msg']}")
    lines.append("Fix the environment variable or the YAML file (AGENTIC_CONFIG_FILE) and retry.")
    return "\n".join(lines)


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, with every secret masked."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    data["database_url"] = _mask_url(settings.effective_database_url)
    return data


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:**********@{host}"
