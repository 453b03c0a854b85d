"""``kimera reproduce ORDER_ID``: rebuild the prediction behind an order and say whether it matches.

From the journal (``execution/journal_reader.py``): the order's signal, whose body carries the model
tag, asset, feature time and the prediction as the service received it. From the warehouse: the
point-in-time window, ``marts.features`` rows with ``bar_time <= feature_time`` only (the marts are
point in time, so rows up to then are what they were when the prediction was made). From the model
store: the artefact of that tag. The model predicts the window on one CPU thread, as the served
model does, and each number is compared bit for bit; a difference of at most ``TOLERANCE``
(relative) is reported as a float-tolerance match, anything more as a mismatch. The code version the
artefact was trained with is shown beside the current one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kimera.settings import Settings

FIELDS = ("forecast", "lower", "upper", "p_up")
TOLERANCE = 1e-9  # relative; the online features' parity bound (live/features.py) is of this order


class MissingInput(LookupError):
    """An input of the reproduction is absent; the message names it and where it was looked for."""


@dataclass
class Reproduction:
    order_id: str
    model_tag: str
    asset: str
    feature_time: datetime
    recorded: dict[str, float]
    rebuilt: dict[str, float]
    window: tuple[datetime, datetime]  # first and last bar of the input window
    model_code_version: str
    code_version: str
    notes: list[str] = field(default_factory=list)

    def difference(self, name: str) -> float:
        return abs(self.rebuilt[name] - self.recorded[name])

    @property
    def verdict(self) -> str:
        """'bitwise', 'within tolerance' or 'mismatch'."""
        if all(self.rebuilt[f] == self.recorded[f] for f in FIELDS):
            return "bitwise"
        close = all(self.difference(f) <= TOLERANCE * max(1.0, abs(self.recorded[f])) for f in FIELDS)
        return "within tolerance" if close else "mismatch"

    def lines(self) -> list[str]:
        out = [
            f"order {self.order_id}: model {self.model_tag}, {self.asset} at feature time {self.feature_time:%Y-%m-%d %H:%M}",
            f"  input window: marts.features {self.window[0]:%Y-%m-%d %H:%M} .. {self.window[1]:%Y-%m-%d %H:%M} (rows after the feature time not read)",
            f"  code: artefact trained at {self.model_code_version}, now {self.code_version}",
        ]
        for f in FIELDS:
            out.append(
                f"  {f:8s} journal {self.recorded[f]!r:24s} rebuilt {self.rebuilt[f]!r:24s} |diff| {self.difference(f):.3g}"
            )
        out += [f"  note: {n}" for n in self.notes]
        rule = (
            "every number equal bit for bit"
            if self.verdict == "bitwise"
            else f"relative tolerance {TOLERANCE:g}"
        )
        out.append(f"  {self.verdict.upper()} ({rule})")
        return out


def _signal(reader, order_id: str) -> dict[str, Any]:
    """The order's signal body as the service received it."""
    found = reader.rows("SELECT signal_id, asset FROM orders WHERE client_order_id = ?", (order_id,))
    if not found:
        some = [r[0] for r in reader.rows("SELECT client_order_id FROM orders ORDER BY created_at LIMIT 3")]
        raise MissingInput(
            f"no order {order_id!r} in the journal at {reader.where}; orders there: {some or 'none'}"
        )
    signal_id = found[0][0]
    if not signal_id:
        raise MissingInput(f"order {order_id!r} carries no signal id: it was not placed from a prediction")
    body = reader.rows("SELECT body FROM signals WHERE signal_id = ?", (signal_id,))
    if not body:
        raise MissingInput(
            f"signal {signal_id!r} of order {order_id!r} is not in the journal at {reader.where}"
        )
    signal = json.loads(body[0][0])
    missing = [k for k in ("model_tag", "asset", "feature_time", *FIELDS) if signal.get(k) is None]
    if missing:
        raise MissingInput(f"signal {signal_id!r} lacks {missing}: it cannot say which prediction it was")
    return signal


def _window(settings: Settings, stored, asset: str, feature_time: datetime):
    """The model's input window of ``asset`` ending at ``feature_time``, from marts rows up to then,
    and the bar time of its first row."""
    import duckdb
    import numpy as np

    from kimera.config import load_config
    from models.marts import MartsError, read_marts
    from models.windows import make_windows

    meta = stored.metadata
    sessions = load_config(settings=settings).sessions  # windows count trading bars, as in training
    if not settings.warehouse_path.is_file():
        raise MissingInput(f"no warehouse at {settings.warehouse_path}: the feature rows cannot be read")
    end = feature_time + timedelta(microseconds=1)  # point in time: nothing after the feature time
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        try:
            marts = read_marts(con, int(meta["horizon"]), list(meta["features"]), end=end, sessions=sessions)
        except MartsError as exc:
            raise MissingInput(f"the feature rows cannot be read: {exc}") from None
    try:
        windows = make_windows(marts, int(meta["seq_len"]))
    except ValueError as exc:
        raise MissingInput(f"no input window up to {feature_time}: {exc}") from None
    index = np.flatnonzero((windows.asset == asset) & (windows.bar_time == np.datetime64(feature_time, "us")))
    if not len(index):
        raise MissingInput(
            f"marts.features has no complete {meta['seq_len']}-bar window of {asset} ending at {feature_time} "
            f"(features {list(meta['features'])}): the rows were removed or never built"
        )
    bars = marts.frame.loc[marts.frame["asset"] == asset, "bar_time"].sort_values()
    first = bars.iloc[-int(meta["seq_len"])].to_pydatetime()
    return windows.take(index), first


