"""What one usage-journal append costs, alone: ``python -m bench.gateway.journal``.

Appends a usage record of the size the gateway writes to a journal in a temporary directory
(the same ``UsageJournal.append`` the ledger calls before each answer), in rounds, and prints
the best and median microseconds per record. Sealing and releasing segments, done once per
ledger batch write, are left out: they are per batch, not per record.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import timeit
from datetime import UTC, datetime
from pathlib import Path

from agentic_platform.governance.journal import UsageJournal
from agentic_platform.governance.ledger import UsageEntry


def _entry() -> UsageEntry:
    return UsageEntry(
        request_id="req_0123456789abcdef0123456789abcdef",
        time=datetime.now(UTC),
        principal_id="prn_0123456789abcdef",
        key_id="key_0123456789abcdef",
        team_id="team_0123456789abcdef",
        acting_via=None,
        endpoint="chat",
        model="bench",
        deployment="openai:fake",
        input_tokens=19,
        output_tokens=9,
        cached_tokens=0,
        cost_usd=8.25e-06,
        latency_ms=0.41,
        status=200,
        error_type=None,
        streamed=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway.journal", description=__doc__)
    parser.add_argument("--records", type=int, default=20_000, help="appends per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    entry = _entry()
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        journal = UsageJournal.create(Path(tmp))
        try:
            times = timeit.repeat(
                lambda: journal.append(entry), number=args.records, repeat=args.rounds
            )
        finally:
            journal.close(written=True)
    per_record = [seconds / args.records * 1e6 for seconds in times]
    print(
        f"usage journal append: best {min(per_record):.2f} µs, median "
        f"{statistics.median(per_record):.2f} µs per record "
        f"({args.rounds} rounds of {args.records:,})"
    )


if __name__ == "__main__":
    main()
