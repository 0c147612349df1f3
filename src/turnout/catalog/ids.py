"""OpenRouter-style model ids (`author/slug`) for the models each provider lists under its own name.

One model served by several providers must get one id, so that its endpoints merge and routing
can fall back across providers. Providers name models in their own ways (`zai-org/GLM-4.6` on
Together-style hosts, `glm-4.6` on Z.ai, `hf:zai-org/GLM-4.6`, `llama-3.3-70b-versatile` on Groq,
`meta-llama/Llama-3.3-70B-Instruct-Turbo` on Together), so the rules, in order:

1. OpenRouter's own listing is the reference: an id it uses (`z-ai/glm-4.6`) is kept as is, and
   its `:free`-style variants keep their suffix.
2. Otherwise the upstream name is split into an organisation and a name; prefixes that are only
   routing (`hf:`, `accounts/fireworks/models/`, `@cf/`, a provider's own region or tier folder)
   are dropped; the organisation is mapped to OpenRouter's author (`zai-org`, `zai`, `ZhipuAI` ->
   `z-ai`; `meta` -> `meta-llama`); with no organisation, the author is the provider's own
   (Anthropic's models are `anthropic/...`) or the family's (`glm` -> `z-ai`, `llama` -> `meta-llama`).
3. The name is lower-cased and host-specific suffixes (`-turbo`, `-fp8`, `-versatile`, `-maas`,
   `-instruct-fp8-fast`...) are removed when that yields a name OpenRouter lists.
4. When the result, or the bare name alone, matches one OpenRouter id, that id is used; else the
   result stands as a new id.
"""

from __future__ import annotations

import re

# Organisation names on the wire -> OpenRouter's author slug.
AUTHORS: dict[str, str] = {
    "zai-org": "z-ai", "zai": "z-ai", "zhipuai": "z-ai", "thudm": "z-ai", "z-ai": "z-ai",
    "meta": "meta-llama", "meta-llama": "meta-llama", "llama": "meta-llama",
    "mistralai": "mistralai", "mistral": "mistralai",
    "deepseek-ai": "deepseek", "deepseek": "deepseek",
    "qwen": "qwen", "alibaba": "qwen",
    "moonshotai": "moonshotai", "moonshot": "moonshotai", "kimi": "moonshotai",
    "google": "google", "openai": "openai", "anthropic": "anthropic",
    "xai": "x-ai", "x-ai": "x-ai", "minimaxai": "minimax", "minimax": "minimax",
    "nvidia": "nvidia", "microsoft": "microsoft", "cohere": "cohere", "coherelabs": "cohere",
    "ibm-granite": "ibm-granite",
}

# A provider's own models (no organisation in the name) belong to this author.
PROVIDER_AUTHORS: dict[str, str] = {
    "anthropic": "anthropic", "openai": "openai", "google": "google", "zai": "z-ai", "zhipuai": "z-ai",
    "mistral": "mistralai", "xai": "x-ai", "deepseek": "deepseek", "cohere": "cohere",
    "moonshotai": "moonshotai", "moonshotai-cn": "moonshotai", "minimax": "minimax", "perplexity": "perplexity",
    "alibaba": "qwen", "alibaba-cn": "qwen", "llama": "meta-llama",
}

# Model families (models.dev's `family`, or the name's first word) -> author.
FAMILY_AUTHORS: dict[str, str] = {
    "glm": "z-ai", "glmv": "z-ai", "llama": "meta-llama", "claude": "anthropic", "gpt": "openai", "o1": "openai",
    "o3": "openai", "o4": "openai", "gemini": "google", "gemma": "google", "mistral": "mistralai",
    "mixtral": "mistralai", "codestral": "mistralai", "devstral": "mistralai", "magistral": "mistralai",
    "qwen": "qwen", "qwq": "qwen", "deepseek": "deepseek", "kimi": "moonshotai", "grok": "x-ai",
    "minimax": "minimax", "command": "cohere",
}

