"""Holes (issue 16, item 5): a run of missing bars longer than ``max_gap_bars`` is an error naming the ticker
and the dates, unless ``on_gap`` says what to do — never one "daily" bar spanning months."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest_data import shared_frame

from wealtharena_env.data import DataRepairWarning, DataWarning, from_dataframe
from wealtharena_env.data.validate import MAX_GAP_BARS, find_holes
from wealtharena_env.errors import ConfigError, WealthArenaDataError

DATES = pd.bdate_range("2012-01-02", "2019-12-31")
HOLE = (DATES >= "2016-03-01") & (DATES < "2016-12-01")  # nine months


def bars(tickers=("AAA", "BBB"), seed=0, dates=DATES) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for k, t in enumerate(tickers):
        close = 50.0 * (k + 1) * np.exp(np.cumsum(rng.normal(0.0003, 0.01, len(dates))))
        parts.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "ticker": t,
                    "open": close,
                    "high": close * 1.01,
                    "low": close * 0.99,
                    "close": close,
                    "volume": rng.lognormal(np.log(1e6), 0.3, len(dates)),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def with_hole(frame: pd.DataFrame, ticker: str, mask: np.ndarray) -> pd.DataFrame:
    drop = (frame["ticker"] == ticker).to_numpy() & np.tile(mask, frame["ticker"].nunique())
    return frame.loc[~drop].reset_index(drop=True)


def quiet(frame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return from_dataframe(frame, **kw)


BEFORE, AFTER = DATES[~HOLE & (DATES < "2016-03-01")][-1], DATES[~HOLE & (DATES >= "2016-12-01")][0]
N_MISSING = int(HOLE.sum())


def test_nine_month_hole_is_an_error_naming_ticker_and_dates():
    frame = with_hole(bars(), "BBB", HOLE)
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(frame)
    msg = str(err.value)
    assert f"1 hole(s) longer than max_gap_bars={MAX_GAP_BARS} bar(s)" in msg
    assert (
        f"BBB 2016-03-01..2016-11-30 ({N_MISSING} bars missing between its bars of {BEFORE:%Y-%m-%d} and "
        f"{AFTER:%Y-%m-%d})"
    ) in msg
    assert "stitched into one bar" in msg
    for fix in ("on_gap='drop_ticker'", "on_gap='cut'", "on_gap='ffill'", "max_gap_bars"):
        assert fix in msg
    with pytest.raises(WealthArenaDataError, match="BBB 2016-03-01..2016-11-30"):
        from_dataframe(frame, calendar="strict")
    # the old behaviour, on request: one bar from BEFORE to AFTER
    md = quiet(frame, max_gap_bars=N_MISSING)
    assert np.diff(md.dates).max() == AFTER - BEFORE and (AFTER - BEFORE).days == 276


def test_policies_drop_cut_and_ffill():
    frame = with_hole(bars(), "BBB", HOLE)
    with pytest.warns(
        DataRepairWarning, match=r"on_gap='drop_ticker' dropped 1 ticker\(s\) \(BBB\).*BBB 2016-03-01"
    ):
        md = from_dataframe(frame, on_gap="drop_ticker")
    assert md.tickers == ("AAA",) and md.n_steps == len(DATES)

    with pytest.warns(DataRepairWarning, match=f"on_gap='cut' kept 2012-01-02..{BEFORE:%Y-%m-%d}"):
        md = from_dataframe(frame, on_gap="cut")
    assert (
        md.tickers == ("AAA", "BBB")
        and md.dates[-1] == BEFORE
        and np.diff(md.dates).max() <= np.timedelta64(4, "D")
    )

    with pytest.warns(
        DataRepairWarning, match=r"on_gap='ffill' filled 1 hole\(s\).*BBB 2016-03-01..2016-11-30"
    ):
        md = from_dataframe(frame, on_gap="ffill")
    assert md.n_steps == len(DATES)
    inside = np.flatnonzero(HOLE)
    b = md.tickers.index("BBB")
    assert (md.volume[inside, b] == 0).all() and (md.close[inside, b] == md.close[inside[0] - 1, b]).all()
    assert (md.open[inside, b] == md.close[inside, b]).all()

    # calendar='ffill' is the fill policy already: it fills, and says which hole it filled
    with pytest.warns(DataRepairWarning) as rec:
        ff = from_dataframe(frame, calendar="ffill")
    assert any("BBB 2016-03-01..2016-11-30" in str(w.message) for w in rec)
    np.testing.assert_array_equal(ff.close, md.close)
    with pytest.raises(WealthArenaDataError, match="ffill_limit=10.*BBB 2016-03-01"):
        from_dataframe(frame, calendar="ffill", ffill_limit=10)
    with pytest.raises(WealthArenaDataError, match="BBB 2016-03-01"):
        from_dataframe(frame, calendar="ffill", on_gap="raise")


def test_short_gaps_are_holidays_not_holes():
    short = (DATES >= "2016-03-01") & (DATES < "2016-03-08")  # 5 bars
    frame = with_hole(bars(), "BBB", short)
    with pytest.warns(DataRepairWarning, match="calendar='intersect' dropped 5 of"):
        md = from_dataframe(frame)
    assert md.n_steps == len(DATES) - 5
    with pytest.raises(WealthArenaDataError, match="BBB 2016-03-01..2016-03-07"):
        from_dataframe(frame, max_gap_bars=4)


def test_a_gap_of_the_whole_calendar_is_a_hole_too():
    """One ticker, two years without a bar: the +49 % across them must not become one day's return."""
    frame = bars(("SPY",))
    gap = (DATES >= "2016-01-01") & (DATES < "2018-01-01")
    frame = frame.loc[~gap].reset_index(drop=True)
    frame.loc[frame["date"] >= "2018-01-01", ["open", "high", "low", "close"]] *= 1.49
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(frame)
    msg = str(err.value)
    assert "every ticker 2015-12-31 → 2018-01-01 (no bar at all for 521 trading days)" in msg
    with pytest.warns(DataRepairWarning, match="on_gap='cut' kept 2012-01-02..2015-12-31"):
        md = from_dataframe(frame, on_gap="cut")
    assert md.dates[-1] == np.datetime64("2015-12-31")
    with pytest.raises(WealthArenaDataError, match="cannot fill a gap of the calendar itself"):
        from_dataframe(frame, on_gap="ffill")
    with pytest.raises(WealthArenaDataError, match="would drop every ticker"):
        from_dataframe(frame, on_gap="drop_ticker")
    # weekly bars: a missing week is not a hole, two months are
    weekly = bars(("SPY",), dates=pd.date_range("2015-01-02", periods=300, freq="W-FRI"))
    quiet(weekly.drop(index=[50, 51, 52]))
    with pytest.raises(WealthArenaDataError, match="no bar at all for 8 trading days"):
        from_dataframe(weekly.drop(index=range(50, 58)))


