"""What the catalog must know about each outbound dialect before any request: the parameters it
carries (an endpoint's default `supported_parameters`), the shape of its `base_url`, and the
`options` keys its adapter reads.

One table, `DIALECTS`, so a new dialect (or a new option of an existing one) is one entry here.
Everything in this module runs at start-up, when the catalog is built; the request path never
calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from turnout.providers import openai, zai
from turnout.providers.anthropic.request import SUPPORTED_PARAMETERS as ANTHROPIC_PARAMETERS
from turnout.providers.gemini.request import SUPPORTED_PARAMETERS as GEMINI_PARAMETERS


class DialectError(ValueError):
    """A provider's dialect, base_url or options do not fit its dialect; the message says what does."""


# The parameters the built-in local model's sampler and grammar take (providers/local.py).
LOCAL_PARAMETERS = frozenset(
    {"max_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "seed", "stop",
     "response_format", "structured_outputs", "tools", "tool_choice"}
)

# `options` keys every dialect takes: read by core/ rather than by an adapter.
COMMON_OPTIONS: Mapping[str, type | tuple[type, ...]] = {"install_hint": str}


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    parameters: Callable[[Mapping[str, Any]], frozenset[str]]  # the provider's options -> what it carries
    # Path suffixes people paste from the provider's docs, removed from a base_url's end (in order) ...
    strip_suffixes: tuple[str, ...] = ()
    # ... and the path a base_url with none gets (the API's root on the provider's own host).
    default_path: str = ""
    example: str = ""  # a base_url of the expected form, for messages and docs
    schemes: tuple[str, ...] = ("http", "https")
    options: Mapping[str, type | tuple[type, ...]] = field(default_factory=dict)

    def normalize_base_url(self, url: str, where: str) -> str:
        """The base_url the adapter expects, from either form people write; refuses what cannot be one."""
        parts = urlsplit(url.strip())
        if parts.scheme not in self.schemes or (parts.scheme != "local" and not parts.netloc):
            raise DialectError(
                f"{where}: {url!r} is not a {'/'.join(self.schemes)} URL; a {self.name} base_url looks like {self.example}"
            )
        if parts.scheme == "local":
            return url.strip()
        path = parts.path.rstrip("/")
        for suffix in self.strip_suffixes:
            if path.endswith(suffix):
                path = path[: -len(suffix)]
        if not path:
            path = self.default_path
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _openai_parameters(options: Mapping[str, Any]) -> frozenset[str]:
    preset = openai.QUIRKS.get(str(options.get("quirks", "openai")), openai.QUIRKS["openai"])
    return openai.supported_parameters(preset)


DIALECTS: Mapping[str, Dialect] = {
    d.name: d
    for d in (
        # POST {base_url}/chat/completions; OpenAI-compatible servers serve it under /v1.
        Dialect("openai", _openai_parameters, ("/chat/completions",), "/v1", "http://127.0.0.1:8000/v1",
                options={"quirks": str}),
        # POST {base_url}/chat/completions on https://api.z.ai/api/paas/v4.
        Dialect("zai", lambda _: zai.SUPPORTED_PARAMETERS, ("/chat/completions",), "/api/paas/v4",
                "https://api.z.ai/api/paas/v4"),
        # POST {base_url}/v1/messages: the adapter adds the /v1 itself.
        Dialect("anthropic", lambda _: ANTHROPIC_PARAMETERS, ("/messages", "/v1"), "", "https://api.anthropic.com",
                options={"max_tokens": int, "beta": str}),
        # POST {base_url}/models/{model}:generateContent.
        Dialect("gemini", lambda _: GEMINI_PARAMETERS, ("/models",), "/v1beta",
                "https://generativelanguage.googleapis.com/v1beta"),
        # In-process (providers/local.py): its engine options, also settable as TURNOUT_LOCAL_<NAME>.
        Dialect("local", lambda _: LOCAL_PARAMETERS, example="local://", schemes=("local",),
                options={"threads": int, "poll": int, "n_ctx": int, "parallel": int, "max_queue": int,
                         "queue_timeout": (int, float), "default_max_tokens": int}),
    )
}


def dialect(name: str, where: str) -> Dialect:
    found = DIALECTS.get(name)
    if found is None:
        raise DialectError(f"{where}: unknown dialect {name!r}; one of {', '.join(sorted(DIALECTS))}")
    return found
