"""The OpenAPI document describes every inbound dialect's path."""

from __future__ import annotations

from turnout.api.openapi import build_document


def test_dialect_paths_are_documented() -> None:
    doc = build_document()
    for path, schema in (("/api/v1/messages", "MessagesRequest"), ("/api/v1/responses", "ResponsesRequest"),
                         ("/api/v1/completions", "CompletionRequest"), ("/api/v1/embeddings", "EmbeddingRequest"),
                         ("/api/v1/messages/count_tokens", "CountTokensRequest")):
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


def test_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import validate

    validate(build_document())


def test_every_api_route_is_documented_with_the_methods_it_serves() -> None:
    from starlette.routing import Route

    from turnout.app import api_routes

    paths = build_document()["paths"]
    served = {(f"/api/v1{r.path}", m.lower()) for r in api_routes() if isinstance(r, Route) for m in r.methods or ()
              if m != "HEAD"}
    documented = {(p, m) for p, ops in paths.items() for m in ops}
    assert served == documented


def test_request_bodies_are_the_declared_wire_types() -> None:
    schemas = build_document()["components"]["schemas"]
    chat = schemas["ChatCompletionsBody"]
    assert chat["properties"]["temperature"]["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 2}
    assert "messages" in chat["required"] and "reasoning" in chat["properties"]  # OpenRouter's, by its name
    assert schemas["KeyUpdateBody"]["additionalProperties"] is False
    assert not [name for name in schemas if "." in name]  # no two wire types share a name
