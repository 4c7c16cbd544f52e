"""Corrupt prices (issue 16, item 4): bad prints, unadjusted splits and level shifts are named, never silent.

Generated panels carry one corruption each; the real files of ../shared/data (skipped when absent) check that
real market moves — single-stock earnings crashes, the March 2020 crash days — pass, and that the real data
errors they hold are found.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest_data import shared_frame

from wealtharena_env.data import DataRepairWarning, DataWarning, from_dataframe, validate_frame
from wealtharena_env.data.validate import (
    MAX_MOVE_SIGMA,
    SMALL_SPLIT_RATIOS,
    _ratio_label,
    find_implausible_moves,
    volume_ratio,
)
from wealtharena_env.errors import ConfigError, WealthArenaDataError

N_DAYS = 400
TICKERS = tuple(f"T{k:02d}" for k in range(12))
DATES = pd.bdate_range("2018-01-01", periods=N_DAYS)


def panel(seed: int = 0) -> dict[str, np.ndarray]:
    """Clean bars: a market factor (0.6 % a day) plus 0.8 % idiosyncratic noise, volume around 1e6."""
    rng = np.random.default_rng(seed)
    n = len(TICKERS)
    r = rng.normal(0.0003, 0.006, (N_DAYS, 1)) + rng.normal(0.0, 0.008, (N_DAYS, n))
    close = 40.0 * (1 + np.arange(n) / 4) * np.exp(np.cumsum(r, axis=0))
    open_ = close * np.exp(rng.normal(0, 0.003, close.shape))
    return {
        "open": open_,
        "high": np.maximum(open_, close) * 1.004,
        "low": np.minimum(open_, close) * 0.996,
        "close": close,
        "volume": rng.lognormal(np.log(1e6), 0.3, close.shape),
    }


def long(bars: dict[str, np.ndarray], tickers=TICKERS) -> pd.DataFrame:
    n = len(tickers)
    cols = {"date": np.tile(DATES, n), "ticker": np.repeat(tickers, N_DAYS)}
    for f, a in bars.items():
        cols[f] = a[:, :n].T.reshape(-1)
    return pd.DataFrame(cols)


def scale_bars(
    bars: dict[str, np.ndarray], rows: slice | int, j: int, factor: float
) -> dict[str, np.ndarray]:
    out = {f: a.copy() for f, a in bars.items()}
    for f in ("open", "high", "low", "close"):
        out[f][rows, j] *= factor
    return out


def quiet_day(bars: dict[str, np.ndarray], j: int, after: int = 250) -> int:
    """A day after ``after`` on which ticker ``j`` barely moved (a split there is exactly the split ratio)."""
    r = np.abs(np.diff(np.log(bars["close"][:, j])))
    return int(after + np.flatnonzero(r[after:] < 0.004)[0] + 1)


def day(i: int) -> str:
    return DATES[i].strftime("%Y-%m-%d")


def no_data_warnings(frame: pd.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        return from_dataframe(frame, **kw)


# ----------------------------------------------------------------------------- generated corruptions
def test_clean_panel_loads_without_any_warning():
    md = no_data_warnings(long(panel()))
    assert md.n_steps == N_DAYS and md.n_assets == len(TICKERS)


def test_one_day_print_is_an_error_and_drop_or_repair_removes_the_bar():
    bars = panel()
    bad = scale_bars(bars, 200, 5, 1.5)  # the whole bar of T05 printed 50 % too high, once
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(long(bad))
    msg = str(err.value)
    c = bad["close"][:, 5]
    assert "1 isolated bad print(s)" in msg and f"T05 {day(200)} (close" in msg
    assert (
        f"x{c[200] / c[199]:.4g}" in msg and f"→ {c[201]:.6g}" in msg
    )  # the bar and the one that comes back
    assert "sd of T05's moves" in msg and "on_bad_rows='drop' or 'repair'" in msg
    with pytest.warns(DataRepairWarning, match=f"dropped 1 isolated bad print.*T05 {day(200)}"):
        md = from_dataframe(long(bad), on_bad_rows="drop")
    assert md.n_steps == N_DAYS - 1 and np.datetime64(day(200)) not in md.dates  # intersect drops the date
    with pytest.warns(DataRepairWarning, match="isolated bad print"):
        ff = from_dataframe(long(bad), on_bad_rows="repair", calendar="ffill")
    assert ff.n_steps == N_DAYS
    assert ff.close[200, 5] == ff.close[199, 5] == bars["close"][199, 5] and ff.volume[200, 5] == 0
    np.testing.assert_array_equal(ff.close[:, 4], bars["close"][:, 4])


SPLITS = [(1 / q, _ratio_label(1 / q)) for q in SMALL_SPLIT_RATIOS] + [
    (q, _ratio_label(q)) for q in SMALL_SPLIT_RATIOS
]


def test_split_labels():
    assert [label for _, label in SPLITS] == [
        "3:2 split",
        "4:3 split",
        "5:4 split",
        "2:3 reverse split",
        "3:4 reverse split",
        "4:5 reverse split",
    ]
    assert _ratio_label(0.5) == "2:1 split" and _ratio_label(10.0) == "1:10 reverse split"


@pytest.mark.parametrize(("ratio", "label"), SPLITS)
def test_unadjusted_small_split_is_named_and_repair_adjusts_it(ratio, label):
    """``ratio`` = price after / before: a 3:2 split (2/3) leaves the earlier, unadjusted prices 1.5x too
    high."""
    bars = panel()
    k = quiet_day(bars, 3)
    bad = scale_bars(bars, slice(0, k), 3, 1 / ratio)
    bad["volume"][:k, 3] *= ratio  # fewer shares before a split
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(long(bad))
    msg = str(err.value)
    assert f"T03 {day(k)} (close" in msg and f"looks like a {label}" in msg and "on_split='adjust'" in msg
    with pytest.warns(DataRepairWarning, match=f"T03 {day(k)}.*back-adjusted"):
        md = from_dataframe(long(bad), on_bad_rows="repair")  # repair adjusts splits
    np.testing.assert_allclose(md.close, bars["close"], rtol=1e-12)
    np.testing.assert_allclose(md.volume, bars["volume"], rtol=1e-12)
    with pytest.warns(DataRepairWarning, match="back-adjusted"):
        from_dataframe(long(bad), on_split="adjust")


def test_permanent_level_shift_is_an_error_and_repair_drops_the_ticker():
    bars = panel()
    bad = scale_bars(bars, slice(300, None), 7, 1.45)
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(long(bad))
    msg = str(err.value)
    assert "1 implausible one-bar move(s) that do not come back and match no split ratio" in msg
    c = bad["close"][:, 7]
    assert f"T07 {day(300)} (close {c[299]:.6g} → {c[300]:.6g}, x{c[300] / c[299]:.4g}" in msg
    assert "volume 1.0x its median" in msg or "volume 0.9x its median" in msg
    assert "on_bad_rows='repair' drops such tickers" in msg and "max_move_sigma" in msg
    with pytest.raises(WealthArenaDataError, match=f"T07 {day(300)}"):
        from_dataframe(long(bad), on_bad_rows="drop")  # rows cannot fix it
    with pytest.warns(
        DataRepairWarning, match=rf"dropped 1 ticker\(s\) \(T07\).*cannot repair.*T07 {day(300)}"
    ):
        md = from_dataframe(long(bad), on_bad_rows="repair")
    assert "T07" not in md.tickers and md.n_assets == len(TICKERS) - 1 and md.n_steps == N_DAYS
    # a real move: the user says so
    assert no_data_warnings(long(bad), max_move_sigma=None).n_assets == len(TICKERS)


def test_market_wide_crash_day_passes():
    bars = scale_bars(panel(), slice(250, None), slice(None), 0.88)  # -12 % on every ticker at once
    md = no_data_warnings(long(bars))
    np.testing.assert_allclose(md.close[250] / md.close[249], bars["close"][250] / bars["close"][249])


def test_crash_of_a_single_index_passes_and_news_volume_excuses_a_stock_move():
    bars = panel()
    crash = scale_bars(bars, slice(250, None), 0, 0.88)
    crash["volume"][250, 0] *= 4
    no_data_warnings(long(crash, TICKERS[:1]))  # alone: no cross-section, but an index crash trades heavily
    closes = long(crash, TICKERS[:1])
    closes = closes.assign(open=closes["close"], high=closes["close"], low=closes["close"], volume=1e15)
    no_data_warnings(closes)  # the volume is unknown (constant): only far larger moves are suspect
    # an earnings crash of one stock, -30 %: real with 8x its volume, suspect on an ordinary day
    earnings = scale_bars(bars, slice(260, None), 2, 0.70)
    earnings["volume"][260, 2] *= 8
    no_data_warnings(long(earnings))
    ordinary = scale_bars(bars, slice(260, None), 2, 0.70)
    with pytest.raises(WealthArenaDataError, match=f"T02 {day(260)}.*volume 1.0x its median"):
        from_dataframe(long(ordinary))


def test_max_move_sigma_is_checked_and_short_series_are_not_judged():
    with pytest.raises(ConfigError, match="max_move_sigma=0"):
        from_dataframe(long(panel()), max_move_sigma=0)
    with pytest.raises(ConfigError, match="max_move_sigma='x'"):
        from_dataframe(long(panel()), max_move_sigma="x")
    short = long(scale_bars(panel(), slice(10, None), 1, 1.3))
    short = short[short["date"] < DATES[15]]
    no_data_warnings(short)  # 14 returns: too few for a robust scale (MOVE_MIN_RETURNS)


def test_find_implausible_moves_and_volume_ratio_directly():
    bars = scale_bars(panel(), 120, 0, 0.6)  # a -40 % print on ticker 0
    bars = scale_bars(bars, slice(300, None), 1, 1.45)
    frame = long(bars, TICKERS[:2])
    x = np.log(frame["close"].to_numpy())
    same = np.r_[False, frame["ticker"].to_numpy()[1:] == frame["ticker"].to_numpy()[:-1]]
    r = np.where(same, np.r_[np.nan, np.diff(x)], np.nan)
    moves = find_implausible_moves(r, same, frame["date"].to_numpy(), frame["volume"].to_numpy())
    assert moves.row.tolist() == [120, N_DAYS + 300] and moves.kind.tolist() == ["print", "shift"]
    assert (moves.sigma >= MAX_MOVE_SIGMA).all() and np.isnan(moves.ratio).all()
    assert (
        len(
            find_implausible_moves(
                r, same, frame["date"].to_numpy(), frame["volume"].to_numpy(), max_move_sigma=1e4
            )
        )
        == 0
    )
    vr = volume_ratio(
        np.r_[np.full(50, 100.0), np.full(50, 7.0)],
        np.array([10, 60]),
        np.r_[False, [True] * 49, False, [True] * 49],
    )
    assert np.isnan(vr).all()  # constant volume = unknown
    vr = volume_ratio(np.r_[np.zeros(20), 5.0, np.zeros(19)], np.array([20]), np.r_[False, [True] * 39])
    assert vr.tolist() == [0.0]  # a ticker that hardly trades: no volume evidence of news


# ----------------------------------------------------------------------------- real files
def move_warnings(frame: pd.DataFrame, **kw) -> list[str]:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        validate_frame(frame, on_bad_rows="repair", on_duplicate="first", **kw)
    needles = ("bad print", "cannot repair", "look like unadjusted splits")
    return [str(w.message) for w in rec if any(n in str(w.message) for n in needles)]


@pytest.mark.parametrize("name", ["dow30", "m6"])
def test_real_files_raise_no_false_positive(name):
    """Every ticker of the Dow 30 (2015-2020) and the M6 universe (2017-2022, March 2020 included) passes."""
    assert move_warnings(shared_frame(name)) == []


def test_etf15_only_the_known_splits_and_the_xlf_distribution():
    df = shared_frame("etf15")
    msgs = move_warnings(df)
    assert len(msgs) == 2
    drop, splits = msgs
    assert "dropped 1 ticker(s) (XLF)" in drop and "XLF 2016-09-19 (close 23.62 → 19.31" in drop
    assert "7 jump(s) that look like unadjusted splits" in splits
    with pytest.raises(WealthArenaDataError, match="do not come back.*XLF 2016-09-19"):
        from_dataframe(df[df["ticker"] == "XLF"])
    # SPY over 25 years (2008, March 2020) is clean
    no_data_warnings(df[df["ticker"] == "SPY"])


def test_sp500_real_errors_are_found_and_real_crashes_pass():
    df = shared_frame("sp500")
    msgs = move_warnings(df)
    drop = next(m for m in msgs if "cannot repair" in m)
    assert "dropped 6 ticker(s) (BHF, CA, COL, DHR, SCG, VTR)" in drop
    assert "DHR 2016-07-05 (adj_close 51.9235 → 78.7463; close 77.5739 → 80.4" in drop  # the FTV spin-off
    assert "VTR 2015-08-18 (adj_close 62.272 → 47.5918, x0.7643" in drop  # its spin-off of CCP
    split = next(m for m in msgs if "look like unadjusted splits" in m)
    assert "1 jump(s)" in split and "UA 2016-03-23" in split and "2:1 split" in split  # class C shares
    assert not any("bad print" in m for m in msgs)
    # PG&E's bankruptcy day (-52 % on 2019-01-14 on heavy volume) is not a 2:1 split; KHC's -27 % passes
    for ticker in ("PCG", "KHC", "EXPE", "BIIB"):
        assert len(from_dataframe(shared_frame("sp500", [ticker])).tickers) == 1
    with pytest.raises(WealthArenaDataError, match="do not come back.*VTR 2015-08-18"):
        from_dataframe(shared_frame("sp500", ["VTR"]))
