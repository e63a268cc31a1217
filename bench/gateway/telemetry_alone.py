"""The telemetry work of one gateway request, alone, in this process:
``python -m bench.gateway.telemetry_alone --sampling 1.0``.

Runs what the middleware and the metering do for a chat completion with telemetry on (the
server span made current, the ``chat`` span with its attributes, the HTTP and model-call
metrics, both spans ended) in a loop, with spans exported over OTLP/HTTP to the local
collector of ``bench.gateway.collector`` in its own process. Reports the process's CPU time
per request, every thread included (the exporter's thread shares the interpreter lock with
the loop) and the part of it spent on the loop's own thread, best of three rounds. The
span queue holds a whole round, so no span is dropped unexported when the loop outpaces the
exporter (a dropped span would cost nothing here and would in the gateway).
``--traceparent`` sends a caller's sampled ``traceparent`` with every request. To compare
with an earlier checkout, run it with that checkout's ``src`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from opentelemetry import context as otel_context
from opentelemetry import trace

import agentic_platform
from agentic_platform.llm_gateway.schemas import ChatCompletionRequest
from agentic_platform.settings import Settings
from agentic_platform.telemetry import http
from agentic_platform.telemetry.genai import start_model_call
from agentic_platform.telemetry.runtime import start_telemetry
from bench.gateway import targets
from bench.gateway.telemetry_cost import _start_collector

CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
ROUTE = "/llm/v1/chat/completions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sampling", type=float, default=1.0)
    parser.add_argument("--traceparent", action="store_true", help="a caller's, sampled")
    parser.add_argument("--requests", type=int, default=20_000, help="per round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-alone-") as tmp:
        collector = _start_collector(Path(tmp))
        try:
            print(measure(args, collector.base))
        finally:
            collector.stop()


def measure(args: argparse.Namespace, endpoint: str) -> str:
    settings = Settings(
        telemetry={  # type: ignore[arg-type]
            "enabled": True,
            "sampling_ratio": args.sampling,
            "otlp_endpoint": endpoint,
            "otlp_protocol": "http",
            "prometheus": {"enabled": False},
            "metrics_export_seconds": 10,
            "max_queue_size": 2 * args.requests + 4096,  # two spans a request, all exported
        }
    )
    telemetry = start_telemetry(settings, ["llm-gateway"])
    tracer, metrics = telemetry.tracer, telemetry.metrics
    assert tracer is not None and metrics is not None and telemetry.provider is not None
    scope = {"method": "POST", "path": ROUTE}
    request = ChatCompletionRequest.model_validate_json(targets.CHAT_BODY)
    caller = CALLER if args.traceparent else None

    def one() -> None:
        span = http.start_server_span(tracer, scope, caller)
        _ = b"%032x" % span.get_span_context().trace_id
        token = otel_context.attach(trace.set_span_in_context(span))
        call = start_model_call(tracer, "chat", request, "principal-1", False)
        if call is not None:
            call.end(200, None, None, 12, 9, 0.0000072)
        metrics.http_request("POST", ROUTE, 200, 0.001)
        metrics.model_call("chat", "openai", "bench", None, 0.001, 12, 9, 0.0000072)
        http.end_server_span(span, "POST", 200, ROUTE)
        otel_context.detach(token)

    for _ in range(2_000):
        one()
    telemetry.provider.force_flush()
    best, best_own = float("inf"), float("inf")
    for _ in range(3):
        started, own = time.process_time(), time.thread_time()
        for _ in range(args.requests):
            one()
        telemetry.provider.force_flush()
        best = min(best, time.process_time() - started)
        best_own = min(best_own, time.thread_time() - own)
    telemetry._shutdown()
    where = Path(agentic_platform.__file__).parents[2]
    return (
        f"platform from {where}: sampling {args.sampling:g}, caller traceparent "
        f"{'sampled' if args.traceparent else 'none'}: "
        f"{best / args.requests * 1e6:.1f} µs CPU per request (all threads, export included), "
        f"{best_own / args.requests * 1e6:.1f} µs of it on the request's thread"
    )


if __name__ == "__main__":
    main()
