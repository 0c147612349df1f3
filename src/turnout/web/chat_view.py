"""The playground page (`/chat`): the frame and the model list; `chat.js` does the talking.

The browser calls this gateway's own `POST /api/v1/chat/completions` with the user's key, in
streaming mode, exactly as any client would: the playground gets no private door into the
gateway, so what it shows (tokens, cost, provider) is what the API returns.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.catalog.catalog import Catalog, Model
from turnout.core.routing.availability import model_verdict
from turnout.web.catalog_view import Judge
from turnout.web.layout import esc
from turnout.web.variants import suffix_variant

DEFAULT_MODEL = "z-ai/glm-4.6"  # when it can answer; else the first chat model that can


def chat_models(catalog: Catalog, judge: Judge, extra: Model | None = None) -> list[dict[str, Any]]:
    """The picker's models, each with whether it can answer and, if not, what to set or install."""
    out = []
    for m in [*catalog.models.values(), *([extra] if extra else [])]:
        if m.kind != "chat":
            continue
        top = m.top_endpoint
        ok, why = model_verdict(m, judge)
        out.append(
            {
                "id": m.id,
                "name": m.name,
                "available": ok,
                "unavailable_reason": why,
                "input_modalities": list(m.input_modalities),
                "supported_parameters": m.supported_parameters,
                "default_parameters": m.default_parameters or {},
                "max_completion_tokens": top.max_completion_tokens if top else None,
                "pricing": top.pricing.to_wire() if top else {},
            }
        )
    return out


def _json_script(element_id: str, data: object) -> str:
    # "</" cannot end the script element early once "<" is escaped.
    text = orjson.dumps(data).decode().replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def initial_model(models: list[dict[str, Any]], chosen: str | None) -> str:
    """The model asked for (`?model=`, even one that cannot answer: the page says why), else the
    default if it can answer, else the first that can, else the first."""
    if chosen and any(m["id"] == chosen for m in models):
        return chosen
    ready = [m["id"] for m in models if m["available"]]
    if DEFAULT_MODEL in ready:
        return DEFAULT_MODEL
    return ready[0] if ready else (models[0]["id"] if models else "")


def render_chat(catalog: Catalog, chosen: str | None, judge: Judge) -> str:
    # A suffix variant (`z-ai/glm-4.6v-flash:free`) linked from its page joins the list.
    extra = suffix_variant(catalog, chosen) if chosen and chosen not in catalog.models else None
    models = chat_models(catalog, judge, extra)
    first = initial_model(models, chosen)
    return f"""
{_json_script("chat-models", models)}
<div class="chat" data-initial-model="{esc(first)}">
  <details class="chat-settings" id="settings">
    <summary>Key and parameters</summary>
    <div class="settings-grid">
      <label class="wide">API key <input id="key" type="password" placeholder="sk-tn-v1-…" spellcheck="false"
        autocomplete="off"><small class="muted">Kept in this browser (localStorage), sent only to this gateway.</small></label>
      <label class="wide">System prompt <textarea id="system" rows="2" placeholder="Optional"></textarea></label>
      <label>Temperature <input id="temperature" type="number" min="0" max="2" step="0.05" placeholder="default"></label>
      <label>Max tokens <input id="max_tokens" type="number" min="1" step="1" placeholder="default"></label>
      <label>Top P <input id="top_p" type="number" min="0" max="1" step="0.01" placeholder="default"></label>
      <label>Reasoning <select id="reasoning">
        <option value="">default</option><option value="off">off</option><option value="low">low</option>
        <option value="medium">medium</option><option value="high">high</option></select></label>
    </div>
  </details>
  <div class="columns" id="columns"></div>
  <div class="compose-bar">
    <div class="attachments" id="attachments"></div>
    <form id="compose" class="compose">
      <label class="attach" id="attach-label" title="Attach images (vision models)"><svg viewBox="0 0 24 24" width="22" height="22"
        aria-hidden="true"><path d="M21 11.5l-8.5 8.5a5.5 5.5 0 0 1-7.8-7.8l9.2-9.2a3.7 3.7 0 0 1 5.2 5.2l-9.2 9.2a1.8 1.8 0
        0 1-2.6-2.6l8.5-8.5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg><span
        class="sr-only">Attach images</span><input id="attach" type="file"
        accept="image/*" multiple hidden></label>
      <textarea id="prompt" rows="2" placeholder="Send a message" aria-label="Message"></textarea>
      <button type="submit" id="send">Send</button>
    </form>
    <div class="compose-tools"><button type="button" id="add-column">+ Compare a model</button>
      <button type="button" id="clear">Clear</button></div>
  </div>
</div>
<template id="column-template">
  <div class="column">
    <div class="column-head"><select class="model-select" aria-label="Model"></select>
      <button type="button" class="remove" title="Remove">✕</button></div>
    <p class="unavailable small" hidden></p>
    <div class="messages"></div>
  </div>
</template>"""
