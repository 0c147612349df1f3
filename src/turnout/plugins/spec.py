"""Which plugins a request runs, and with what options: its `plugins` over the config's defaults.

Every inbound dialect hands over the same list of `{"id": ..., ...}` entries (OpenRouter's shape);
server tools (`{"type": "openrouter:web_search"}`, and each dialect's own web search tool) become
entries here too, so the rest of turnout sees one form. A request's entry replaces the default
of the same id; `"enabled": false` turns it off. Options are checked here, once, with a clear 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from turnout.model.chat import JSON
from turnout.model.errors import invalid

KNOWN = ("web", "file-parser", "response-healing", "context-compression")
ENGINES = ("native", "searxng", "exa", "tavily", "brave")
PDF_ENGINES = ("native", "pdf-text")
MAX_PLUGINS = 16
MAX_RESULTS = 25
MAX_USES = 10
MAX_DOMAINS = 50
MAX_PROMPT_CHARS = 4_000
# Web search tools of the inbound dialects, run by turnout for every model as the `web` plugin:
# OpenRouter's server tool, Anthropic's server tool, the Responses API's built-in tool.
WEB_SEARCH_TOOLS = ("openrouter:web_search", "web_search_preview", "web_search")
ANTHROPIC_WEB_SEARCH = "web_search_2"  # web_search_20250305, web_search_20260209, ...


@dataclass(slots=True)
class WebOptions:
    engine: str | None = None  # None: native where the provider searches, else the configured engine
    max_results: int = 5
    search_prompt: str | None = None
    include_domains: list[str] = field(default_factory=list)
    exclude_domains: list[str] = field(default_factory=list)
    server_tool: bool = False  # asked for as a tool rather than a plugin
    max_uses: int = 3  # searches the server tool's loop may run (each a model call more)


@dataclass(slots=True)
class Plan:
    web: WebOptions | None = None
    file_parser: bool = False
    pdf_engine: str | None = None  # None: native where the endpoint reads PDFs, else pdf-text
    healing: bool = False
    compression: bool | None = None  # None: the default (on for endpoints of at most 8,192 tokens)

    @property
    def empty(self) -> bool:
        return self.web is None and not self.file_parser and not self.healing and not self.compression


def check_entries(raw: Any, where: str) -> list[JSON]:
    """A `plugins` list, each entry a mapping with a known string id (config or request)."""
    if not isinstance(raw, list):
        raise invalid(where, f"'{where}' must be an array")
    if len(raw) > MAX_PLUGINS:
        raise invalid(where, f"'{where}' has {len(raw)} entries; at most {MAX_PLUGINS}")
    out = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise invalid(f"{where}[{i}].id", f"'{where}[{i}]' must be an object with a string 'id'")
        if entry["id"] not in KNOWN:
            raise invalid(f"{where}[{i}].id", f"unknown plugin {entry['id']!r}; this gateway runs {', '.join(KNOWN)}")
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            raise invalid(f"{where}[{i}].enabled", f"'{where}[{i}].enabled' must be a boolean")
        out.append(entry)
    return out


def _int(raw: Any, name: str, low: int, high: int, default: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise invalid(name, f"'{name}' must be an integer from {low} to {high}")
    return raw


def _domains(raw: Any, name: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_DOMAINS or not all(isinstance(d, str) and 0 < len(d) <= 253 for d in raw):
        raise invalid(name, f"'{name}' must be an array of at most {MAX_DOMAINS} domain names")
    return [d.lower() for d in raw]


def web_options(entry: JSON, where: str) -> WebOptions:
    engine = entry.get("engine")
    if engine is not None and engine not in ENGINES and engine != "auto":
        raise invalid(f"{where}.engine", f"'{where}.engine' must be one of {', '.join(ENGINES)}")
    prompt = entry.get("search_prompt")
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > MAX_PROMPT_CHARS):
        raise invalid(f"{where}.search_prompt", f"'{where}.search_prompt' must be a string of at most {MAX_PROMPT_CHARS} characters")
    return WebOptions(
        engine=None if engine == "auto" else engine,
        max_results=_int(entry.get("max_results"), f"{where}.max_results", 1, MAX_RESULTS, 5),
        search_prompt=prompt,
        include_domains=_domains(entry.get("include_domains", entry.get("allowed_domains")), f"{where}.include_domains"),
        exclude_domains=_domains(entry.get("exclude_domains", entry.get("excluded_domains")), f"{where}.exclude_domains"),
        server_tool=bool(entry.get("server_tool")),
        max_uses=_int(entry.get("max_uses"), f"{where}.max_uses", 1, MAX_USES, 3),
    )


def make_plan(defaults: list[JSON], requested: list[JSON] | None, *, has_files: bool) -> Plan | None:
    """The steps to run; None when there are none (the caller then pays nothing more)."""
    chosen: dict[str, tuple[JSON, str]] = {}
    for i, entry in enumerate(defaults):
        chosen[entry["id"]] = (entry, f"plugins[{i}] (config)")
    for i, entry in enumerate(check_entries(requested, "plugins") if requested is not None else ()):
        chosen[entry["id"]] = (entry, f"plugins[{i}]")
    plan = Plan()
    for pid, (entry, where) in chosen.items():
        on = entry.get("enabled", True) is not False
        if pid == "context-compression":
            engine = entry.get("engine", "middle-out")
            if engine != "middle-out":
                raise invalid(f"{where}.engine", f"'{where}.engine' must be 'middle-out'")
            plan.compression = on
        elif not on:
            continue
        elif pid == "web":
            plan.web = web_options(entry, where)
        elif pid == "file-parser":
            plan.file_parser = True
            pdf = entry.get("pdf") or {}
            engine = pdf.get("engine") if isinstance(pdf, dict) else None
            if engine is not None and engine not in PDF_ENGINES:
                raise invalid(f"{where}.pdf.engine", f"'{where}.pdf.engine' must be one of {', '.join(PDF_ENGINES)}")
            plan.pdf_engine = engine
        elif pid == "response-healing":
            plan.healing = True
    if has_files and "file-parser" not in chosen:
        plan.file_parser = True  # PDFs reach every model, as on OpenRouter: the parser is on by default
    return None if plan.empty and plan.compression is None else plan


def compression_off(defaults: list[JSON], requested: list[JSON] | None) -> bool:
    """Whether the request (or, failing that, the config) turned context compression off."""
    for entries in (requested or (), defaults):
        for entry in entries:
            if isinstance(entry, dict) and entry.get("id") == "context-compression":
                return entry.get("enabled", True) is False
    return False


def split_server_tools(raw: Any) -> tuple[Any, list[JSON]]:
    """A dialect's `tools` without the web search tools turnout runs itself, and those as plugin
    entries. Anything else named `openrouter:...` is refused: turnout runs only web search."""
    if not isinstance(raw, list):
        return raw, []
    kept: list[Any] = []
    plugins: list[JSON] = []
    for i, tool in enumerate(raw):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if not isinstance(kind, str) or not (kind in WEB_SEARCH_TOOLS or kind.startswith(("openrouter:", ANTHROPIC_WEB_SEARCH))):
            kept.append(tool)
            continue
        if kind.startswith("openrouter:") and kind != "openrouter:web_search":
            raise invalid(f"tools[{i}].type", f"server tool {kind!r} is not supported; this gateway runs openrouter:web_search")
        assert isinstance(tool, dict)
        params = tool.get("parameters") if kind == "openrouter:web_search" else tool
        params = params if isinstance(params, dict) else {}
        entry: JSON = {"id": "web", "server_tool": True}
        for name in ("engine", "max_results", "search_prompt", "max_uses"):
            if name in params:
                entry[name] = params[name]
        allowed = params.get("allowed_domains", params.get("include_domains"))
        blocked = params.get("excluded_domains", params.get("blocked_domains", params.get("exclude_domains")))
        filters = params.get("filters")
        if allowed is None and isinstance(filters, dict):  # the Responses tool: filters.allowed_domains
            allowed = filters.get("allowed_domains")
        if allowed is not None:
            entry["include_domains"] = allowed
        if blocked is not None:
            entry["exclude_domains"] = blocked
        plugins.append(entry)
    return (kept or None) if plugins else raw, plugins
