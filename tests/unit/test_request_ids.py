"""Generation ids and key hashes: the two values every request computes from a secret source."""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from turnout.core.context import new_generation_id
from turnout.core.money.keys import hash_key

ID = re.compile(r"^gen-\d{10}-[A-Za-z0-9_-]{20}$")


def tail(gen_id: str) -> str:
    return gen_id[-20:]  # the random part (it may hold "-" itself)


def test_generation_ids_are_unique_and_well_formed_across_refills() -> None:
    ids = [new_generation_id() for _ in range(3 * 256 + 7)]  # several refills of the pool
    assert len(set(ids)) == len(ids)
    assert all(ID.match(i) for i in ids), ids[:3]
    tails = {tail(i) for i in ids}
    assert len(tails) == len(ids)


def test_a_forked_process_never_hands_out_its_parents_ids() -> None:
    new_generation_id()  # the pool holds unused ids now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        try:
            os.write(write, new_generation_id().encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    mine = [new_generation_id() for _ in range(300)]  # past a refill too
    assert ID.match(child)
    assert tail(child) not in {tail(i) for i in mine}


def test_key_hash_is_hmac_sha256_hex_as_stored() -> None:
    """Stored keys are looked up by this value: it must never change for the same key and secret."""
    for secret, key in [(b"\x00" * 32, "sk-tn-v1-abc"), (os.urandom(32), "sk-tn-v1-" + "f" * 64), (b"s", "é-ü")]:
        assert hash_key(secret, key) == hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()
