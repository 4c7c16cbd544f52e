"""Splits: DateSplits (dates or fractions, no overlap by default), resolve_split, walk-forward folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wealtharena_env.data import (
    DEFAULT_SPLITS,
    DateSplits,
    MarketData,
    SplitOverlapWarning,
    resolve_split,
    walk_forward,
)
from wealtharena_env.errors import ConfigError


@pytest.fixture(scope="module")
def md() -> MarketData:
    dates = pd.bdate_range("2020-01-01", periods=200)
    close = np.linspace(100, 120, 200)[:, None] * np.array([1.0, 2.0])
    return MarketData(
        open=close,
        high=close * 1.01,
        low=close * 0.99,
        close=close,
        volume=np.ones_like(close),
        dates=dates.to_numpy(),
        tickers=("A", "B"),
    )


def test_date_splits_partition_the_data(md):
    s = DateSplits(
        train=("2020-01-01", "2020-04-01"), validation=("2020-04-01", "2020-06-01"), test=("2020-06-01", None)
    )
    parts = [md.split_by(s, n) for n in ("train", "validation", "test")]
    assert sum(p.n_steps for p in parts) == md.n_steps
    assert parts[0].dates[-1] < parts[1].dates[0] and parts[1].dates[-1] < parts[2].dates[0]
    assert parts[1].dates[0] == np.datetime64("2020-04-01")  # the split's data begins at its start
    assert parts[2].dates[-1] == md.dates[-1]
    assert s.names == ("train", "validation", "test")


def test_overlap_raises_unless_allowed():
    with pytest.raises(ConfigError) as err:
        DateSplits(train=("2020-01-01", "2020-06-01"), test=("2020-05-01", "2020-12-01"))
    msg = str(err.value)
    assert (
        "train [2020-01-01, 2020-06-01) and test [2020-05-01, 2020-12-01) share [2020-05-01, 2020-06-01)"
        in msg
    )
    assert "allow_overlap=True" in msg
    with pytest.warns(SplitOverlapWarning, match="in-sample and optimistic"):
        DateSplits(train=("2020-01-01", "2020-06-01"), test=("2020-05-01", "2020-12-01"), allow_overlap=True)
    # touching ranges (end is exclusive) and open ends are fine
    DateSplits(train=(None, "2020-06-01"), test=("2020-06-01", None))
    with pytest.raises(ConfigError, match="share"):
        DateSplits(train=(None, "2020-06-02"), test=("2020-06-01", None))


def test_fraction_splits_and_default(md):
    s = DateSplits(train=0.6, validation=0.2, test=0.2)
    b = s.bounds(md)
    assert b["train"][0] == pd.Timestamp(md.dates[0]) and b["test"][1] is None
    sizes = [resolve_split(md, (s, n)).n_steps for n in s.names]
    assert sizes == [120, 40, 40]
    assert resolve_split(md, "train").n_steps == round(0.7 * 200)  # DEFAULT_SPLITS
    assert resolve_split(md, "test").dates[-1] == md.dates[-1]
    assert DEFAULT_SPLITS.names == ("train", "validation", "test")
    assert resolve_split(md, "validation", DateSplits(train=0.5, validation=0.5)).n_steps == 100


def test_split_argument_errors(md):
    with pytest.raises(ConfigError, match="sum to 1.2"):
        DateSplits(train=0.7, test=0.5)
    with pytest.raises(ConfigError, match="mixes fractions and date ranges"):
        DateSplits(train=0.7, test=("2020-01-01", "2021-01-01"))
    with pytest.raises(ConfigError, match="before end"):
        DateSplits(train=("2021-01-01", "2020-01-01"))
    with pytest.raises(ConfigError, match="at least one"):
        DateSplits()
    with pytest.raises(ConfigError, match="no 'validation' split"):
        resolve_split(md, (DateSplits(train=0.8, test=0.2), "validation"))
    with pytest.raises(ConfigError, match="unknown split 'dev'"):
        resolve_split(md, "dev")
    with pytest.raises(ConfigError, match="needs a split name"):
        resolve_split(md, DEFAULT_SPLITS)
    with pytest.raises(ValueError, match="no bars in"):
        resolve_split(md, ("2030-01-01", "2031-01-01"))


def test_resolve_split_forms(md):
    assert resolve_split(md, None) is md
    part = resolve_split(md, ("2020-02-03", "2020-03-02"))
    assert part.dates[0] == np.datetime64("2020-02-03") and part.n_steps == 20


def test_walk_forward_rolling_folds(md):
    folds = walk_forward(md, train_size=100, test_size=20)
    assert len(folds) == 5  # (200 - 120) // 20 + 1
    for k, f in enumerate(folds):
        assert f.index == k and f.train.n_steps == 100 and f.test.n_steps == 20
        assert f.train.dates[-1] < f.test.dates[0]
        assert f.train.dates[0] == md.dates[20 * k]
        assert pd.Timestamp(f.test.dates[0]) == f.test_range[0] == f.train_range[1]
    assert folds[-1].test.dates[-1] == md.dates[-1]
    tests = np.concatenate([f.test.dates for f in folds])
    assert len(np.unique(tests)) == len(tests)  # back-to-back, non-overlapping test windows


def test_walk_forward_n_folds_expanding_gap_and_fractions(md):
    folds = walk_forward(md, n_folds=4, train_size=80, test_size=30, gap=5, expanding=True)
    assert len(folds) == 4
    assert [f.train.n_steps for f in folds] == [80 + 28 * k for k in range(4)]  # step = (200-115)//3 = 28
    assert all(f.train.dates[0] == md.dates[0] for f in folds)
    assert all((f.test.dates[0] - f.train.dates[-1]).astype("timedelta64[D]").astype(int) >= 5 for f in folds)
    assert folds[-1].test.dates[-1] <= md.dates[-1]
    frac = walk_forward(md, train_size=0.5, test_size=0.25, step=0.25)
    assert [(f.train.n_steps, f.test.n_steps) for f in frac] == [(100, 50), (100, 50)]


def test_walk_forward_errors(md):
    with pytest.raises(ConfigError, match="only 2 fold"):
        walk_forward(md, n_folds=5, train_size=100, test_size=40, step=40)
    with pytest.raises(ConfigError, match="> the 200 bars"):
        walk_forward(md, train_size=190, test_size=20)
    with pytest.raises(ConfigError, match="needs test_size"):
        walk_forward(md, train_size=100)
    with pytest.raises(ConfigError, match="whole number"):
        walk_forward(md, train_size=100.5, test_size=10)
