"""Builds the ASGI app from the chosen services.

Each service contributes routers and (optionally) a part of the lifespan; routers are
included rather than mounted so every lifespan runs, in one exit stack.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from agentic_platform import __version__
from agentic_platform.auth.bootstrap import ensure_admin_key, ensure_service_key
from agentic_platform.auth.oidc import OIDCVerifier
from agentic_platform.auth.service import IdentityStore, KeyAuthenticator
from agentic_platform.data_dir import secure_data_dir
from agentic_platform.db.engine import create_engine, ping, session_factory
from agentic_platform.db.migrate import upgrade
from agentic_platform.errors import ConfigurationError, PlatformError
from agentic_platform.governance.change_feed import ChangeFeed
from agentic_platform.governance.enforcement import UsageGovernor
from agentic_platform.governance.journal import UsageJournal, replay
from agentic_platform.governance.ledger import UsageLedger
from agentic_platform.governance.metering import Metering
from agentic_platform.governance.plans import PlanDirectory
from agentic_platform.governance.usage import open_window_spend
from agentic_platform.limits import counter_store_from_url
from agentic_platform.services import SERVICES
from agentic_platform.settings import ALL_SERVICES, ServiceName, Settings
from agentic_platform.state import PlatformState
from agentic_platform.telemetry.database import trace_statements
from agentic_platform.telemetry.router import router as metrics_router
from agentic_platform.telemetry.runtime import start_telemetry
from agentic_platform.web.errors import install_error_handlers
from agentic_platform.web.health import router as health_router
from agentic_platform.web.middleware import RequestContextMiddleware
from agentic_platform.web.openapi import install_openapi

logger = logging.getLogger("agentic_platform")


def create_app(settings: Settings, services: Sequence[ServiceName] | None = None) -> FastAPI:
    chosen = list(services if services is not None else settings.services)
    unknown = set(chosen) - set(ALL_SERVICES)
    if unknown:
        raise ValueError(f"unknown services: {', '.join(sorted(unknown))}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            try:
                state = await _start_core(settings, stack, app, chosen)
                state.running_services = tuple(chosen)
                app.state.platform = state
                for name in chosen:
                    await SERVICES[name].start(state, stack)
            except Exception as error:
                app.state.start_error = error  # what `agentic up` reports
                if isinstance(error, PlatformError):
                    logger.error("cannot start: %s", error.message)
                raise
            logger.info("started", extra={"services": chosen})
            yield
        logger.info("stopped")

    app = FastAPI(
        title="Agentic Platform",
        version=__version__,
        lifespan=lifespan,
        telemetry=_NO_FRAMEWORK_TELEMETRY,
    )
    install_error_handlers(app)
    install_openapi(app, settings.oidc)
    app.include_router(health_router)
    if settings.telemetry.serves_metrics_on_app:
        app.include_router(metrics_router)
    for name in chosen:
        for router in SERVICES[name].routers():
            app.include_router(router)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.gateway.max_body_bytes,
        log_requests=settings.log_requests,
    )
    return app


_NO_FRAMEWORK_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "auto_configure": False,
}
"""FastAPI's own OpenTelemetry instrumentation stays off, even when a global provider is
installed (``opentelemetry-instrument``, ``FASTAPI_OTEL_AUTO_CONFIGURE``): the platform's
middleware already opens each request's server span and records its duration, and a second
set would double every request's span and metric."""


async def _start_core(
    settings: Settings, stack: AsyncExitStack, app: FastAPI, services: Sequence[str]
) -> PlatformState:
    url = settings.effective_database_url
    await asyncio.to_thread(
        secure_data_dir, settings.data_dir, [settings.admin_key_file, settings.service_key_file]
    )
    if settings.auto_migrate:
        await upgrade(url)
    telemetry = start_telemetry(settings, services)
    stack.push_async_callback(telemetry.aclose)  # last out: flushes what the others traced
    engine = create_engine(url)
    stack.push_async_callback(engine.dispose)
    if telemetry.tracer is not None and telemetry.database_spans:
        trace_statements(engine, telemetry.tracer)
    sessions = session_factory(engine)
    identities = IdentityStore(sessions)
    new_admin_key = await ensure_admin_key(settings, identities)
    if new_admin_key is not None:
        _announce_admin_key(new_admin_key, settings)
    authenticator = KeyAuthenticator(sessions)
    service_key = await ensure_service_key(settings, identities)
    service_principal = await authenticator.authenticate(service_key)
    state = PlatformState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        authenticator=authenticator,
        identities=identities,
        service_key=service_key,
        platform_service_id=service_principal.id,
        app=app,
        telemetry=telemetry,
    )
    state.readiness["database"] = lambda: ping(engine)
    state.metering = await _start_governance(settings, stack, state)
    if settings.oidc.enabled:
        http = httpx.AsyncClient(timeout=settings.oidc.http_timeout_seconds)
        stack.push_async_callback(http.aclose)
        state.oidc = OIDCVerifier(settings.oidc, http)
        await state.oidc.load_keys()
    return state


