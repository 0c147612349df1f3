"""Upstream: the pooled HTTP client, the transport that carries a provider's bytes, secret
scrubbing, and the dispatcher's one attempt loop (retry and fallback). Imports catalog/ and routing/."""
