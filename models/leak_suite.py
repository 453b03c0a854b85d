"""The leak suite: a small honest pipeline, six deliberately leaky variants of it, and which of the
checks in :mod:`models.leak_checks` catches each.

The pipeline runs from raw minute prices to fills: hourly bars stamped at their close, features from
trailing windows, forward-return labels, the project's walk-forward linear member
(:func:`models.walk_forward.run_member`, scaler fit on each fold's fit part), and a strategy that
fills at the first traded minute after the signal bar's close. Each variant swaps one stage for a
leaky one. The suite passes when every variant is caught by at least one check and the honest
pipeline by none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kimera.config import ModelsConfig
from models.leak_checks import (
    Finding,
    feature_truncation,
    fill_timing,
    label_alignment,
    prediction_truncation,
)

BAR = pd.Timedelta(hours=1)
HORIZON = 1
LATENCY = pd.Timedelta(minutes=1)


def raw_minutes(days: int = 30, assets: tuple[str, ...] = ("BTC", "ETH"), seed: int = 7) -> pd.DataFrame:
    """Seeded minute prices (asset, ts, price): the raw trades every stage starts from."""
    rng = np.random.default_rng(seed)
    n = days * 24 * 60
    ts = pd.date_range("2026-01-01", periods=n, freq="1min").astype("datetime64[us]")
    frames = []
    for i, asset in enumerate(assets):
        log_price = np.log(100.0 * (i + 1)) + np.cumsum(0.0008 * rng.standard_normal(n))
        frames.append(pd.DataFrame({"asset": asset, "ts": ts, "price": np.round(np.exp(log_price), 6)}))
    return pd.concat(frames, ignore_index=True)


# --- stages: the honest version and its leaky twin ------------------------------------------------


def bars(raw: pd.DataFrame, own_close: bool = False) -> pd.DataFrame:
    """Hourly bars stamped at their close: minutes in [T - 1h, T) make the bar at T. The leak
    (``own_close``) stamps the bar at its open, so its close is used an hour before it happens."""
    start = raw["ts"].dt.floor("1h")
    stamp = start if own_close else start + BAR
    out = raw.assign(bar_time=stamp).groupby(["asset", "bar_time"], sort=True)["price"].last()
    return out.rename("close").reset_index()


def features(bar_rows: pd.DataFrame, future_shift: bool = False, centred: bool = False) -> pd.DataFrame:
    """Per asset: the last bar's log return, its 6-bar sum and 24-bar volatility (trailing windows)."""
    out = []
    for _, rows in bar_rows.groupby("asset", sort=True):
        ret = np.log(rows["close"]).diff()
        out.append(
            pd.DataFrame(
                {
                    "asset": rows["asset"],
                    "bar_time": rows["bar_time"],
                    "ret_1": ret.shift(-1) if future_shift else ret,
                    "mom_6": ret.rolling(6, center=centred).sum(),
                    "vol_24": ret.rolling(24).std(),
                }
            )
        )
    return pd.concat(out, ignore_index=True)


def labels(bar_rows: pd.DataFrame, same_bar: bool = False) -> pd.DataFrame:
    """The forward log return from close t to close t + HORIZON (NULL until that bar exists). The leak
    (``same_bar``) joins the return that ends at t onto bar t."""
    out = []
    for _, rows in bar_rows.groupby("asset", sort=True):
        log_close = np.log(rows["close"])
        fwd = log_close - log_close.shift(HORIZON) if same_bar else log_close.shift(-HORIZON) - log_close
        out.append(pd.DataFrame({"asset": rows["asset"], "bar_time": rows["bar_time"], "fwd_ret": fwd}))
    return pd.concat(out, ignore_index=True)


def suite_config() -> ModelsConfig:
    """Walk-forward sizes small enough to run the suite in seconds on one core."""
    return ModelsConfig.model_validate(
        dict(seq_len=4, train_bars=300, val_bars=80, test_bars=120, max_windows=20, seeds=[0], threads=1)
    )


def predictions(
    feature_rows: pd.DataFrame, label_rows: pd.DataFrame, all_rows_scaler: bool = False
) -> pd.DataFrame:
    """Walk-forward predictions of the linear member. The leak (``all_rows_scaler``) swaps each
    trained model's scaler for one fit on every window, the test windows and later ones included."""
    from models.marts import align
    from models.scaling import Scaler
    from models.walk_forward import evaluation_folds, frame_of, run_member, split, train_member
    from models.windows import make_windows

    cfg = suite_config()
    label_rows = label_rows.assign(
        fwd_dir=np.where(label_rows["fwd_ret"].isna(), np.nan, label_rows["fwd_ret"] > 0)
    )
    label_rows = label_rows.rename(columns={"fwd_ret": f"fwd_ret_{HORIZON}", "fwd_dir": f"fwd_dir_{HORIZON}"})
    windows = make_windows(align(feature_rows, label_rows, HORIZON), cfg.seq_len)
    folds = evaluation_folds(windows, cfg)
    if not all_rows_scaler:
        return run_member("linear", windows, folds, cfg).predictions
    labelled = windows.take(np.flatnonzero(windows.labelled))
    frames = []
    for fold in folds:
        fit, val, test = split(windows, fold)
        model = train_member("linear", fit, val, cfg, cfg.seeds[0])
        model.scaler = Scaler.fit(labelled.select(model.feature_names))
        for part, w in (("val", val), ("test", test)):
            frames.append(
                frame_of("linear", cfg.seeds[0], fold.number, part, w, model.predict_windows(w), cfg)
            )
    return pd.concat(frames, ignore_index=True)


