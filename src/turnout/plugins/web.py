"""The `web` plugin (and `:online`, and the web search server tools): search, inject, cite.

Where every endpoint of the route searches natively (Z.ai's web search tool), the plugin is left
on the request for the provider translator. Otherwise turnout searches once with the configured
engine (plugins/engines.py), adds the results to the last user message under OpenRouter's
instruction text, and afterwards turns the answer's markdown links to those results into
`url_citation` annotations, `start_index`/`end_index` spanning each link in the answer's text.
Results the answer did not link come last, with both indexes 0.
"""

from __future__ import annotations

import time

from turnout.core.catalog.catalog import Endpoint
from turnout.model.chat import JSON, ChatRequest, Message, TextPart
from turnout.plugins.engines import SearchResult

# Providers whose own API runs the search (providers/zai.py maps the `web` plugin to its tool).
NATIVE_DIALECTS = frozenset({"zai"})
MAX_QUERY_CHARS = 400
INSTRUCTION = (
    "A web search was conducted on {date}. Incorporate the following web search results into your response.\n\n"
    "IMPORTANT: Cite them using markdown links named using the domain of the source.\n"
    "Example: [nytimes.com](https://nytimes.com/some-page)."
)


def searches_natively(endpoints: list[Endpoint]) -> bool:
    return bool(endpoints) and all(e.provider.dialect in NATIVE_DIALECTS for e in endpoints)


def query_of(request: ChatRequest) -> str:
    """What to search for: the last user message's text (its start, when long)."""
    for m in reversed(request.messages):
        if m.role == "user":
            return " ".join(m.text().split())[:MAX_QUERY_CHARS]
    return ""


def _domain(url: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0].split("@")[-1].split(":")[0]
    return host.removeprefix("www.")


def results_text(results: list[SearchResult], prompt: str | None) -> str:
    head = (prompt or INSTRUCTION).replace("{date}", time.strftime("%Y-%m-%d", time.gmtime()))
    lines = [head, ""]
    for i, r in enumerate(results, 1):
        lines.append(f"[{i}] {r.title} ([{_domain(r.url)}]({r.url}))")
        if r.content:
            lines.append(r.content)
        lines.append("")
    return "\n".join(lines).rstrip()


def inject(request: ChatRequest, results: list[SearchResult], prompt: str | None) -> None:
    """The results go after the last user message's own content, as a text part of it."""
    text = results_text(results, prompt)
    for m in reversed(request.messages):
        if m.role == "user":
            if m.content is None or isinstance(m.content, str):
                m.content = [TextPart(m.content or ""), TextPart("\n\n" + text)]
            else:
                m.content = [*m.content, TextPart("\n\n" + text)]
            return
    request.messages.append(Message(role="user", content=text))


def without_web(request: ChatRequest) -> None:
    """Searched already: the provider must not search again."""
    if request.plugins:
        request.plugins = [p for p in request.plugins if p.get("id") != "web"] or None
    request.extra.pop("web_search_options", None)


def citations(text: str, results: list[SearchResult]) -> list[JSON]:
    """OpenAI's `url_citation` annotations for the results, linked ones with their span."""
    cited: list[tuple[int, JSON]] = []
    rest: list[JSON] = []
    for r in results:
        at = text.find(f"]({r.url})")
        start = text.rfind("[", 0, at) if at >= 0 else -1
        ann = {"url": r.url, "title": r.title, "content": r.content,
               "start_index": max(start, 0), "end_index": at + len(r.url) + 3 if start >= 0 else 0}
        if start >= 0:
            cited.append((start, {"type": "url_citation", "url_citation": ann}))
        else:
            rest.append({"type": "url_citation", "url_citation": ann})
    return [a for _, a in sorted(cited, key=lambda c: c[0])] + rest


def anthropic_citation(annotation: JSON) -> JSON:
    """A `url_citation` annotation in Anthropic's form: a web search result location."""
    c = annotation["url_citation"]
    return {"type": "web_search_result_location", "url": c["url"], "title": c["title"] or None,
            "encrypted_index": "", "cited_text": (c.get("content") or "")[:150]}


def responses_annotation(annotation: JSON) -> JSON:
    """A `url_citation` annotation in the Responses API's flat form."""
    c = annotation["url_citation"]
    return {"type": "url_citation", "url": c["url"], "title": c["title"],
            "start_index": c["start_index"], "end_index": c["end_index"]}
