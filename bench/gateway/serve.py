"""Start the fake upstream and the gateway exactly as the benchmark does, and keep them up.

For profiling the hot path by hand: it prints the gateway's pid, URL, key and a ready-made
``wrk`` command, then waits for Ctrl-C (or ``--seconds``) and stops both. Typical use::

    python -m bench.gateway.serve &
    py-spy record --pid <pid> --duration 15 --rate 500 --format speedscope -o gateway.json
    wrk -t1 -c64 -d15s -s bench/results/wrk-gateway.lua <url>

``--telemetry-sampling 1.0`` turns telemetry on, exporting to the benchmark's local collector
(started too), as the ``--telemetry`` benchmark's gateways do.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.gateway import load, targets, telemetry_cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600, help="stop after this long")
    parser.add_argument(
        "--telemetry-sampling", type=float, default=None, help="telemetry on, at this ratio"
    )
    args = parser.parse_args()
    # Stop cleanly (the finally blocks stop both servers) on SIGTERM, and on SIGINT even when
    # started in the background, where the shell makes SIGINT ignored.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    results = targets.BENCH_DIR / "results"
    results.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-serve-") as tmp:
        work = Path(tmp)
        upstream = targets.start_upstream(results)
        collector = None
        settings: dict[str, str] = {}
        if args.telemetry_sampling is not None:
            collector = telemetry_cost._start_collector(results)
            settings = telemetry_cost._telemetry(collector, args.telemetry_sampling)
        try:
            gateway = targets.start_gateway(upstream, work, results, settings=settings)
            try:
                script = load.wrk_script(gateway, results)
                print(f"upstream  pid {upstream.server.process.pid}  {upstream.url}")
                print(f"gateway   pid {gateway.server.process.pid}  {gateway.url}")
                print(f"key       {gateway.headers['Authorization'].split()[-1]}")
                print(f"wrk -t1 -c64 -d15s -s {script} {gateway.url}", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    time.sleep(args.seconds)
            finally:
                gateway.server.stop()
        finally:
            upstream.server.stop()
            if collector is not None:
                collector.stop()


if __name__ == "__main__":
    main()
