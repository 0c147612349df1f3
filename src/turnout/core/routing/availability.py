"""Whether an endpoint can answer, and if not what is missing: the one answer every part gives.

The router, `GET /models/{author}/{slug}/endpoints`, the web UI (catalog, model page,
playground) and `turnout models` all ask an :class:`Availability`; none of them looks at a
provider's key or a package on its own, so they cannot disagree (they once did: the CLI listed
the local embeddings model as available without the `local-embeddings` extra).

An endpoint can answer when

* its provider's dialect has a translator here (an HTTP adapter) or runs in this process (the
  built-in local models), and an in-process provider has what it needs for that model (the
  `local` extra for chat, `local-embeddings` and the MiniLM weights for embeddings);
* a provider that needs a key has one (its environment variable, or `api_key` in the config).

None of this changes while the process runs (keys come from the environment and config at
start-up, packages are installed or not), so each endpoint is judged once and remembered: the
router asks on every request, and that must stay a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING

from turnout.core.catalog.catalog import Endpoint
from turnout.providers.base import InProcessProvider

if TYPE_CHECKING:
    from turnout.core.catalog.catalog import Catalog, Model
    from turnout.settings import Settings

__all__ = ["Availability", "Verdict", "model_verdict"]

Verdict = tuple[bool, str | None]


def model_verdict(model: Model, availability: Callable[[Endpoint], Verdict]) -> Verdict:
    """A model can answer when any of its endpoints can; else the reasons its endpoints cannot."""
    reasons: list[str] = []
    for endpoint in model.endpoints:
        ok, why = availability(endpoint)
        if ok:
            return True, None
        if why and why not in reasons:
            reasons.append(why)
    return False, "; ".join(reasons) or "it has no endpoint"


class Availability:
    """``availability(endpoint) -> (ok, why)``; ``why`` names the variable to set or the extra to install."""

    def __init__(self, http_dialects: Collection[str], in_process: Mapping[str, InProcessProvider]) -> None:
        self._http = frozenset(http_dialects)
        self._in_process = in_process
        self._known: dict[str, Verdict] = {}

    @classmethod
    def for_settings(cls, settings: Settings) -> Availability:
        """The same judge a running gateway builds, for commands that do not start one (`turnout models`)."""
        from turnout.providers.registry import http_adapters, in_process_providers

        return cls(http_adapters(), in_process_providers(settings))

    def __call__(self, endpoint: Endpoint) -> Verdict:
        known = self._known.get(endpoint.key)
        if known is None:
            known = self._known[endpoint.key] = self._judge(endpoint)
        return known

    def _judge(self, endpoint: Endpoint) -> Verdict:
        provider = endpoint.provider
        local = self._in_process.get(provider.dialect)
        if local is not None:
            return local.available(endpoint.upstream_model)
        if provider.dialect not in self._http:
            hint = provider.options.get("install_hint")
            return False, f"provider {provider.slug} is not installed" + (f": {hint}" if hint else "")
        return provider.availability()

    def model(self, model: Model) -> Verdict:
        """Whether the model can answer (see :func:`model_verdict`)."""
        return model_verdict(model, self)

    def chat_models(self, catalog: Catalog, *, excluding: Iterable[str] = ()) -> list[str]:
        """Ids of the chat models that can answer, in catalog order, leaving out ``excluding`` dialects."""
        skip = set(excluding)
        return [
            m.id
            for m in catalog.models.values()
            if m.kind == "chat" and any(e.provider.dialect not in skip and self(e)[0] for e in m.endpoints)
        ]