def fills(prediction_rows: pd.DataFrame, raw: pd.DataFrame, at_signal_close: bool = False) -> pd.DataFrame:
    """One fill per test bar with a position: at the first traded minute at least LATENCY after the
    signal bar's close. The leak (``at_signal_close``) fills at the signal bar's own close, at its time."""
    signals = prediction_rows[(prediction_rows["part"] == "test") & (prediction_rows["position"] != 0)]
    signals = signals[["asset", "bar_time", "position"]].rename(columns={"bar_time": "signal_time"})
    if at_signal_close:
        closes = bars(raw).rename(columns={"bar_time": "signal_time", "close": "price"})
        out = signals.merge(closes, on=["asset", "signal_time"], how="inner")
        return out.assign(fill_time=out["signal_time"])
    prices = raw.rename(columns={"ts": "fill_time"}).sort_values("fill_time")
    wanted = signals.assign(fill_time=signals["signal_time"] + LATENCY).sort_values("fill_time")
    # the first trade at or after signal + latency; none after the last minute: no fill
    return pd.merge_asof(wanted, prices, on="fill_time", by="asset", direction="forward").dropna(
        subset=["price"]
    )


# --- the pipeline and the suite --------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """A pipeline with at most one leaky stage; ``leak`` says, in a trader's words, what it does."""

    name: str
    leak: str
    switches: dict[str, bool] = field(default_factory=dict)

    def on(self, switch: str) -> bool:
        return self.switches.get(switch, False)

    def features(self, raw: pd.DataFrame) -> pd.DataFrame:
        return features(bars(raw, self.on("own_close")), self.on("future_shift"), self.on("centred"))

    def labels(self, raw: pd.DataFrame) -> pd.DataFrame:
        return labels(bars(raw, self.on("own_close")), self.on("same_bar"))

    def predictions(self, raw: pd.DataFrame) -> pd.DataFrame:
        return predictions(self.features(raw), self.labels(raw), self.on("all_rows_scaler"))

    def fills(self, raw: pd.DataFrame, prediction_rows: pd.DataFrame) -> pd.DataFrame:
        return fills(prediction_rows, raw, self.on("at_signal_close"))


CLEAN = Variant("clean", "none: the honest pipeline")
VARIANTS = (
    Variant("future_shift", "a feature shifted one bar into the future", {"future_shift": True}),
    Variant("centred_window", "a centred rolling window", {"centred": True}),
    Variant("same_bar_label", "a label joined on the same bar", {"same_bar": True}),
    Variant("all_rows_scaler", "a scaler fit on all rows", {"all_rows_scaler": True}),
    Variant("own_close_resample", "a resample that uses the bar's own close", {"own_close": True}),
    Variant(
        "trade_at_signal_close", "a strategy that trades at the signal bar's close", {"at_signal_close": True}
    ),
)


@dataclass(frozen=True)
class Verdict:
    variant: Variant
    findings: tuple[Finding, ...]

    @property
    def caught_by(self) -> list[str]:
        return [f.check for f in self.findings if f.leak]

    @property
    def ok(self) -> bool:
        """A leaky variant must be caught; the clean pipeline must not be."""
        return bool(self.caught_by) != (self.variant is CLEAN)


def check_variant(variant: Variant, raw: pd.DataFrame) -> Verdict:
    """Run every check on ``variant``'s stages over ``raw``."""
    times = np.sort(raw["ts"].unique())
    first, last = pd.Timestamp(times[0]), pd.Timestamp(times[-1])
    span = last - first
    # bar boundaries a third and two thirds in, and one cut in the middle of a bar
    at = [(first + span * k / 3).floor("1h") for k in (1, 2)]
    cuts = [*at, at[0] + pd.Timedelta(minutes=30)]
    preds = variant.predictions(raw)
    first_test = preds[preds["part"] == "test"]
    window0 = first_test[first_test["window"] == first_test["window"].min()]
    test_end = window0["bar_time"].max() + BAR
    findings = (
        feature_truncation(variant.features, raw, cuts),
        label_alignment(variant.labels, raw, at, HORIZON, BAR),
        prediction_truncation(variant.predictions, raw, cut=test_end + HORIZON * BAR, before=test_end),
        fill_timing(variant.fills(raw, preds), raw),
    )
    return Verdict(variant, findings)


def run_suite(
    raw: pd.DataFrame | None = None, variants: tuple[Variant, ...] = (CLEAN, *VARIANTS),
    on_verdict: Callable[[Verdict], None] | None = None,
) -> list[Verdict]:  # fmt: skip
    """Every variant through every check, on ``raw`` (default: :func:`raw_minutes`)."""
    raw = raw_minutes() if raw is None else raw
    verdicts = []
    for variant in variants:
        verdict = check_variant(variant, raw)
        verdicts.append(verdict)
        if on_verdict is not None:
            on_verdict(verdict)
    return verdicts


def table(verdicts: list[Verdict]) -> str:
    """The suite's result, a line per variant: what leaks, which checks caught it, and the verdict."""
    lines = [f"{'variant':24s} {'caught by':40s} {'verdict':8s} leak"]
    for v in verdicts:
        caught = ", ".join(v.caught_by) or "-"
        words = ("clean", "FALSE+") if v.variant is CLEAN else ("caught", "MISSED")
        verdict = words[0] if v.ok else words[1]
        lines.append(f"{v.variant.name:24s} {caught:40s} {verdict:8s} {v.variant.leak}")
    leaky = [v for v in verdicts if v.variant is not CLEAN]
    caught = sum(v.ok for v in leaky)
    lines.append(f"{caught}/{len(leaky)} leaky variants caught ({100 * caught / max(len(leaky), 1):.0f} %)")
    return "\n".join(lines)
