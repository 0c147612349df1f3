"""Zero-completion insurance: the rule for when an answer's token cost is waived.

As on OpenRouter: no charge for an answer with zero completion tokens and no finish reason, or for
one that finished with `error` (a provider failure, a cut stream, a timeout). Plugin fees (web
searches, parsed pages) are still charged: that work was done. `RequestContext.settle` applies it
to every request and notes it in the generation record.
"""

from __future__ import annotations

from turnout.model.result import Usage


def insured(usage: Usage, finish_reason: str | None) -> bool:
    return finish_reason == "error" or (usage.completion_tokens == 0 and not finish_reason)
