"""``agentic kb``: create a knowledge base, ingest a folder (with a progress bar and a report
of the files that failed), search it."""

from __future__ import annotations

from pathlib import Path

from test_loaders_and_chunking import make_pdf
from typer.testing import CliRunner

from agentic_platform.cli import app


def test_ingest_a_folder_then_search(retrieval_url: str, admin_key: str, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "guides").mkdir(parents=True)
    (folder / "guides" / "setup.md").write_text("# Setup\nInstall the daemon with apt.\n")
    (folder / "notes.txt").write_text("Remember to rotate the keys monthly.")
    (folder / "page.html").write_text("<h1>Billing</h1><p>Invoices go out on the 1st.</p>")
    (folder / "report.pdf").write_bytes(make_pdf(["Quarterly revenue grew."]))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 nothing here")
    (folder / "ignored.zip").write_bytes(b"PK")
    target = ["--url", retrieval_url, "--api-key", admin_key]
    runner = CliRunner()

    created = runner.invoke(app, ["kb", "create", "cli-docs", "--chunk-tokens", "100", *target])
    assert created.exit_code == 0, created.output
    ingested = runner.invoke(
        app, ["kb", "ingest", str(folder), "--kb", "cli-docs", "--metadata", "team=ops", *target]
    )
    assert ingested.exit_code == 1  # one file failed
    assert "ingested 4 of 5 files into cli-docs" in ingested.output
    assert "failed: broken.pdf" in ingested.output

    again = runner.invoke(
        app, ["kb", "ingest", str(folder / "notes.txt"), "--kb", "cli-docs", *target]
    )
    assert again.exit_code == 0, again.output
    found = runner.invoke(
        app,
        [
            "kb",
            "search",
            "cli-docs",
            "install daemon",
            "--search-type",
            "lexical",
            "--filter",
            '{"field": "team", "op": "eq", "value": "ops"}',
            *target,
        ],
    )
    assert found.exit_code == 0, found.output
    assert "guides/setup.md #0" in found.output.splitlines()[0]
    listed = runner.invoke(app, ["kb", "list", *target])
    assert "cli-docs" in listed.output and "4 documents" in listed.output
    assert runner.invoke(app, ["kb", "delete", "cli-docs", *target]).exit_code == 0
    missing = runner.invoke(app, ["kb", "search", "cli-docs", "x", *target])
    assert missing.exit_code == 1
    assert "No knowledge base" in missing.output
