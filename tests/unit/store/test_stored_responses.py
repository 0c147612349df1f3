"""Stored Responses API state in the store (both backends): kept, read back, deleted, expired, and
held to the per-key and total quotas, the heaviest key losing first."""

from __future__ import annotations

from turnout.api.responses.chains import decode_messages, encode_messages
from turnout.model.chat import AudioPart, FilePart, ImagePart, Message, TextPart, ToolCall, VideoPart
from turnout.store.base import ResponseQuota, ResponseRow, Store

QUOTA = ResponseQuota(ttl=3600, per_key=3, per_key_bytes=1000, total=5, total_bytes=10_000)


def row(id: str, key: str, at: float, size: int = 10) -> ResponseRow:
    return ResponseRow(id, key, "m", b'[{"role":"user","content":"hi"}]', b'{"id":"' + id.encode() + b'"}', size, at)


def test_saved_responses_read_back_and_delete(store: Store) -> None:
    store.save_responses([row("r1", "k", 100.0)], QUOTA, 100.0)
    got = store.load_response("r1")
    assert got is not None and got == row("r1", "k", 100.0)
    assert store.load_response("nope") is None
    assert store.delete_response("r1") and not store.delete_response("r1")
    assert store.load_response("r1") is None


def test_expired_responses_go(store: Store) -> None:
    store.save_responses([row("old", "k", 0.0)], QUOTA, 0.0)
    store.save_responses([row("new", "k", 3700.0)], QUOTA, 3700.0)
    assert store.load_response("old") is None and store.load_response("new") is not None


def test_a_key_past_its_quota_loses_its_own_oldest(store: Store) -> None:
    store.save_responses([row(f"a{i}", "a", float(i)) for i in range(5)], QUOTA, 5.0)
    assert [store.load_response(f"a{i}") is not None for i in range(5)] == [False, False, True, True, True]
    store.save_responses([row("big", "a", 10.0, size=995)], QUOTA, 10.0)
    assert store.load_response("big") is not None and store.load_response("a4") is None


def test_past_the_total_the_heaviest_key_loses_first(store: Store) -> None:
    store.save_responses([row("alice", "alice", 0.0)], QUOTA, 0.0)  # the oldest of all, but light
    store.save_responses([row(f"m{i}", "mallory", 1.0 + i, size=100) for i in range(3)], QUOTA, 5.0)
    store.save_responses([row(f"e{i}", "eve", 5.0 + i, size=50) for i in range(3)], QUOTA, 9.0)
    kept = [i for i in ("alice", "m0", "m1", "m2", "e0", "e1", "e2") if store.load_response(i) is not None]
    assert "alice" in kept and len(kept) == 5 and "m0" not in kept and "m1" not in kept


def test_messages_round_trip_through_their_encoding() -> None:
    messages = [
        Message("system", "be brief"),
        Message("user", [TextPart("look", {"type": "ephemeral"}), ImagePart("data:image/png;base64,AA", "low"),
                         FilePart("a.pdf", "data:application/pdf;base64,AA"), AudioPart("AA", "wav"),
                         VideoPart("https://example.com/v.mp4")]),
        Message("assistant", None, tool_calls=[ToolCall("c1", "f", '{"x": 1}')], reasoning="hmm",
                reasoning_details=[{"type": "reasoning.text", "text": "hmm"}]),
        Message("tool", "42", tool_call_id="c1", name="f"),
    ]
    assert decode_messages(encode_messages(messages)) == messages
