"""The secret scrubber: every configured secret out of whatever an upstream said."""

from __future__ import annotations

from turnout.core.catalog.catalog import build_catalog
from turnout.core.upstream.scrub import REDACTED, Scrubber, configured_secrets
from turnout.model.errors import ErrorKind, FailureClass, UpstreamError


def test_longest_secret_first_so_no_tail_of_a_longer_one_survives() -> None:
    s = Scrubber(["sk-abcdefgh", "sk-abcdefgh-and-more"])
    assert s.text("x sk-abcdefgh-and-more y sk-abcdefgh") == f"x {REDACTED} y {REDACTED}"


def test_short_or_empty_secrets_are_ignored() -> None:
    s = Scrubber(["", None, "abc"])
    assert not s and s.text("abc") == "abc"


def test_nested_values_keys_included_and_no_recursion_limit() -> None:
    s = Scrubber(["sk-0123456789"])
    deep: object = "sk-0123456789"
    for _ in range(5000):
        deep = [{"k": deep}]
    out = s.value({"sk-0123456789": ["a sk-0123456789 b", 1, None, {"m": deep}]})
    assert list(out) == [REDACTED] and out[REDACTED][:3] == [f"a {REDACTED} b", 1, None]
    node = out[REDACTED][3]["m"]
    for _ in range(5000):
        node = node[0]["k"]
    assert node == REDACTED


def test_raw_bytes_with_a_json_escaped_slash() -> None:
    s = Scrubber(["key/with/slashes"])
    assert s.data(b'{"m": "key\\/with\\/slashes"}') == b'{"m": "[redacted]"}'


def test_credentials_actually_sent_are_scrubbed_even_when_not_configured() -> None:
    s = Scrubber(["sk-configured-1"]).with_sent({"authorization": "Bearer sk-sent-only-2", "content-type": "x"})
    assert s.text("sk-configured-1 sk-sent-only-2 Bearer") == f"{REDACTED} {REDACTED} Bearer"


def test_an_error_is_scrubbed_in_message_metadata_and_detail() -> None:
    exc = UpstreamError(ErrorKind.PROVIDER_AUTH_FAILED, "bad key sk-0123456789", provider="P",
                        failure=FailureClass.CREDENTIAL, raw={"error": {"message": "sk-0123456789"}}, detail="sk-0123456789")
    Scrubber(["sk-0123456789"]).error(exc)
    assert exc.message == str(exc) == f"bad key {REDACTED}"
    assert exc.metadata["raw"] == {"error": {"message": REDACTED}} and exc.detail == REDACTED


def test_configured_secrets_cover_keys_from_env_credential_headers_and_urls() -> None:
    catalog = build_catalog(
        {"p": {"dialect": "openai", "base_url": "https://user:pw-in-url-123@h/v1?key=query-key-456",
               "key_env": "P_KEY", "headers": {"X-Auth-Token": "header-token-789", "X-Title": "not a secret"}}},
        {}, {"P_KEY": "env-key-0123"},
    )
    secrets = configured_secrets(catalog.providers.values(), "admin-key-0123456789")
    for s in ("env-key-0123", "header-token-789", "pw-in-url-123", "query-key-456", "admin-key-0123456789"):
        assert s in secrets
    assert "not a secret" not in secrets