_ROUTING_PREFIX = re.compile(r"^(hf:|accounts/[^/]+/models/|@cf/|@hf/|workers-ai/@cf/|tee/)", re.IGNORECASE)
_HOST_SUFFIXES = ("-instruct-fp8-fast", "-fp8-fast", "-fp8-dynamic", "-instruct-turbo", "-turbo", "-fp8", "-versatile",
                  "-maas", "-fast", "-awq", "-int4", "-int8", "-bf16")


def provider_author(pid: str) -> str | None:
    return PROVIDER_AUTHORS.get(pid)


def _family_author(name: str, family: str | None) -> str | None:
    for key in (family or "", re.split(r"[-_.\s]", name, maxsplit=1)[0]):
        key = key.lower()
        if key in FAMILY_AUTHORS:
            return FAMILY_AUTHORS[key]
        stripped = re.sub(r"[\d.]+$", "", key)
        if stripped in FAMILY_AUTHORS:
            return FAMILY_AUTHORS[stripped]
    return None


def canonical_id(pid: str, upstream: str, family: str | None, openrouter: dict[str, str]) -> str | None:
    """`author/slug` for `upstream` as provider `pid` names it; `openrouter` maps lower-cased
    OpenRouter ids (variant suffix removed) to themselves."""
    if pid == "openrouter":
        return upstream if "/" in upstream else None
    name = _ROUTING_PREFIX.sub("", upstream.strip())
    parts = [p for p in name.split("/") if p]
    if not parts:
        return None
    base = parts[-1].lower()
    variant = ""
    if ":" in base:
        base, _, variant = base.partition(":")
        variant = ":" + variant
    org = parts[-2].lower() if len(parts) >= 2 else None
    author = AUTHORS.get(org) if org else None
    if author is None:
        author = provider_author(pid) if org is None else None
    if author is None:
        author = _family_author(base, family)
    if author is None:
        author = org or pid
    candidates = _candidates(base)
    for cand in candidates:
        found = openrouter.get(f"{author}/{cand}")
        if found:
            return found + variant
    # The bare name alone, when exactly one OpenRouter id ends with it.
    for cand in candidates:
        hits = [v for k, v in _by_name(openrouter).get(cand, ())]
        if len(hits) == 1:
            return hits[0] + variant
    return f"{author}/{dotted(base)}{variant}"


_DATED = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")
_DASHED_VERSION = re.compile(r"(?<=[a-z]-)(\d)-(\d)(?=$|-)")


def dotted(name: str) -> str:
    return _DASHED_VERSION.sub(r"\1.\2", name)


def _candidates(base: str) -> list[str]:
    """The name as given, then with a date or `-latest` removed, then with host suffixes removed,
    each also with a dashed version written OpenRouter's way (`claude-sonnet-4-6` -> `claude-sonnet-4.6`)."""
    names = [base]
    undated = _DATED.sub("", base)
    if undated != base:
        names.append(undated)
    for name in list(names):
        for suffix in _HOST_SUFFIXES:
            if name.endswith(suffix):
                stem = name[: -len(suffix)]
                names.append(stem)
                if not stem.endswith("-instruct"):  # hosts drop "-instruct" with their suffix (Groq's "-versatile")
                    names.append(stem + "-instruct")
    out: list[str] = []
    for name in names:
        for cand in (name, dotted(name)):
            if cand not in out:
                out.append(cand)
    return out


_NAME_INDEX: dict[int, dict[str, list[tuple[str, str]]]] = {}


def _by_name(openrouter: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    index = _NAME_INDEX.get(id(openrouter))
    if index is None:
        index = {}
        for k, v in openrouter.items():
            index.setdefault(k.split("/", 1)[-1], []).append((k, v))
        _NAME_INDEX.clear()
        _NAME_INDEX[id(openrouter)] = index
    return index
