"""Validation: every bad-input class gets a clear error (ticker, date, fix) or a documented repair.

The real files in ../shared/data carry known bad rows (see its README.md); each class is tested on them,
plus small synthetic frames for the classes the files do not have (NaN, unsorted dates).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest_data import shared_frame

from wealtharena_env.data import (
    DataQualityWarning,
    DataRepairWarning,
    DataWarning,
    from_dataframe,
    validate_frame,
)
from wealtharena_env.data.validate import SPLIT_RATIOS, find_split_jumps
from wealtharena_env.errors import ConfigError, WealthArenaDataError


def window(df: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    return df[(df["date"] >= start) & (df["date"] < end)].reset_index(drop=True)


def synthetic(n: int = 6, tickers=("AAA", "BBB")) -> pd.DataFrame:
    rows = []
    for k, t in enumerate(tickers):
        for i, d in enumerate(pd.bdate_range("2024-01-01", periods=n)):
            c = 10.0 * (k + 1) + i * 0.1
            rows.append(
                {
                    "date": d,
                    "ticker": t,
                    "open": c,
                    "high": c + 0.5,
                    "low": c - 0.5,
                    "close": c,
                    "volume": 1000.0,
                }
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- sp500: row-level classes
def test_cbs_all_zero_duplicate_row():
    df = shared_frame("sp500", ["CBS"])
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(df)
    msg = str(err.value)
    assert "CBS 2019-12-04" in msg and "non-positive" in msg and "all-zero placeholder" in msg
    assert "on_bad_rows='drop'" in msg
    with pytest.warns(DataRepairWarning, match="dropped 1 row.*CBS 2019-12-04"):
        md = from_dataframe(df, on_bad_rows="drop")
    assert md.dates[-1] == np.datetime64("2019-12-04") and (md.close > 0).all()


def test_sti_viab_duplicate_dates():
    df = shared_frame("sp500", ["STI", "VIAB"])
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(df, calendar="ffill")
    msg = str(err.value)
    assert "STI 2019-12-06 (2 rows" in msg and "VIAB 2019-12-04 (2 rows" in msg
    assert "on_duplicate='first'" in msg
    for keep in ("first", "last"):
        with pytest.warns(DataRepairWarning, match=f"kept the {keep} row"):
            md = from_dataframe(df, on_duplicate=keep, calendar="ffill", min_coverage=0.5)
        assert md.n_assets == 2
    rows = df[(df["ticker"] == "STI") & (df["date"] == "2019-12-06")]
    last = from_dataframe(df[df["ticker"] == "STI"], on_duplicate="last")
    assert last.close[-1, 0] == rows["close"].iloc[-1] and last.volume[-1, 0] == rows["volume"].iloc[-1]


def test_exact_duplicates_are_collapsed_with_a_warning():
    df = synthetic()
    df = pd.concat([df, df.iloc[[2]]], ignore_index=True)
    with pytest.warns(DataRepairWarning, match="exact duplicate.*AAA 2024-01-03"):
        md = from_dataframe(df)
    assert md.n_steps == 6


def test_dxc_close_below_low():
    df = shared_frame("sp500", ["DXC"])
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(df)
    msg = str(err.value)
    assert "close outside [low, high]: DXC 2018-06-01" in msg and "close=79.68" in msg and "low=80.05" in msg
    assert "on_bad_rows='repair'" in msg
    with pytest.warns(DataRepairWarning, match="repaired 1 row"):
        md = from_dataframe(df, on_bad_rows="repair")
    i = int(np.flatnonzero(md.dates == np.datetime64("2018-06-01"))[0])
    assert md.low[i, 0] == 79.68 and md.high[i, 0] == 83.40
    with pytest.warns(DataRepairWarning, match="dropped 1 row"):
        dropped = from_dataframe(df, on_bad_rows="drop")
    assert dropped.n_steps == md.n_steps - 1


def test_open_above_high_on_the_download_day():
    # not in the README: CBOE and DIS have open > high on 2020-01-10, the (partial) download day
    df = shared_frame("sp500", ["CBOE", "DIS"])
    with pytest.raises(
        WealthArenaDataError, match=r"open outside \[low, high\]: CBOE 2020-01-10.*DIS 2020-01-10"
    ):
        from_dataframe(df)


def test_high_below_low_synthetic():
    df = synthetic()
    df.loc[3, ["high", "low"]] = [9.0, 11.0]
    with pytest.raises(WealthArenaDataError, match=r"high < low: AAA 2024-01-04 \(open=10.3, high=9, low=11"):
        from_dataframe(df)


def test_bhf_junk_prices_before_listing():
    df = shared_frame("sp500", ["BHF"])
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(df)
    msg = str(err.value)
    assert "implausible" in msg and "BHF 2017-07-05" in msg and "max_jump=None" in msg and "start=" in msg
    # following the advice (start after the junk) gives clean data, with the zero-volume note
    md = from_dataframe(df, start="2017-07-18")
    assert md.close.min() > 10


def test_sni_stub_breaks_intersect_calendar():
    df = shared_frame("sp500", ["AAPL", "SNI"])
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(df)
    msg = str(err.value)
    assert "keeps only 2 of 1259 dates" in msg
    assert "SNI (2 rows, 2018-01-04..2018-03-05" in msg and "tickers=[...]" in msg


def test_zero_volume_is_kept_with_a_warning():
    df = window(shared_frame("sp500", ["COL"]), "2019-11-01", "2020-02-01")
    with pytest.warns(DataQualityWarning, match=r"bar\(s\) have volume 0 \(kept.*COL \("):
        md = from_dataframe(df)
    assert (md.volume == 0).any()
    etf = window(shared_frame("etf15", ["ARKK"]), "2016-04-01", "2016-05-01")
    with pytest.warns(DataQualityWarning, match="ARKK 2016-04-11"):
        from_dataframe(etf)


def test_missing_days_intersect_warns_with_dates_and_tickers():
    df = window(shared_frame("sp500", ["AAPL", "JNJ"]), "2019-09-01", "2020-01-01")
    with pytest.warns(DataRepairWarning) as rec:
        md = from_dataframe(df)
    msg = " ".join(str(w.message) for w in rec)
    assert "2019-11-19 (no bar for JNJ)" in msg and "calendar='ffill'" in msg
    assert np.datetime64("2019-11-19") not in md.dates


# ----------------------------------------------------------------------------- etf15: unadjusted splits
def test_etf15_qqq_split_raises_warns_or_adjusts():
    df = window(shared_frame("etf15", ["QQQ"]), "2000-01-01", "2000-06-01")
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(df)
    msg = str(err.value)
    assert "QQQ 2000-03-20" in msg and "2:1 split" in msg and "on_split='adjust'" in msg
    with pytest.warns(DataQualityWarning, match="QQQ 2000-03-20"):
        kept = from_dataframe(df, on_split="warn")
    with pytest.warns(DataRepairWarning, match="back-adjusted"):
        adj = from_dataframe(df, on_split="adjust")
    i = int(np.flatnonzero(adj.dates == np.datetime64("2000-03-20"))[0])
    np.testing.assert_allclose(adj.close[:i], kept.close[:i] / 2)
    np.testing.assert_allclose(adj.volume[:i], kept.volume[:i] * 2)
    np.testing.assert_array_equal(adj.close[i:], kept.close[i:])
    assert np.abs(np.diff(np.log(adj.close[:, 0]))).max() < 0.15


def test_etf15_all_documented_splits_are_found():
    df = shared_frame("etf15")
    df = df[
        df["ticker"] != "XLF"
    ]  # its unadjusted 2016 distribution is a level shift: tests/test_data_moves.py
    with pytest.warns(DataQualityWarning) as rec:
        from_dataframe(df, on_split="warn", min_coverage=0.0)
    msg = " ".join(str(w.message) for w in rec)
    assert "7 jump(s) that look like unadjusted splits" in msg
    for needle in ("EFA 2005-06-09", "IJH 2005-06-09", "IJH 2024-02-22", "IWM 2005-06-09", "QQQ 2000-03-20"):
        assert needle in msg
    assert "3:1 split" in msg and "5:1 split" in msg


def test_find_split_jumps_ratios():
    r = np.log(np.array([1.0, 0.5, 0.98, 1 / 3.02, 4.05, 1.6, 0.2, np.nan]))
    mask, ratio = find_split_jumps(r)
    assert mask.tolist() == [False, True, False, True, True, False, True, False]
    np.testing.assert_allclose(ratio[mask], [0.5, 1 / 3, 4.0, 0.2])
    assert 2.0 in SPLIT_RATIOS and 1.5 not in SPLIT_RATIOS  # 50 % crashes are not called 3:2 splits


# ----------------------------------------------------------------------------- m6: calendars, adj ratio
def test_m6_mixed_london_us_calendars():
    df = shared_frame("m6", ["IVV", "IEVL.L"])
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(df, calendar="strict")
    msg = str(err.value)
    assert "IEVL.L" in msg and "IVV" in msg and "lacks 30 dates" in msg and "lacks 26 dates" in msg
    with pytest.warns(DataRepairWarning, match=r"dropped 56 of 1285 dates.*2017-07-04 \(no bar for IVV\)"):
        inter = from_dataframe(df)
    assert inter.n_steps == 1229
    with pytest.raises(
        WealthArenaDataError, match=r"ffill_limit=1.*IEVL.L 2021-12-27..2021-12-28 \(2 bars\)"
    ):
        from_dataframe(df, calendar="ffill", ffill_limit=1)
    with pytest.warns(DataRepairWarning, match=r"filled 55 missing bar.*IEVL.L \(29\), IVV \(26\)"):
        ff = from_dataframe(df, calendar="ffill", ffill_limit=3)
    assert ff.n_steps == 1284
    j = ff.tickers.index("IVV")
    i = int(np.flatnonzero(ff.dates == np.datetime64("2017-07-04"))[0])  # US holiday, London open
    assert ff.volume[i, j] == 0 and ff.open[i, j] == ff.close[i, j] == ff.close[i - 1, j]
    assert ff.adj_close[i, j] == ff.adj_close[i - 1, j]


def test_m6_late_starter_needs_a_choice():
    df = shared_frame("m6", ["IVV", "OGN"])
    with pytest.raises(WealthArenaDataError, match=r"OGN \(232 rows, 2021-05-14"):
        from_dataframe(df)
    with pytest.warns(DataRepairWarning, match="trimmed"):
        md = from_dataframe(df, calendar="ffill", min_coverage=0.1)
    assert str(md.dates[0])[:10] == "2021-05-14"


def test_m6_dg_adj_close_ratio_jump():
    df = shared_frame("m6", ["DG", "IAU"])
    with pytest.warns(DataQualityWarning) as rec:
        from_dataframe(df)
    msg = " ".join(str(w.message) for w in rec)
    assert "DG 2020-01-09 (adj_close/close 3.93" in msg
    assert "IAU 2021-05-24" in msg and "adjusted()" in msg


# ----------------------------------------------------------------------------- synthetic classes
def test_nan_rows_raise_drop_or_repair():
    df = synthetic()
    df.loc[2, "open"] = np.nan
    df.loc[8, "volume"] = np.nan
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(df)
    msg = str(err.value)
    assert (
        "2 row(s) have missing (NaN)" in msg and "AAA 2024-01-03 (open=nan" in msg and "BBB 2024-01-03" in msg
    )
    assert "on_bad_rows='drop'" in msg and "on_bad_rows='repair'" in msg
    with pytest.warns(DataRepairWarning, match="dropped 2 row"):
        assert from_dataframe(df, on_bad_rows="drop", calendar="intersect", min_coverage=0.5).n_steps == 5
    with pytest.warns(DataRepairWarning, match="repaired 2 row"):
        md = from_dataframe(df, on_bad_rows="repair")
    assert md.open[2, 0] == md.close[2, 0] and md.volume[2, 1] == 0
    empty = synthetic()
    empty.loc[1, ["open", "high", "low", "close"]] = np.nan
    with pytest.warns(DataRepairWarning, match="empty bar.*AAA 2024-01-02"):
        from_dataframe(empty, min_coverage=0.5)


def test_unsorted_dates_are_sorted_with_a_warning():
    df = synthetic()
    shuffled = df.iloc[[0, 3, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]]
    with pytest.warns(DataRepairWarning, match=r"not in increasing order for 1 ticker\(s\) \(AAA\)"):
        md = from_dataframe(shuffled)
    assert md.content_hash() == from_dataframe(df).content_hash()


def test_date_sorted_long_frames_are_not_unsorted():
    df = synthetic().sort_values(["date", "ticker"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        from_dataframe(df)


def test_policy_arguments_are_checked():
    df = synthetic()
    for kw, needle in [
        ({"on_bad_rows": "fix"}, "on_bad_rows='fix'"),
        ({"on_split": "ignore"}, "on_split='ignore'"),
        ({"on_duplicate": "any"}, "on_duplicate='any'"),
        ({"max_jump": 0.5}, "max_jump=0.5"),
        ({"calendar": "ffill", "ffill_limit": -1}, "ffill_limit=-1"),
        ({"min_coverage": 2}, "min_coverage=2"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(needle)):
            from_dataframe(df, **kw)


def test_validate_frame_rejects_empty_input():
    with pytest.raises(WealthArenaDataError, match="empty"):
        validate_frame(synthetic().iloc[0:0])
