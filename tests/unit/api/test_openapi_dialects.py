"""The OpenAPI document describes every inbound dialect's path."""

from __future__ import annotations

from turnout.api.openapi import build_document


def test_dialect_paths_are_documented() -> None:
    doc = build_document()
    for path, schema in (("/api/v1/messages", "MessagesRequest"), ("/api/v1/responses", "ResponsesRequest"),
                         ("/api/v1/completions", "CompletionRequest"), ("/api/v1/embeddings", "EmbeddingRequest")):
        op = doc["paths"][path]["post"]
        assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(schema)
        assert schema in doc["components"]["schemas"]
    messages = doc["paths"]["/api/v1/messages"]["post"]
    assert messages["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("AnthropicError")
    assert {"x-api-key": []} in messages["security"]


def test_stored_responses_and_count_tokens_are_documented() -> None:
    paths = build_document()["paths"]
    assert set(paths["/api/v1/responses/{response_id}"]) == {"get", "delete"}
    assert "post" in paths["/api/v1/messages/count_tokens"]
