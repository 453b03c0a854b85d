"""Signed audit checkpoints: the chain's head anchored outside the database, checked with a public key alone."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from execution.audit import GENESIS, AuditedJournal, entry_hash, verify
from execution.checkpoints import CheckpointSigner, read
from kimera import pq
from kimera.app.cli import main
from tests.execution.test_audit import write_signals

DAY_MS = 86_400_000


class StepClock:
    """Milliseconds that advance by ``step`` per entry: a test chooses when each day ends."""

    def __init__(self, start_ms: int, step_ms: int):
        self.now, self.step = start_ms, step_ms

    def __call__(self) -> int:
        self.now += self.step
        return self.now


@pytest.fixture
def keypair(tmp_path) -> tuple[pq.MLDSA65PrivateKey, Path]:
    key = pq.private_key(pq.new_private_text())
    public = tmp_path / "audit_checkpoint.pub"
    public.write_bytes(pq.public_pem(key))
    return key, public


def checkpointed_journal(tmp_path: Path, key, every: int, clock=None) -> tuple[Path, Path]:
    """A journal of 5 units x 4 entries, checkpointed by ``key``; returns (journal file, checkpoints file)."""
    path, cps = tmp_path / "journal.sqlite", tmp_path / "anchor" / "checkpoints.jsonl"
    journal = AuditedJournal(f"sqlite:///{path}", clock_ms=clock)
    journal.checkpoints = CheckpointSigner(key, cps, every)
    journal.open()
    asyncio.run(write_signals(journal, 5))
    journal.close()
    return path, cps


def rewrite_consistently(path: Path, seq: int, record: str) -> None:
    """What someone with write access can do: change one entry and re-hash every entry after it."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_no_update")
    rows = conn.execute("SELECT seq, at_ms, kind, ref, record FROM audit ORDER BY seq").fetchall()
    prev = GENESIS
    for s, at_ms, kind, ref, text in rows:
        text = record if s == seq else text
        digest = entry_hash(s, at_ms, kind, ref, prev, text)
        conn.execute("UPDATE audit SET record = ?, prev = ?, hash = ? WHERE seq = ?", (text, prev, digest, s))
        prev = digest
    conn.execute("UPDATE settings SET value = ? WHERE key = 'audit_head'", (f"{rows[-1][0]}:{prev}",))
    conn.commit()
    conn.close()


