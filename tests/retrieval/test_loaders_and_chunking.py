"""Documents become sections (headings, pages) and then token-bounded, overlapping chunks
that point back into the original text."""

from __future__ import annotations

import itertools

import pytest

from agentic_platform.errors import InvalidRequestError
from agentic_platform.retrieval.chunking import (
    ChunkingSettings,
    EstimatedTokens,
    Section,
    chunk_sections,
    default_tokens,
)
from agentic_platform.retrieval.loaders import content_type_of, load_document


def make_pdf(pages: list[str], title: str = "") -> bytes:
    """A small but valid PDF with one line of Helvetica text per page."""
    count = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    font = 3 + 2 * count
    info = font + 1
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>",
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({title}) >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return out


def test_markdown_sections_keep_their_heading_path() -> None:
    text = (
        "# Guide\nintro\n## Setup\nsteps\n```\n# not a heading\n```\n### Linux\napt\n## Use\nrun\n"
    )
    document = load_document(text.encode(), "text/markdown")
    assert document.title == "Guide"
    assert [(s.headings, s.text.strip()) for s in document.sections] == [
        (("Guide",), "intro"),
        (("Guide", "Setup"), "steps\n```\n# not a heading\n```"),
        (("Guide", "Setup", "Linux"), "apt"),
        (("Guide", "Use"), "run"),
    ]
    for section in document.sections:
        assert text[section.offset : section.offset + len(section.text)] == section.text


def test_html_drops_scripts_and_splits_at_headings() -> None:
    html = (
        "<html><head><title>Handbook</title><style>p{}</style></head><body>"
        "<h1>Leave</h1><p>Ask your manager &amp; HR.</p><script>track()</script>"
        "<h2>Sick days</h2><ul><li>Call in</li><li>Rest</li></ul></body></html>"
    )
    document = load_document(html.encode(), "text/html; charset=utf-8")
    assert document.title == "Handbook"
    assert [(s.headings, " ".join(s.text.split())) for s in document.sections] == [
        (("Leave",), "Ask your manager & HR."),
        (("Leave", "Sick days"), "Call in Rest"),
    ]


def test_pdf_pages_become_sections_with_page_numbers() -> None:
    document = load_document(
        make_pdf(["First page text", "Second page"], "Report"), "application/pdf"
    )
    assert document.title == "Report"
    assert [(s.page, s.text.strip()) for s in document.sections] == [
        (1, "First page text"),
        (2, "Second page"),
    ]


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b"\xff\xfe\x00bad", "text/plain", "unreadable_document"),
        (b"%PDF-1.4\ngarbage", "application/pdf", "unreadable_document"),
        (make_pdf([""]), "application/pdf", "empty_document"),
        (b"# Only a heading\n", "text/markdown", "empty_document"),
        (b"{}", "application/json", "unsupported_content_type"),
    ],
)
def test_bad_documents_are_refused(content: bytes, content_type: str, code: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        load_document(content, content_type)
    assert caught.value.code == code


def test_file_names_map_to_content_types() -> None:
    assert content_type_of("notes/README.md") == "text/markdown"
    assert content_type_of("a.HTML") == "text/html"
    assert content_type_of("scan.pdf") == "application/pdf"
    assert content_type_of("archive.zip") is None


@pytest.mark.parametrize("tokens", [EstimatedTokens(), default_tokens()])
def test_chunks_respect_the_token_budget_and_overlap(tokens: object) -> None:
    sentences = [f"Sentence number {i} mentions item{i} and nothing else." for i in range(60)]
    text = "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, 60, 5))
    settings = ChunkingSettings(chunk_tokens=64, overlap_tokens=16)
    chunks = chunk_sections([Section(text, offset=100)], settings, tokens)  # type: ignore[arg-type]
    assert len(chunks) > 5
    assert [c.position for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert len(tokens.starts(chunk.text)) <= 64  # type: ignore[attr-defined]
        assert text[chunk.start - 100 : chunk.end - 100] == chunk.text
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end  # consecutive chunks overlap
    covered = "".join(sentences)
    assert all(f"item{i} " in " ".join(c.text for c in chunks) for i in range(60)), covered[:0]


def test_a_run_without_spaces_is_cut_by_tokens() -> None:
    blob = "x" * 5000
    chunks = chunk_sections(
        [Section(blob)], ChunkingSettings(chunk_tokens=100, overlap_tokens=0), EstimatedTokens()
    )
    assert "".join(chunk.text for chunk in chunks) == blob
    assert all(len(EstimatedTokens().starts(c.text)) <= 100 for c in chunks)


def test_overlap_must_be_smaller_than_a_chunk() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ChunkingSettings(chunk_tokens=50, overlap_tokens=50)