async def _start_governance(
    settings: Settings, stack: AsyncExitStack, state: PlatformState
) -> Metering:
    """Plans, counters, the ledger, and the change feed that keeps caches current."""
    sessions = state.sessions
    plans = PlanDirectory(sessions, settings.governance.default_plan)
    await plans.reload()
    store = counter_store_from_url(
        settings.limits.url,
        policy=settings.limits.on_backend_error,
        socket_timeout=settings.limits.socket_timeout_seconds,
    )
    stack.push_async_callback(store.aclose)
    if not settings.limits.url.startswith("memory://"):
        state.readiness["limits"] = store.ping
    ledger = await _start_ledger(settings, stack, state)

    async def on_change(key_ids: set[str], principal_ids: set[str]) -> None:
        await state.authenticator.invalidate(key_ids, principal_ids)
        await state.external.invalidate(principal_ids)
        await plans.reload()

    feed = ChangeFeed(sessions, on_change, settings.governance.change_poll_seconds)
    feed.start()
    stack.push_async_callback(feed.stop)
    governor = UsageGovernor(plans, store, settings.limits.concurrency_lease_seconds)
    stack.push_async_callback(governor.drain)  # settlements land before the store closes
    if settings.limits.url.startswith("memory://"):  # in-process counters restart empty
        now = time.time()
        restored = await governor.restore(await open_window_spend(sessions, now), now)
        logger.info("limit counters restored from the usage ledger", extra={"counters": restored})
    metrics = state.telemetry.metrics
    if metrics is not None:
        metrics.watch_queue("ledger", lambda: ledger.pending)
    return Metering(
        governor,
        ledger,
        settings.governance.default_output_reservation,
        telemetry=state.telemetry,
    )


async def _start_ledger(
    settings: Settings, stack: AsyncExitStack, state: PlatformState
) -> UsageLedger:
    """The ledger and its journal; first, the records that processes which died left in
    the journal directory are written."""
    governance = settings.governance
    journal = (
        await asyncio.to_thread(_open_journal, settings) if governance.ledger_journal else None
    )
    ledger = UsageLedger(
        state.sessions,
        flush_seconds=governance.ledger_flush_seconds,
        batch_size=governance.ledger_batch_size,
        journal=journal,
        journal_sync_seconds=governance.ledger_journal_sync_seconds,
    )
    stack.push_async_callback(ledger.aclose)
    if journal is not None:
        recovered = await replay(journal.directory, ledger.write, governance.ledger_batch_size)
        if recovered:
            logger.info("usage records recovered from the journal", extra={"records": recovered})
    ledger.start()
    return ledger


def _open_journal(settings: Settings) -> UsageJournal:
    directory = settings.usage_journal_dir
    try:
        return UsageJournal.create(directory)
    except OSError as error:
        raise ConfigurationError(
            f"the usage journal directory {directory} cannot be written ({error.strerror}): "
            "set AGENTIC_GOVERNANCE__LEDGER_JOURNAL_DIR to a writable local directory (in "
            "Kubernetes an emptyDir volume), or AGENTIC_GOVERNANCE__LEDGER_JOURNAL=false to "
            "run without one (a crash then loses the usage records not written yet)"
        ) from None


def _announce_admin_key(secret: str, settings: Settings) -> None:
    print(
        "\n  Created the first admin API key (shown only this once):\n\n"
        f"    {secret}\n\n"
        f"  It is saved, readable only by you, in {settings.admin_key_file}\n",
        flush=True,
    )
