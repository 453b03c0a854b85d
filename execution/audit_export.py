"""``kimera audit export --from --to``: the audit log of a window of days as Parquet, for an auditor's tools.

One row per audit entry whose time falls in ``[from, to)`` (UTC days; ``to`` excluded), with every
field the chain hashes (so each row's hash, and each row's link to the one before, can be checked
with any SQL engine), and, on the rows that were checkpointed, the signed checkpoint: its reason, key
fingerprint and ML-DSA-65 signature. The file's metadata says how the hash and the checkpoint
message are formed and carries the checkpoint public key when one is given.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq_files

from execution import checkpoints as cps
from execution.audit import entries

SCHEMA = pa.schema([
    ("seq", pa.int64()), ("at_ms", pa.int64()), ("at", pa.timestamp("ms", tz="UTC")), ("kind", pa.string()),
    ("ref", pa.string()), ("record", pa.string()), ("prev", pa.string()), ("hash", pa.string()),
    ("checkpoint_reason", pa.string()), ("checkpoint_key", pa.string()), ("checkpoint_signature", pa.string()),
])  # fmt: skip
HASH_RULE = "hash = sha256_hex(seq || '\\n' || at_ms || '\\n' || kind || '\\n' || coalesce(ref, '') || '\\n' || prev || '\\n' || record)"
CHECKPOINT_RULE = (
    "ML-DSA-65 (FIPS 204), context 'kimera-audit-checkpoint-v1', over "
    "'kimera-audit-checkpoint\\n' || seq || '\\n' || hash || '\\n' || at_ms || '\\n' || checkpoint_reason"
)


@dataclass(frozen=True)
class Exported:
    path: Path
    entries: int
    checkpoints: int


def _ms(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp() * 1000)


def export(
    url: str,
    start: date,
    end: date,
    out: Path,
    checkpoints: list[cps.Checkpoint],
    public_pem: bytes | None = None,
) -> Exported:
    """Write the entries of ``[start, end)`` and their checkpoints to ``out`` (written whole, then renamed)."""
    if end <= start:
        raise ValueError(f"--to ({end}) must be after --from ({start}): the window is [from, to)")
    lo, hi = _ms(start), _ms(end)
    by_seq = {c.seq: c for c in checkpoints}
    columns: dict[str, list] = {name: [] for name in SCHEMA.names}
    signed = 0
    for e in entries(url):
        if not lo <= e.at_ms < hi:
            continue
        cp = by_seq.get(e.seq)
        signed += cp is not None and cp.hash == e.hash
        row = (e.seq, e.at_ms, e.at_ms, e.kind, e.ref, e.record, e.prev, e.hash,
               cp.reason if cp else None, cp.key if cp else None, cp.signature if cp else None)  # fmt: skip
        for name, value in zip(SCHEMA.names, row, strict=True):
            columns[name].append(value)
    metadata = {b"kimera.audit.hash": HASH_RULE.encode(), b"kimera.audit.checkpoint": CHECKPOINT_RULE.encode(),
                b"kimera.audit.window": f"[{start}, {end}) UTC".encode()}  # fmt: skip
    if public_pem:
        metadata[b"kimera.audit.checkpoint_public_key"] = public_pem
    table = pa.table(columns, schema=SCHEMA.with_metadata(metadata))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    pq_files.write_table(table, partial)
    partial.replace(out)  # never a half-written export under the final name
    return Exported(out, table.num_rows, signed)


def export_cli(
    start: date,
    end: date,
    out: Path | None,
    path: Path | None,
    public_key: Path | None,
    checkpoints: Path | None,
) -> None:
    """``kimera audit export``: print where the Parquet went and how many entries and checkpoints it holds."""
    from execution.audit import default_url
    from kimera.config import ConfigError, load_config
    from kimera.settings import get_settings

    settings = get_settings()
    url = default_url(path)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        print(f"no journal at {url.removeprefix('sqlite:///')}: nothing to export", file=sys.stderr)
        sys.exit(2)
    anchor_file = checkpoints or cps.default_path(settings, load_config(settings=settings).execution.audit)
    anchors = cps.read(anchor_file) if anchor_file.is_file() else []
    default_key = settings.home_dir / "keys" / "audit_checkpoint.pub"
    key_file = public_key or (default_key if default_key.is_file() else None)
    out = out or settings.home_dir / "audit" / f"audit-{start}-{end}.parquet"
    try:
        done = export(url, start, end, out, anchors, key_file.read_bytes() if key_file else None)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    print(
        f"wrote {done.entries} audit entries and {done.checkpoints} signed checkpoints of [{start}, {end}) to {done.path}"
    )