def test_checkpoints_every_n_entries_and_at_close_verify_with_the_public_key_alone(tmp_path, keypair):
    key, public = keypair
    path, cps = checkpointed_journal(tmp_path, key, every=6)
    anchors = read(cps)
    # 20 entries written 4 at a time: heads 4, 8, 12, 16, 20; "every 6" signs the head that passes 6, 12, 18
    assert [(c.seq, c.reason) for c in anchors] == [(8, "every"), (12, "every"), (20, "every")]
    assert all(c.valid(pq.load_public(public)) for c in anchors)
    result = CliRunner().invoke(main, ["audit", "verify", "--path", str(path), "--public-key", str(public),
                                       "--checkpoints", str(cps)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 signed checkpoints verify; the last at entry 20" in result.output


def test_a_consistently_rewritten_database_passes_the_chain_but_fails_the_signed_checkpoints(
    tmp_path, keypair
):
    key, public = keypair
    path, cps = checkpointed_journal(tmp_path, key, every=6)
    fill = json.loads(sqlite3.connect(path).execute("SELECT record FROM audit WHERE seq = 4").fetchone()[0])
    fill["price"] = "1.0"  # the fill now says it paid almost nothing
    rewrite_consistently(path, 4, json.dumps(fill, sort_keys=True, separators=(",", ":")))
    with sqlite3.connect(path) as conn:  # and the journal's own row, so that nothing disagrees
        conn.execute("UPDATE fills SET price = 1.0 WHERE fill_id = ?", (fill["fill_id"],))
    assert verify(f"sqlite:///{path}").ok  # the hash chain and the journal alone cannot see it
    runner = CliRunner()
    anchored = runner.invoke(main, ["audit", "verify", "--path", str(path), "--public-key", str(public),
                                    "--checkpoints", str(cps)])  # fmt: skip
    assert anchored.exit_code == 1
    assert "entry 8 differs from its signed checkpoint (every): the chain was rewritten" in anchored.output


def test_a_forged_or_foreign_checkpoint_is_refused_and_a_missing_anchor_file_is_an_error(tmp_path, keypair):
    key, public = keypair
    path, cps = checkpointed_journal(tmp_path, key, every=6)
    runner = CliRunner()
    args = ["audit", "verify", "--path", str(path), "--public-key", str(public), "--checkpoints"]
    # the attacker rewrites the chain and signs new checkpoints with a key of their own
    rewrite_consistently(path, 2, '{"forged":true}')
    other = pq.private_key(pq.new_private_text())
    fake = tmp_path / "fake.jsonl"
    CheckpointSigner(other, fake, 6).sign(
        (8, verify(f"sqlite:///{path}", keep=frozenset({8})).hashes[8], 0), "every"
    )
    forged = runner.invoke(main, [*args, str(fake)])
    assert forged.exit_code == 1 and "bad signature (not made by this public key)" in forged.output
    missing = runner.invoke(main, [*args, str(tmp_path / "nowhere.jsonl")])
    assert missing.exit_code == 2 and "no checkpoints file at" in missing.output
    garbage = tmp_path / "bad.pub"
    garbage.write_text("not a key")
    bad_key = runner.invoke(main, ["audit", "verify", "--path", str(path), "--public-key", str(garbage),
                                   "--checkpoints", str(cps)])  # fmt: skip
    assert bad_key.exit_code == 2 and "is not a PEM public key" in bad_key.output


def test_entries_cut_off_after_a_checkpoint_are_found(tmp_path, keypair):
    key, public = keypair
    path, cps = checkpointed_journal(tmp_path, key, every=6)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit WHERE seq > 16")
    head = conn.execute("SELECT hash FROM audit WHERE seq = 16").fetchone()[0]
    conn.execute("UPDATE settings SET value = ? WHERE key = 'audit_head'", (f"16:{head}",))
    conn.commit()
    conn.close()
    result = CliRunner().invoke(main, ["audit", "verify", "--path", str(path), "--public-key", str(public),
                                       "--checkpoints", str(cps)])  # fmt: skip
    assert result.exit_code == 1 and "beyond the chain's head (entry 16)" in result.output


def test_the_last_entry_of_each_utc_day_is_checkpointed_when_the_next_day_begins(tmp_path, keypair):
    key, _ = keypair
    # entries 3 hours apart from midnight: entries 1-8 on day 10, 9-16 on day 11, 17-20 on day 12
    path, cps = checkpointed_journal(
        tmp_path, key, every=1000, clock=StepClock(10 * DAY_MS - 3 * 3_600_000, 3 * 3_600_000)
    )
    anchors = read(cps)
    assert [(c.seq, c.reason) for c in anchors] == [(8, "day_end"), (16, "day_end"), (20, "close")]
    at = dict(sqlite3.connect(path).execute("SELECT seq, at_ms FROM audit").fetchall())
    for c in anchors[:2]:  # each is its day's last entry: the next entry is on the next day
        assert c.at_ms == at[c.seq] and at[c.seq] // DAY_MS + 1 == at[c.seq + 1] // DAY_MS


def test_kimera_audit_new_key_makes_the_secret_and_the_public_key(kimera_home, tmp_path, monkeypatch):
    from kimera.settings import get_settings

    monkeypatch.setenv("KIMERA_SECRETS_DIR", str(tmp_path / "secrets"))
    get_settings.cache_clear()
    made = CliRunner().invoke(main, ["audit", "new-key"])
    assert made.exit_code == 0, made.output
    secret = (tmp_path / "secrets" / "audit_checkpoint_key").read_text().strip()
    assert secret.startswith("ml-dsa-65:") and secret not in made.output
    public = pq.load_public(get_settings().home_dir / "keys" / "audit_checkpoint.pub")
    assert pq.fingerprint(public) == pq.fingerprint(pq.private_key(secret).public_key())
    assert CliRunner().invoke(main, ["audit", "new-key"]).exit_code == 2  # never overwritten


def test_audit_export_writes_a_window_of_days_to_parquet_that_an_auditor_checks_with_sql(tmp_path, keypair):
    import datetime as dt

    import duckdb
    import pyarrow.parquet as parquet
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key, public = keypair
    clock = StepClock(10 * DAY_MS - 3 * 3_600_000, 3 * 3_600_000)  # days 10, 11, 12 as above
    path, cps = checkpointed_journal(tmp_path, key, every=6, clock=clock)
    day = dt.date(1970, 1, 1) + dt.timedelta(days=11)
    out = tmp_path / "export.parquet"
    runner = CliRunner()
    args = ["audit", "export", "--from", str(day), "--to", str(day + dt.timedelta(days=1)), "--path", str(path),
            "--out", str(out), "--public-key", str(public)]  # fmt: skip
    result = runner.invoke(main, [*args, "--checkpoints", str(cps)])
    assert result.exit_code == 0, result.output
    # entries 9-16 are day 11's; checkpoints at 12 (every 6) and 16 (the day's end)
    assert "wrote 8 audit entries and 2 signed checkpoints" in result.output
    con = duckdb.connect()
    seqs = con.execute(f"SELECT min(seq), max(seq), count(*) FROM '{out}'").fetchone()
    assert seqs == (9, 16, 8)
    # an auditor's SQL: every row's hash recomputed, every row linked to the row before
    bad = con.execute(f"""
        SELECT count(*) FROM (SELECT *, lag(hash) OVER (ORDER BY seq) AS before FROM '{out}')
        WHERE hash <> sha256(seq || chr(10) || at_ms || chr(10) || kind || chr(10) || coalesce(ref, '') || chr(10)
                             || prev || chr(10) || record)
           OR (before IS NOT NULL AND prev <> before)""").fetchone()[0]
    assert bad == 0
    meta = parquet.read_schema(out).metadata
    embedded = load_pem_public_key(meta[b"kimera.audit.checkpoint_public_key"])
    rows = con.execute(f"SELECT seq, hash, at_ms, checkpoint_reason, checkpoint_key, checkpoint_signature FROM '{out}' WHERE checkpoint_signature IS NOT NULL ORDER BY seq").fetchall()  # fmt: skip
    from execution.checkpoints import Checkpoint

    assert [(r[0], r[3]) for r in rows] == [(12, "every"), (16, "day_end")]
    assert all(Checkpoint(*r).valid(embedded) for r in rows)
    backwards = runner.invoke(
        main, ["audit", "export", "--from", "2026-01-02", "--to", "2026-01-01", "--path", str(path)]
    )
    assert backwards.exit_code == 2 and "must be after --from" in backwards.output
