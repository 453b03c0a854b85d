"""Walk-forward splits over bar times: fit, purge, validation, purge, test; then slide.

Layout of one fold, in bars (``gap`` = horizon + 1 purge bars + the embargo)::

    [ fit ............ ][gap][ val ][gap][ test ]

A sample's label at t covers t..t+h, so with ``gap >= h + 1`` no fit label overlaps a validation
bar and no training label (fit or val) overlaps a test bar. Folds are anchored at the first bar and
slide by ``test_bars``, so removing data after a fold's test window never changes that fold.
Validation (early stopping, calibration, ensemble weights) lies inside the training window only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: the bar times of each part (half-open ``[start, end)``)."""

    number: int
    fit: tuple[np.datetime64, np.datetime64]
    val: tuple[np.datetime64, np.datetime64]
    test: tuple[np.datetime64, np.datetime64]

    @property
    def train_start(self) -> np.datetime64:
        return self.fit[0]

    @property
    def train_end(self) -> np.datetime64:
        return self.val[1]

    def mask(self, bar_time: np.ndarray, part: str) -> np.ndarray:
        start, end = getattr(self, part)
        return (bar_time >= start) & (bar_time < end)


@dataclass(frozen=True)
class WalkForward:
    """Sizes of the walk-forward scheme, in bars."""

    train_bars: int
    val_bars: int
    test_bars: int
    horizon: int
    embargo_bars: int = 0
    expanding: bool = False

    def __post_init__(self) -> None:
        if self.val_bars >= self.train_bars - self.gap:
            raise ValueError(
                f"val_bars ({self.val_bars}) must leave fit bars in a training window of "
                f"{self.train_bars} bars after a {self.gap}-bar purge"
            )

    @property
    def gap(self) -> int:
        """Bars left out between parts: the purge (horizon + 1) plus the embargo."""
        return self.horizon + 1 + self.embargo_bars

    @property
    def fold_bars(self) -> int:
        return self.train_bars + self.gap + self.test_bars

    def folds(self, bar_times: np.ndarray, max_folds: int | None = None, last: bool = True) -> list[Fold]:
        """Folds over the sorted unique ``bar_times``; at most ``max_folds`` (the latest when ``last``).

        Raises ValueError naming the bars needed when there are too few for one fold.
        """
        times = np.unique(np.asarray(bar_times, dtype="datetime64[us]"))
        if len(times) < self.fold_bars:
            raise ValueError(
                f"walk-forward needs at least {self.fold_bars} bars (train {self.train_bars} + gap "
                f"{self.gap} + test {self.test_bars}), found {len(times)}"
            )
        folds: list[Fold] = []
        number = 0
        test_start = self.train_bars + self.gap
        while test_start + self.test_bars <= len(times):
            train_end = test_start - self.gap  # index of the first bar after the training window
            train_start = 0 if self.expanding else train_end - self.train_bars
            val_start = train_end - self.val_bars
            fit_end = val_start - self.gap
            folds.append(
                Fold(
                    number=number,
                    fit=(times[train_start], times[fit_end]),
                    val=(times[val_start], _end(times, train_end)),
                    test=(times[test_start], _end(times, test_start + self.test_bars)),
                )
            )
            number += 1
            test_start += self.test_bars
        if max_folds is not None and len(folds) > max_folds:
            folds = folds[-max_folds:] if last else folds[:max_folds]
        return folds

    def final(self, bar_times: np.ndarray) -> Fold:
        """The training window ending at the newest labelled bar, for the model that goes to the registry.

        Its "test" part is empty: it lies after the data, where the model will be used.
        """
        times = np.unique(np.asarray(bar_times, dtype="datetime64[us]"))
        need = self.train_bars
        if len(times) < need:
            raise ValueError(f"a training window needs {need} labelled bars, found {len(times)}")
        end = len(times)
        start = 0 if self.expanding else end - self.train_bars
        val_start = end - self.val_bars
        after = _end(times, end)
        return Fold(
            number=-1,
            fit=(times[start], times[val_start - self.gap]),
            val=(times[val_start], after),
            test=(after, after),
        )


def _end(times: np.ndarray, index: int) -> np.datetime64:
    """Exclusive end at ``index``: that bar's time, or one step past the last bar."""
    if index < len(times):
        return times[index]
    step = times[-1] - times[-2] if len(times) > 1 else np.timedelta64(1, "h")
    return times[-1] + step