def reproduce(order_id: str, journal: str, settings: Settings) -> Reproduction:
    """Rebuild the prediction behind ``order_id`` in the journal at ``journal`` (URL or SQLite path).

    Raises :class:`MissingInput` naming the journal entry, feature rows or model artefact that is absent.
    """
    from execution.journal_reader import JournalReader
    from models.registry import RegistryError, code_version, get_model, load_model

    reader = JournalReader(journal)
    if not reader.exists:
        raise MissingInput(f"no journal at {reader.where}")
    try:
        signal = _signal(reader, order_id)
    finally:
        reader.close()
    tag, asset = str(signal["model_tag"]), str(signal["asset"])
    feature_time = datetime.fromisoformat(str(signal["feature_time"]).replace("Z", "+00:00")).replace(
        tzinfo=None
    )
    try:
        stored = get_model(tag, settings)
    except RegistryError as exc:
        raise MissingInput(
            f"the model artefact {tag} is not in the store under {settings.bentoml_home}: it was deleted or "
            f"trained elsewhere ({exc})"
        ) from None
    window, first = _window(settings, stored, asset, feature_time)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the served model's kernels (bentos/service.py): same bits
    try:
        forecast = load_model(tag, settings).predict(window.x, list(window.asset))
    finally:
        torch.set_num_threads(threads)
    rebuilt = {
        "forecast": float(forecast.ret[0]),
        "lower": float(forecast.lower[0]),
        "upper": float(forecast.upper[0]),
        "p_up": float(forecast.p_up[0]),
    }
    result = Reproduction(
        order_id=order_id,
        model_tag=tag,
        asset=asset,
        feature_time=feature_time,
        recorded={f: float(signal[f]) for f in FIELDS},
        rebuilt=rebuilt,
        window=(first, feature_time),
        model_code_version=str(stored.metadata.get("code_version", "unknown")),
        code_version=code_version(),
    )
    if result.model_code_version.split("+")[0] != result.code_version.split("+")[0]:
        result.notes.append("the code differs from the artefact's; a mismatch may come from the change")
    if int(signal.get("horizon", stored.metadata.get("horizon"))) != int(stored.metadata["horizon"]):
        result.notes.append(
            f"signal horizon {signal['horizon']} differs from the model's {stored.metadata['horizon']}"
        )
    if not all(math.isfinite(v) for v in rebuilt.values()):
        result.notes.append("the rebuilt prediction is not finite")
    return result


def placed_orders(journal: str) -> list[str]:
    """Ids of the journal's orders placed from a signal, oldest first."""
    from execution.journal_reader import JournalReader

    reader = JournalReader(journal)
    if not reader.exists:
        raise MissingInput(f"no journal at {reader.where}")
    try:
        sql = "SELECT client_order_id FROM orders WHERE signal_id IS NOT NULL ORDER BY created_at, client_order_id"
        return [r[0] for r in reader.rows(sql)]
    finally:
        reader.close()


def run_cli(order_id: str | None, journal: str, settings: Settings, every: bool, echo) -> int:
    """``kimera reproduce``: one order in detail, or (``every``) a line per order and a tally.
    Exit code: 0 when all match, 1 on a mismatch (or, with ``every``, any order not reproduced),
    2 when an input of the one order is missing."""
    if not every:
        try:
            result = reproduce(str(order_id), journal, settings)
        except MissingInput as exc:
            echo(f"cannot reproduce: {exc}", err=True)
            return 2
        echo("\n".join(result.lines()))
        return 1 if result.verdict == "mismatch" else 0
    try:
        ids = placed_orders(journal)
    except MissingInput as exc:
        echo(f"cannot reproduce: {exc}", err=True)
        return 2
    tally: dict[str, int] = {}
    for oid in ids:
        try:
            result = reproduce(oid, journal, settings)
            verdict, line = (
                result.verdict,
                f"{result.model_tag} {result.asset} {result.feature_time:%Y-%m-%d %H:%M}",
            )
        except MissingInput as exc:
            verdict, line = "missing input", str(exc)
        tally[verdict] = tally.get(verdict, 0) + 1
        echo(f"{oid}  {verdict:16s} {line}")
    matched = tally.get("bitwise", 0) + tally.get("within tolerance", 0)
    parts = ", ".join(f"{n} {v}" for v, n in sorted(tally.items()))
    echo(f"{matched}/{len(ids)} orders reproduced ({parts or 'no order placed from a signal'})")
    return 0 if matched == len(ids) else 1
