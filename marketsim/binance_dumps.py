"""Files in the exact layout of data.binance.vision dumps (spot and futures), for the import tests and the import benchmark."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore"
)


def _price(i: int, base: float) -> float:
    return round(base * (1 + 0.003 * math.sin(i / 7) + 0.001 * math.cos(i / 3)), 2)


def kline_lines(start_ms: int, count: int, step_ms: int, *, micros: bool = False, spot: bool = True,
                base: float = 42283.58) -> list[str]:  # fmt: skip
    """Kline rows: spot prints 8 decimals, futures the shortest form; times in ms or µs."""
    scale = 1000 if micros else 1
    lines = []
    for i in range(count):
        o, c = _price(i, base), _price(i + 1, base)
        h, lo = round(max(o, c) + 7.5, 2), round(min(o, c) - 3.25, 2)
        volume = round(10 + (i * 37 % 101) / 7, 5)
        open_t = (start_ms + i * step_ms) * scale
        close_t = (start_ms + (i + 1) * step_ms) * scale - 1
        fmt = (lambda x: f"{x:.8f}") if spot else repr
        quote = round(volume * c, 8)
        lines.append(
            ",".join([str(open_t), fmt(o), fmt(h), fmt(lo), fmt(c), fmt(volume), str(close_t), fmt(quote),
                      str(100 + i), fmt(round(volume / 2, 5)), fmt(round(quote / 2, 8)), "0"])
        )  # fmt: skip
    return lines


def trade_lines(start_ms: int, count: int, *, micros: bool = False, first_id: int = 3343370347) -> list[str]:
    """Spot trades: id,price,qty,quote_qty,time,is_buyer_maker,is_best_match (Python booleans)."""
    scale = 1000 if micros else 1
    lines = []
    for i in range(count):
        price, qty = _price(i, 42283.58), round(0.0002 + (i * 13 % 50) / 1000, 5)
        ts = (start_ms + i * 137) * scale
        lines.append(f"{first_id + i},{price:.8f},{qty:.8f},{price * qty:.8f},{ts},{i % 3 == 0},True")
    return lines


def agg_trade_lines(start_ms: int, count: int, first_id: int = 2985316637) -> list[str]:
    """Spot aggTrades: agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match."""
    lines = []
    for i in range(count):
        price, qty = _price(i, 2280.5), round(0.01 + (i * 7 % 30) / 100, 5)
        lines.append(
            f"{first_id + i},{price:.8f},{qty:.8f},{100 + 2 * i},{101 + 2 * i},{start_ms + i * 211},{i % 2 == 1},True"
        )
    return lines


def write_csv(path: Path, lines: list[str], header: str | None = None) -> Path:
    path.write_text("\n".join(([header] if header else []) + lines) + "\n")
    return path


def write_zip(path: Path, member: str, lines: list[str], header: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, "\n".join(([header] if header else []) + lines) + "\n")
    return path