def test_options_are_checked():
    frame = bars()
    for kw, needle in [
        ({"on_gap": "skip"}, "on_gap='skip'"),
        ({"max_gap_bars": -1}, "max_gap_bars=-1"),
        ({"max_gap_bars": 2.5}, "max_gap_bars=2.5"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            from_dataframe(frame, **kw)


def test_find_holes_ignores_late_starts_and_early_ends():
    present = np.ones((30, 2), dtype=bool)
    present[:8, 0] = False  # starts late
    present[25:, 1] = False  # ends early
    dates = pd.bdate_range("2020-01-01", periods=30).to_numpy()
    assert find_holes(dates, present, 5) == []
    present[12:19, 1] = False
    assert find_holes(dates, present, 5) == [(1, 11, 19, 7)]
    assert find_holes(dates, present, 7) == []


# ----------------------------------------------------------------------------- real files
def test_sp500_stubs_have_a_two_month_hole():
    """AET, ANDV, CSRA, ESRX and SNI have no rows from 2018-01-05 to 2018-03-02; PX none in summer 2019."""
    df = shared_frame("sp500", ["AAPL", "ESRX"])
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(df, start="2017-06-01", end="2018-12-01")
    msg = str(err.value)
    assert (
        "ESRX 2018-01-05..2018-03-02 (39 bars missing between its bars of 2018-01-04 and 2018-03-05)" in msg
    )
    with pytest.warns(DataRepairWarning, match=r"dropped 1 ticker\(s\) \(ESRX\)"):
        md = from_dataframe(df, start="2017-06-01", end="2018-12-01", on_gap="drop_ticker")
    assert md.tickers == ("AAPL",)
    with pytest.raises(
        WealthArenaDataError, match="keeps only 2 of 1259 dates.*Holes longer than max_gap_bars=5: SNI"
    ):
        from_dataframe(
            shared_frame("sp500", ["AAPL", "SNI"])
        )  # the coverage error comes first, naming the hole
    px = shared_frame("sp500", ["AAPL", "PX"])
    with pytest.raises(WealthArenaDataError, match="PX 2019-06-10..2019-08-29 \\(58 bars"):
        from_dataframe(px, start="2019-01-01", end="2019-10-01")


def test_real_files_without_holes_and_the_illiquid_london_funds():
    for name in ("dow30", "etf15"):
        df = shared_frame(name)
        dates = np.unique(df["date"].to_numpy())
        for _, part in df.groupby("ticker"):
            present = np.isin(dates, part["date"].to_numpy())[:, None]
            assert find_holes(dates, present, MAX_GAP_BARS) == []  # 9/11 closed NYSE for 4 days: not a hole
    m6 = shared_frame("m6", ["IVV", "IEFM.L"])
    with pytest.raises(WealthArenaDataError, match=r"IEFM.L 2017-08-31..2017-10-11 \(29 bars"):
        from_dataframe(m6, calendar="ffill", on_gap="raise", min_coverage=0.0)


def test_the_envs_take_the_new_loader_options_directly():
    from wealtharena_env.envs._common import pop_data_kwargs

    kwargs = {"on_gap": "drop_ticker", "max_gap_bars": 3, "max_move_sigma": 20.0, "episode_length": 5}
    out = pop_data_kwargs(kwargs, data="prices.csv")
    assert out["data_options"] == {"on_gap": "drop_ticker", "max_gap_bars": 3, "max_move_sigma": 20.0}
    assert kwargs == {"episode_length": 5}
