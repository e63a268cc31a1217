"""Turns an uploaded document into plain-text sections: plain text, Markdown, HTML, PDF.

Each loader keeps what chunking needs to say where a chunk came from: Markdown and HTML
headings (as a heading path), PDF page numbers. A document that is not what its content type
says, or has no text, is refused with a 400 that says so.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

from agentic_platform.errors import InvalidRequestError
from agentic_platform.retrieval.chunking import Section

CONTENT_TYPES = ("text/plain", "text/markdown", "text/html", "application/pdf")
EXTENSIONS = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    sections: list[Section]
    title: str = ""


def content_type_of(name: str) -> str | None:
    """The content type a file name implies, if we load that kind of file."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return EXTENSIONS.get(suffix)


def load_document(content: bytes, content_type: str) -> LoadedDocument:
    loader = _LOADERS.get(content_type.split(";")[0].strip().lower())
    if loader is None:
        raise InvalidRequestError(
            f"Unsupported content type '{content_type}'. Supported: {', '.join(CONTENT_TYPES)}.",
            param="content_type",
            code="unsupported_content_type",
        )
    document = loader(content)
    if not any(section.text.strip() for section in document.sections):
        raise InvalidRequestError(
            "The document has no text to index.", param="content", code="empty_document"
        )
    return document


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequestError(
            "The document is not valid UTF-8 text.", param="content", code="unreadable_document"
        ) from None


def _plain(content: bytes) -> LoadedDocument:
    return LoadedDocument([Section(_decode(content))])


# --- Markdown ----------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_sections(text: str) -> LoadedDocument:
    """Sections under ATX headings (``#`` .. ``######``), outside fenced code blocks; each
    section's heading path is the chain of headings above it."""
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    start = 0
    offset = 0
    in_fence = False
    title = ""

    def close(end: int) -> None:
        body = text[start:end]
        if body.strip():
            sections.append(Section(body, start, tuple(name for _, name in path)))

    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line.rstrip("\r\n"))
        if heading is not None:
            close(offset)
            level, name = len(heading.group(1)), heading.group(2).strip()
            path = [(lvl, text_) for lvl, text_ in path if lvl < level] + [(level, name)]
            title = title or (name if level == 1 else "")
            start = offset + len(line)
        offset += len(line)
    close(len(text))
    return LoadedDocument(sections, title)


def _markdown(content: bytes) -> LoadedDocument:
    return markdown_sections(_decode(content))


# --- HTML --------------------------------------------------------------------------------

_BLOCKS = frozenset(
    {
        *("p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article"),
        *("header", "footer", "blockquote", "pre", "dd", "dt"),
    }
)
_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "head"})


class _HtmlText(HTMLParser):
    """Text of an HTML page as Markdown-ish lines: headings become ``#`` lines, so the page
    splits into sections exactly as Markdown does."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIPPED:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        elif not self._skip:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def _html(content: bytes) -> LoadedDocument:
    parser = _HtmlText()
    parser.feed(_decode(content))
    parser.close()
    text = re.sub(r"\n[ \t]+", "\n", "".join(parser.parts))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    document = markdown_sections(text)
    return LoadedDocument(document.sections, parser.title or document.title)


# --- PDF ---------------------------------------------------------------------------------


def _pdf(content: bytes) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidRequestError(
                "The PDF is encrypted.", param="content", code="unreadable_document"
            )
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            if text.strip():
                sections.append(Section(text, 0, (), number))
        title = str(reader.metadata.title or "") if reader.metadata else ""
    except InvalidRequestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidRequestError(
            f"The PDF cannot be read ({type(exc).__name__}).",
            param="content",
            code="unreadable_document",
        ) from None
    return LoadedDocument(_with_offsets(sections), title)


def _with_offsets(sections: list[Section]) -> list[Section]:
    """Page sections laid end to end (two newlines apart), so offsets index the whole text."""
    placed = []
    offset = 0
    for section in sections:
        placed.append(Section(section.text, offset, section.headings, section.page))
        offset += len(section.text) + 2
    return placed


_LOADERS: dict[str, Callable[[bytes], LoadedDocument]] = {
    "text/plain": _plain,
    "text/markdown": _markdown,
    "text/html": _html,
    "application/pdf": _pdf,
}
