"""How many tokens a request may cost before it is sent: the prompt's bound and its likely size.

Providers bill everything they receive, not only the messages' text: tool definitions, tool-call
arguments and results, reasoning carried back, files, images and audio. `estimate_prompt` walks
the canonical request once (core/gateway.py calls it once per request, before routing) and sizes
every part an upstream translation sends, by this rule (docs/security.md states it too):

- text, JSON and file data (message text, names, tool definitions, tool-call arguments, tool
  results, reasoning and `reasoning_details`, the response schema, pass-through fields, base64
  file data): **1 token per UTF-8 byte** for the bound. Every tokenizer in use (byte-level BPE,
  or SentencePiece with byte fallback) spends at least one byte per token, so no text can come to
  more tokens than bytes; base64 file data is counted at a quarter of that (1 token per 4
  characters), since a PDF's pages are billed as their text and page images, not as base64;
- every message: 4 tokens more (its role and the chat template around it);
- an image (data URL or remote URL): `IMAGE_TOKENS` (4,096; the largest image any provider in
  the catalog bills is about 1,600 (Anthropic) to 4,100 (Gemini's 16 tiles) tokens), plus the
  endpoint's per-image price where it has one;
- audio and video data: 1 token per 32 base64 characters (at least 32 tokens a second for any
  codec of 8 kbit/s or more, which is what Gemini bills audio at);
- a remote file or video URL, or an uploaded file id: `MEDIA_URL_TOKENS` (4,096) each.

`bound` is what a hold covers (core/money/ledger.py); `typical` is a quarter of it (4 bytes a token,
the usual rate for English and code), plus the per-message tokens: it is what the context-length
check compares with an endpoint's context, and what usage an upstream never reported is charged.

`completion_cap` is the most completion tokens a request may produce at an endpoint: what a hold
covers and the most an estimated (unreported) completion is charged for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from turnout.core.catalog.catalog import Endpoint
from turnout.model.chat import AudioPart, ChatRequest, ContentPart, FilePart, ImagePart, Message, TextPart, VideoPart
from turnout.model.embeddings import EmbeddingRequest

PER_MESSAGE = 4
IMAGE_TOKENS = 4096
MEDIA_URL_TOKENS = 4096
AUDIO_CHARS_PER_TOKEN = 32
FILE_CHARS_PER_TOKEN = 4
TYPICAL_BYTES_PER_TOKEN = 4
# A provider translation may add a thinking budget on top of `max_tokens` (Anthropic: at least
# 1,024 tokens, or `reasoning.max_tokens`; see providers/anthropic/request.py).
REASONING_FLOOR = 1024


@dataclass(frozen=True, slots=True)
class PromptEstimate:
    bound: int  # the most tokens the prompt can be billed as (text), or a generous bound (media)
    typical: int  # what it most likely comes to: context-length checks, unreported usage
    images: int = 0  # image parts, for endpoints with a per-image price
    files: int = 0  # file parts (the file-parser plugin looks at a request only when it has some)


def _size(text: str | None) -> int:
    """UTF-8 bytes of a string, without encoding it when it is ASCII (most are)."""
    if not text:
        return 0
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _json_size(value: Any) -> int:
    if not value:
        return 0
    try:
        return len(orjson.dumps(value))
    except TypeError:  # not JSON-able: it would not be sent as such either; count its text
        return _size(str(value))


def _data_chars(url: str) -> int:
    """The base64 characters of a data: URL (0 for a remote URL)."""
    return len(url) - url.find(",") - 1 if url.startswith("data:") else 0


def _parts_units(content: list[ContentPart]) -> tuple[int, int, int, int]:
    """(text bytes, media tokens, images, files) of a message's content parts."""
    text = media = images = files = 0
    for p in content:
        if isinstance(p, TextPart):
            text += _size(p.text)
        elif isinstance(p, ImagePart):
            images += 1
            media += IMAGE_TOKENS
        elif isinstance(p, FilePart):
            files += 1
            chars = _data_chars(p.file_data or "")
            # base64 data at its rule; a remote URL or an uploaded file id is of unknown size
            media += chars // FILE_CHARS_PER_TOKEN if chars else MEDIA_URL_TOKENS
            text += _size(p.filename)
        elif isinstance(p, AudioPart):
            media += len(p.data) // AUDIO_CHARS_PER_TOKEN
        elif isinstance(p, VideoPart):
            chars = _data_chars(p.url)
            media += chars // AUDIO_CHARS_PER_TOKEN if chars else MEDIA_URL_TOKENS
    return text, media, images, files


def _extras(m: Message) -> int:
    """Text bytes of a message besides its content: name, tool calls and results, reasoning."""
    text = _size(m.name) + _size(m.tool_call_id) + _size(m.reasoning) + _json_size(m.reasoning_details)
    for call in m.tool_calls or ():
        text += _size(call.id) + _size(call.name) + _size(call.arguments)
    return text


def estimate_prompt(request: ChatRequest) -> PromptEstimate:
    """The request's prompt, sized once over everything an upstream receives (see the module doc)."""
    text = media = images = files = 0
    for m in request.messages:
        content = m.content
        if isinstance(content, str):  # the common case, inline: this runs for every request
            text += len(content) if content.isascii() else len(content.encode("utf-8", "surrogatepass"))
        elif content:
            t, md, im, fl = _parts_units(content)
            text += t
            media += md
            images += im
            files += fl
        if m.tool_calls or m.tool_call_id or m.reasoning or m.reasoning_details or m.name:
            text += _extras(m)
    for tool in request.tools or ():
        text += _size(tool.name) + _size(tool.description) + _json_size(tool.parameters)
    rf = request.response_format
    if rf is not None:
        text += _size(rf.name) + _json_size(rf.schema)
    if request.extra:  # pass-through fields reach OpenAI-dialect upstreams as sent
        text += _json_size(request.extra)
    overhead = PER_MESSAGE * len(request.messages)
    units = text + media
    return PromptEstimate(units + overhead, units // TYPICAL_BYTES_PER_TOKEN + overhead, images, files)


def estimate_embedding(request: EmbeddingRequest) -> PromptEstimate:
    """Embedding inputs: text at 1 token per byte (bound), token arrays at their length."""
    text = tokens = 0
    for item in request.inputs:
        if isinstance(item, str):
            text += _size(item)
        else:
            tokens += len(item)
    return PromptEstimate(text + tokens, text // TYPICAL_BYTES_PER_TOKEN + tokens)


def completion_cap(request: ChatRequest, endpoint: Endpoint, prompt_tokens: int) -> int:
    """The most completion tokens `request` may produce at `endpoint`."""
    if request.max_tokens:
        out = request.max_tokens
        r = request.reasoning
        if r is not None and r.active:
            out += max(r.max_tokens or 0, REASONING_FLOOR)
        return out
    return endpoint.max_completion_tokens or max(endpoint.context_length - prompt_tokens, 1)
