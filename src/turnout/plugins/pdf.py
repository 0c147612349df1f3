"""The `file-parser` plugin: PDFs in `file` parts reach every model.

An endpoint that reads PDFs itself (`file` among its input modalities: Anthropic's document
blocks, Gemini's inline data) gets the file as sent (`native`). For every other endpoint the PDF's
text is extracted in-process with pypdf (`pdf-text`) and replaces the file part; the page count
and engine go into the generation record. A URL is fetched first (plugins/fetch.py), only when
`url_fetch` is on. Parsing is bounded: `MAX_PAGES` pages, `pdf_max_chars` characters of text,
`PARSE_SECONDS` of work; a file that is not a readable PDF is a 400 naming its part.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io

from turnout.core.catalog.catalog import Endpoint
from turnout.model.chat import ChatRequest, ContentPart, FilePart, TextPart
from turnout.model.errors import invalid
from turnout.plugins.fetch import Fetcher

MAX_PAGES = 500
PARSE_SECONDS = 20.0
PDF_PREFIX = "data:application/pdf"


def reads_pdfs(endpoints: list[Endpoint]) -> bool:
    return bool(endpoints) and all("file" in e.input_modalities for e in endpoints)


def _is_pdf(part: FilePart) -> bool:
    data = part.file_data or ""
    if data.startswith("data:"):
        return data.startswith(PDF_PREFIX)
    return data.startswith(("http://", "https://"))  # fetched, then checked to be a PDF


def _inline(part: FilePart) -> bool:
    return (part.file_data or "").startswith("data:")


def has_pdfs(request: ChatRequest) -> bool:
    return any(isinstance(p, FilePart) and _is_pdf(p) for m in request.messages if isinstance(m.content, list)
               for p in m.content)


def extract(data: bytes, max_chars: int) -> tuple[str, int]:
    """(text, pages) of a PDF; ValueError when it is not one pypdf can read."""
    from pypdf import PdfReader  # imported on first use: most requests never parse a PDF
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = len(reader.pages)
        out: list[str] = []
        size = 0
        for page in reader.pages[:MAX_PAGES]:
            text = page.extract_text() or ""
            out.append(text)
            size += len(text)
            if size >= max_chars:
                break
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    return "\n\n".join(out)[:max_chars], pages


async def _bytes_of(part: FilePart, where: str, fetcher: Fetcher | None) -> bytes:
    data = part.file_data or ""
    if data.startswith("data:"):
        try:
            return base64.b64decode(data.split(",", 1)[1], validate=False)
        except (IndexError, binascii.Error):
            raise invalid(where, f"'{where}' is not a base64 data URL") from None
    assert fetcher is not None  # without one, URLs go to the provider as they came (see parse_pdfs)
    fetched = await fetcher.fetch(data)
    return fetched.body


async def parse_pdfs(request: ChatRequest, fetcher: Fetcher | None, max_chars: int) -> list[dict[str, object]]:
    """Every PDF file part replaced by its text; one record entry per file."""
    done: list[dict[str, object]] = []
    for i, m in enumerate(request.messages):
        if not isinstance(m.content, list):
            continue
        parts: list[ContentPart] = []
        for j, p in enumerate(m.content):
            if not (isinstance(p, FilePart) and _is_pdf(p)) or (fetcher is None and not _inline(p)):
                parts.append(p)  # a URL when fetching is off: the provider gets it as it came
                continue
            where = f"messages[{i}].content[{j}]"
            raw = await _bytes_of(p, where, fetcher)
            try:
                async with asyncio.timeout(PARSE_SECONDS):
                    text, pages = await asyncio.to_thread(extract, raw, max_chars)
            except TimeoutError:
                raise invalid(where, f"'{where}': the PDF took longer than {PARSE_SECONDS:g} s to parse") from None
            except ValueError as exc:
                raise invalid(where, f"'{where}' is not a readable PDF: {exc}") from None
            name = p.filename or "document.pdf"
            parts.append(TextPart(f"<file name={name!r} pages={pages}>\n{text}\n</file>"))
            done.append({"file": name, "pages": pages, "chars": len(text)})
        m.content = parts
    return done
