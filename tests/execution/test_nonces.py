"""The nonce store's group-committed file: a request goes on only once its nonce is on disk."""

from __future__ import annotations

import asyncio

import pytest

from execution.nonces import NonceReused, NonceStore, NonceStoreClosed


def test_a_replay_is_refused_while_the_first_request_still_waits_for_its_write(tmp_path):
    store = NonceStore(tmp_path / "nonces.sqlite")
    durable = store.use("ops", "a" * 32, now=100.0, expires_at=160.0)
    with pytest.raises(NonceReused):  # refused from memory, whether or not the write is done
        store.use("ops", "a" * 32, now=100.0, expires_at=160.0)
    assert durable is not None
    durable.result(timeout=30)
    store.close()


def test_nonces_used_together_from_a_loop_are_all_on_disk_in_fewer_commits(tmp_path):
    path = tmp_path / "nonces.sqlite"
    store = NonceStore(path)

    async def burst() -> None:  # 300 requests arriving together, each awaiting its own write
        await asyncio.gather(
            *(asyncio.wrap_future(store.use("signals", f"n{i:030d}", 100.0, 160.0)) for i in range(300))
        )

    asyncio.run(burst())
    assert store.commits < 300  # grouped: the loop never waited on one commit per request
    store.close()
    again = NonceStore(path)  # after a restart every one of them is still refused
    for i in range(300):
        with pytest.raises(NonceReused):
            again.use("signals", f"n{i:030d}", 120.0, 180.0)
    again.close()


def test_a_closed_file_store_refuses_rather_than_forgetting(tmp_path):
    store = NonceStore(tmp_path / "nonces.sqlite")
    store.close()
    with pytest.raises(NonceStoreClosed, match="closed"):
        store.use("ops", "b" * 32, now=100.0, expires_at=160.0)
    memory = NonceStore()  # in memory only: nothing to write, nothing to wait for
    assert memory.use("ops", "b" * 32, now=100.0, expires_at=160.0) is None


def test_a_nonce_that_cannot_be_written_refuses_its_request(tmp_path):
    import sqlite3

    from tests.execution.test_auth import headers_of, refused, verifier

    path = tmp_path / "nonces.sqlite"
    store = NonceStore(path)
    with sqlite3.connect(path) as other:  # the file loses its table behind the service's back
        other.execute("DROP TABLE nonces")
    v = verifier(nonces=store)
    assert refused(v, "POST", "/signals", headers_of("POST", "/signals", b"{}"), b"{}") == "unavailable"
    store.close()
