"""Prompt format for a *base* (not instruction-tuned) model.

The Gemma 3 270M GGUF that turnout embeds is the pretrained base model: it has no chat
template, and under Gemma's instruction template it echoes the prompt and loops. A base
model continues documents, so the chat is rendered as a plain-text transcript that opens
with a few short, sensible exchanges (few-shot) and ends with ``"Assistant:"``; the
model writes the next line and the stop sequences (``"\\nUser:"``, a blank line, ...) end
the turn before it starts inventing the user's next message.

System messages become instructions in the transcript's preamble, tool results become
``Tool result`` lines, and earlier assistant tool calls are shown as the JSON object they
were. Only text content is supported (the model is text-in, text-out).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import LocalBadRequestError

__all__ = ["FEW_SHOT", "TRANSCRIPT_STOPS", "Prompt", "build_prompt", "message_text"]

PREAMBLE = (
    "The following is a conversation between a User and a helpful, knowledgeable Assistant. "
    "The Assistant gives short, accurate answers."
)

#: Exchanges shown before the real conversation; short, factual, one line each.
FEW_SHOT: tuple[tuple[str, str], ...] = (
    ("Hi!", "Hello! How can I help you today?"),
    ("What is the capital of France?", "The capital of France is Paris."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ('Translate "thank you" into Spanish.', '"Thank you" in Spanish is "gracias".'),
)

#: Sequences that end the assistant's turn in free-text mode.
TRANSCRIPT_STOPS: tuple[str, ...] = ("\nUser:", "\nAssistant:", "\nTool result", "\n\n")


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: the text to complete and the stop sequences that end the turn."""

    text: str
    stop: tuple[str, ...] = field(default_factory=tuple)


def message_text(content: Any) -> str:
    """Flatten a message ``content`` (a string, ``None`` or a list of parts) to text.

    Text parts are joined; any other part (an image, audio, a file) is refused, since the
    embedded model is text-only.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
                continue
            if not isinstance(part, Mapping):
                raise LocalBadRequestError(f"unsupported message content part: {part!r}")
            kind = part.get("type", "text")
            if kind == "text":
                texts.append(str(part.get("text", "")))
            else:
                raise LocalBadRequestError(
                    f"the local model is text-only; a '{kind}' content part cannot be sent to it",
                    code="unsupported_content",
                )
        return "".join(texts)
    raise LocalBadRequestError(f"unsupported message content: {content!r}")


def _one_line(text: str) -> str:
    # A blank line would end the turn early when the transcript is read back; keep each
    # turn as one paragraph.
    lines = [ln.rstrip() for ln in text.strip().splitlines()]
    return "\n".join(ln for ln in lines if ln)


def _tool_lines(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "The Assistant answers in plain text, or calls one of these tools by answering with a JSON object "
        '{"name": ..., "arguments": {...}}:'
    ]
    for tool in tools:
        name = str(tool.get("name", ""))
        desc = _one_line(str(tool.get("description") or "")).replace("\n", " ")
        params = tool.get("parameters") or {}
        props = params.get("properties") if isinstance(params, Mapping) else None
        if isinstance(props, Mapping) and props:
            args = ", ".join(
                f'"{k}": {v.get("type", "any") if isinstance(v, Mapping) else "any"}' for k, v in props.items()
            )
            arg_text = f" Arguments: {{{args}}}"
        else:
            arg_text = ""
        lines.append(f"- {name}: {desc}{arg_text}".rstrip())
    return lines


def _assistant_text(msg: Mapping[str, Any]) -> str:
    text = _one_line(message_text(msg.get("content")))
    calls = msg.get("tool_calls") or []
    rendered: list[str] = []
    for call in calls:
        fn = call.get("function", call) if isinstance(call, Mapping) else {}
        name = fn.get("name", "")
        args: Any = fn.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except ValueError:
                pass
        rendered.append(json.dumps({"name": name, "arguments": args}, ensure_ascii=False))
    return " ".join(x for x in [text, *rendered] if x)


def build_prompt(
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    json_output: bool = False,
    extra_stop: Sequence[str] = (),
) -> Prompt:
    """Render OpenAI-style ``messages`` as a few-shot transcript for a base model.

    ``messages`` are mappings with ``role`` (system, developer, user, assistant, tool) and
    ``content``; assistant messages may carry ``tool_calls`` and tool messages a ``name``.
    ``tools`` (mappings with ``name``, ``description``, ``parameters``) are listed in the
    preamble. ``json_output`` adds a line saying the answer is JSON (the grammar enforces
    it). The returned stop sequences are the transcript's own plus ``extra_stop``.
    """
    if not messages:
        raise LocalBadRequestError("messages must not be empty")
    preamble = [PREAMBLE]
    if tools:
        preamble.extend(_tool_lines(tools))
    if json_output:
        preamble.append("The Assistant answers with a single JSON object.")
    instructions: list[str] = []
    turns: list[str] = []
    for msg in messages:
        role = str(msg.get("role", ""))
        if role in ("system", "developer"):
            text = _one_line(message_text(msg.get("content")))
            if text:
                instructions.append(text)
        elif role == "user":
            if turns:
                turns.append("")  # a blank line between exchanges, as in the few-shot part
            turns.append("User: " + _one_line(message_text(msg.get("content"))))
        elif role == "assistant":
            turns.append("Assistant: " + _assistant_text(msg))
        elif role in ("tool", "function"):
            name = msg.get("name")
            label = f"Tool result ({name})" if name else "Tool result"
            turns.append(f"{label}: " + _one_line(message_text(msg.get("content"))))
        else:
            raise LocalBadRequestError(f"unsupported message role: {role!r}")
    if instructions:
        preamble.append("Instructions for the Assistant: " + " ".join(i.replace("\n", " ") for i in instructions))
    shots = [f"User: {q}\nAssistant: {a}" for q, a in FEW_SHOT]
    text = "\n".join(preamble) + "\n\n" + "\n\n".join(shots) + "\n\n" + "\n".join(turns) + "\nAssistant:"
    stops: list[str] = []
    for s in (*TRANSCRIPT_STOPS, *extra_stop):
        if s and s not in stops:
            stops.append(s)
    return Prompt(text=text, stop=tuple(stops))
