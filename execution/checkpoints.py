"""Signed checkpoints of the audit chain, kept in a file outside the journal's database.

The hash chain finds any edit, insertion or removal, but someone who can write the database can
rewrite the whole chain consistently. A checkpoint is the chain's head ``(seq, hash, at_ms)``
signed with an ML-DSA-65 key whose private half the service holds as the secret
``audit_checkpoint_key`` and whose public half anybody may hold. One is made every
``execution.audit.checkpoint_every`` entries, for the last entry of each UTC day (when the next
day's first entry commits), and for the head when the journal closes. Each is appended as one JSON
line to ``execution.audit.checkpoints_path`` (default ``KIMERA_HOME/audit/checkpoints.jsonl``):
put that file, or a copy, where the database's writers cannot reach.

``kimera audit verify --public-key FILE`` checks every checkpoint's signature with the public key
alone and that the chain still holds the signed hash at each checkpointed entry, so a rewritten
database no longer verifies.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from kimera import pq
from kimera.config import ExecutionAudit
from kimera.settings import Settings

log = logging.getLogger("kimera.execution.checkpoints")

SECRET_NAME = "audit_checkpoint_key"
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment, signed. ``reason``: ``every``, ``day_end`` or ``close``."""

    seq: int
    hash: str
    at_ms: int  # the checkpointed entry's own time
    reason: str
    key: str  # the signing key's fingerprint (kimera.pq.fingerprint)
    signature: str  # base64 ML-DSA-65 over message()

    def message(self) -> bytes:
        return f"kimera-audit-checkpoint\n{self.seq}\n{self.hash}\n{self.at_ms}\n{self.reason}".encode()

    def to_line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def valid(self, public: pq.MLDSA65PublicKey) -> bool:
        return pq.verify(public, self.signature, self.message(), pq.CHECKPOINT_CONTEXT)


def default_path(settings: Settings, cfg: ExecutionAudit) -> Path:
    return (cfg.checkpoints_path or settings.home_dir / "audit" / "checkpoints.jsonl").expanduser()


def read(path: Path | str) -> list[Checkpoint]:
    """Every checkpoint in the file, in order; a line that is not a checkpoint is a ValueError naming it."""
    found = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            found.append(
                Checkpoint(int(data["seq"]), str(data["hash"]), int(data["at_ms"]), str(data["reason"]),
                           str(data["key"]), str(data["signature"]))
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} line {number} is not a checkpoint ({type(exc).__name__})") from None
    return found


class CheckpointSigner:
    """Signs the head after commits (called by the journal's writer thread) and appends to the file."""

    def __init__(self, key: pq.MLDSA65PrivateKey, path: Path, every: int):
        self._key, self.path, self.every = key, path, every
        self.fingerprint = pq.fingerprint(key.public_key())
        self._lock = threading.Lock()
        existing = read(path) if path.is_file() else []
        self.last: Checkpoint | None = existing[-1] if existing else None

    def __repr__(self) -> str:
        return f"CheckpointSigner(key={self.fingerprint}, path={self.path})"

    @property
    def last_seq(self) -> int:
        return self.last.seq if self.last else 0

    def committed(self, before: tuple[int, str, int], head: tuple[int, str, int]) -> None:
        """After a commit moved the head from ``before`` to ``head`` (each ``(seq, hash, at_ms)``)."""
        if head[0] <= before[0]:
            return
        if before[0] > self.last_seq and before[2] // DAY_MS < head[2] // DAY_MS:
            self.sign(before, "day_end")  # the day's last entry: the next day has begun
        if head[0] // self.every > self.last_seq // self.every:
            self.sign(head, "every")

    def close(self, head: tuple[int, str, int]) -> None:
        if head[0] > self.last_seq:
            self.sign(head, "close")

    def sign(self, head: tuple[int, str, int], reason: str) -> Checkpoint:
        """Sign ``head`` and append it to the file (flushed to disk before returning)."""
        seq, digest, at_ms = head
        unsigned = Checkpoint(seq, digest, at_ms, reason, self.fingerprint, "")
        signed = pq.sign(self._key, unsigned.message(), pq.CHECKPOINT_CONTEXT)
        checkpoint = Checkpoint(seq, digest, at_ms, reason, self.fingerprint, signed)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as handle:
                handle.write(checkpoint.to_line() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            self.last = checkpoint
        return checkpoint


def signer(settings: Settings, cfg: ExecutionAudit) -> CheckpointSigner | None:
    """The signer when the secret ``audit_checkpoint_key`` is given, else None (no checkpoints)."""
    secret = settings.secret(SECRET_NAME)
    if secret is None:
        log.warning(
            "no %s secret: audit checkpoints are not signed (`kimera audit new-key` makes one)", SECRET_NAME
        )
        return None
    try:
        key = pq.private_key(secret.get_secret_value())
    except pq.KeyFormatError as exc:
        from kimera.config import ConfigError

        raise ConfigError(f"secret {SECRET_NAME}: {exc}") from None
    return CheckpointSigner(key, default_path(settings, cfg), cfg.checkpoint_every)


@dataclass
class CheckpointCheck:
    checked: int = 0
    last: Checkpoint | None = None
    problem: str | None = None


def check(checkpoints: list[Checkpoint], public: pq.MLDSA65PublicKey, hashes: dict[int, str], head_seq: int) -> CheckpointCheck:  # fmt: skip
    """Each checkpoint's signature and that the chain (``hashes``: seq -> hash) still holds it."""
    result = CheckpointCheck()
    if not checkpoints:
        result.problem = "no checkpoints to check: the chain is not anchored (is audit_checkpoint_key set?)"
        return result
    for cp in checkpoints:
        if not cp.valid(public):
            result.problem = f"checkpoint of entry {cp.seq} has a bad signature (not made by this public key)"
            return result
        if cp.seq > head_seq:
            result.problem = (
                f"the checkpoint of entry {cp.seq} is beyond the chain's head (entry {head_seq}): "
                "entries were removed from the end"
            )
            return result
        if hashes.get(cp.seq) != cp.hash:
            result.problem = (
                f"entry {cp.seq} differs from its signed checkpoint ({cp.reason}): the chain was rewritten"
            )
            return result
        result.checked, result.last = result.checked + 1, cp
    return result
