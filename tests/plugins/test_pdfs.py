"""PDFs for every model (`file-parser`): native where the endpoint reads PDFs, else text extracted
with pypdf, through each inbound dialect's own file form; bounded and clearly refused when bad."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.plugins.conftest import Plug
from tests.plugins.pdfs import data_url, make_pdf

PDF = make_pdf(["Quarterly report: revenue grew 12 percent", "Page two mentions turnout"])


def upstream_text(plug: Plug) -> str:
    body = plug.fakes.upstream.state.requests[-1]["body"]
    out = []
    for m in body["messages"]:
        c = m["content"]
        out.append(c if isinstance(c, str) else "".join(p.get("text", "") for p in c if isinstance(p, dict)))
    return "\n".join(out)


def file_parser_step(plug: Plug, gen_id: str) -> dict[str, Any]:
    steps = [s for s in plug.record(gen_id)["pipeline"] if s["name"] == "file-parser"]
    assert len(steps) == 1, steps
    return steps[0]["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_file_part_reaches_a_text_model_as_text(plug: Plug, stream: bool) -> None:
    body = {"model": "test/echo", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "summarise"},
        {"type": "file", "file": {"filename": "report.pdf", "file_data": data_url(PDF)}}]}]}
    if stream:
        r, events = plug.stream("/chat/completions", body)
        gen_id = events[0][1]["id"]
    else:
        r = plug.post("/chat/completions", body)
        gen_id = r.json()["id"]
    assert r.status_code == 200
    sent = upstream_text(plug)
    assert "revenue grew 12 percent" in sent and "Page two mentions turnout" in sent
    assert "base64" not in str(plug.fakes.upstream.state.requests[-1]["body"])  # the file itself did not go
    data = file_parser_step(plug, gen_id)
    assert data["engine"] == "pdf-text" and data["pages"] == 2 and data["files"][0]["file"] == "report.pdf"


def test_anthropic_document_block_reaches_a_text_model(plug: Plug) -> None:
    r = plug.post("/messages", {"model": "test/echo", "max_tokens": 50, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": base64.b64encode(PDF).decode()}},
        {"type": "text", "text": "what grew?"}]}]})
    assert r.status_code == 200, r.text
    assert "revenue grew 12 percent" in upstream_text(plug)
    assert file_parser_step(plug, r.json()["id"])["pages"] == 2


def test_responses_input_file_reaches_a_text_model(plug: Plug) -> None:
    r = plug.post("/responses", {"model": "test/echo", "input": [{"role": "user", "content": [
        {"type": "input_file", "filename": "r.pdf", "file_data": data_url(PDF)},
        {"type": "input_text", "text": "what grew?"}]}]})
    assert r.status_code == 200, r.text
    assert "revenue grew 12 percent" in upstream_text(plug)


def test_native_where_the_endpoint_reads_pdfs(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/claude-echo", "max_tokens": 50, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "summarise"},
        {"type": "file", "file": {"filename": "report.pdf", "file_data": data_url(PDF)}}]}]})
    assert r.status_code == 200, r.text
    blocks = plug.fakes.anthropic.requests[-1]["body"]["messages"][0]["content"]
    doc = next(b for b in blocks if b["type"] == "document")
    assert doc["source"]["media_type"] == "application/pdf" and base64.b64decode(doc["source"]["data"]) == PDF
    assert file_parser_step(plug, r.json()["id"]) == {"engine": "native"}


def test_pdf_text_engine_can_be_asked_for_on_a_native_endpoint(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/claude-echo", "max_tokens": 50,
                                        "plugins": [{"id": "file-parser", "pdf": {"engine": "pdf-text"}}],
                                        "messages": [{"role": "user", "content": [
                                            {"type": "file", "file": {"filename": "r.pdf", "file_data": data_url(PDF)}}]}]})
    assert r.status_code == 200, r.text
    blocks = plug.fakes.anthropic.requests[-1]["body"]["messages"][0]["content"]
    assert all(b["type"] == "text" for b in blocks) and "revenue grew" in blocks[0]["text"]


@pytest.mark.parametrize(("file_data", "words"), [
    ("data:application/pdf;base64," + base64.b64encode(b"not a pdf at all").decode(), "not a readable PDF"),
    ("data:application/pdf;base64," + base64.b64encode(PDF[: len(PDF) // 3]).decode(), "not a readable PDF"),
])
def test_bad_pdfs_are_clear_400s(plug: Plug, file_data: str, words: str) -> None:
    r = plug.post("/chat/completions", {"model": "test/echo", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "x.pdf", "file_data": file_data}}]}]})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert words in err["message"] and "messages[0].content[0]" in err["message"]


def test_extracted_text_is_capped(start_plug: Any) -> None:
    own: Plug = start_plug(pdf_max_chars=20)
    r = own.post("/chat/completions", {"model": "test/echo", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "r.pdf", "file_data": data_url(PDF)}}]}]})
    assert r.status_code == 200
    assert "Quarterly report: re" in upstream_text(own) and "revenue grew" not in upstream_text(own)


def test_a_url_goes_to_the_provider_as_it_came_when_fetching_is_off(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/echo", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "x.pdf", "file_data": "https://example.com/report.pdf"}}]}]})
    assert r.status_code == 200, r.text
    part = plug.fakes.upstream.state.requests[-1]["body"]["messages"][0]["content"][0]
    assert part["file"]["file_data"] == "https://example.com/report.pdf"
