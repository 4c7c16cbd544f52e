"""Loaders: every accepted layout (long / wide both orders / single ticker) from DataFrame, CSV, gz CSV and
Parquet gives the same MarketData; load_market_data dispatches on its argument and rejects the rest."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest_data import shared_frame, yahoo_frame

from wealtharena_env.data import (
    DataQualityWarning,
    MarketData,
    from_csv,
    from_dataframe,
    from_parquet,
    load_market_data,
)
from wealtharena_env.errors import ConfigError, WealthArenaDataError

TICKERS = ["AAPL", "MSFT", "KO"]


@pytest.fixture(scope="module")
def dow_long() -> pd.DataFrame:
    df = shared_frame("dow30", TICKERS)
    return df[(df["date"] >= "2019-01-01") & (df["date"] < "2019-07-01")].reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(dow_long) -> MarketData:
    return from_dataframe(dow_long)


def assert_same(a: MarketData, b: MarketData, *, adj: bool = True) -> None:
    assert a.tickers == b.tickers
    np.testing.assert_array_equal(a.dates, b.dates)
    for name in ("open", "high", "low", "close", "volume") + (("adj_close",) if adj else ()):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, err_msg=name)


def test_long_dataframe(reference):
    assert reference.tickers == tuple(
        TICKERS[i] for i in np.argsort(TICKERS)
    )  # file order (sorted by ticker)
    assert reference.n_steps == 124 and reference.has_adj_close
    assert reference.source == "dataframe"


def test_long_column_names_are_case_and_space_insensitive(dow_long, reference):
    renamed = dow_long.rename(
        columns={
            "date": " Date ",
            "ticker": "Symbol",
            "open": "OPEN",
            "high": "High",
            "low": "low ",
            "close": "Close",
            "adj_close": "Adj Close",
            "volume": "Volume",
        }
    )
    assert_same(from_dataframe(renamed), reference)
    indexed = dow_long.set_index(["date", "ticker"])
    assert_same(from_dataframe(indexed), reference)


def test_long_csv_and_gz_csv(tmp_path, dow_long, reference):
    plain = tmp_path / "bars.csv"
    gz = tmp_path / "bars.csv.gz"
    dow_long.to_csv(plain, index=False)
    dow_long.to_csv(gz, index=False)
    a = from_csv(plain)
    b = load_market_data(str(gz))
    assert_same(a, reference)
    assert_same(b, reference)
    assert a.source == f"csv:{plain}"
    # the shared file itself (gzip, long, sorted by ticker then date)
    from conftest_data import shared_path

    full = load_market_data(
        shared_path("dow30"), tickers=["KO", "AAPL"], start="2019-01-01", end="2019-07-01"
    )
    assert full.tickers == ("KO", "AAPL")
    assert_same(full, reference.select(["KO", "AAPL"]))


def test_long_and_wide_parquet(tmp_path, dow_long, reference):
    pytest.importorskip("pyarrow")
    p = tmp_path / "bars.parquet"
    dow_long.to_parquet(p)
    assert_same(from_parquet(p), reference)
    w = tmp_path / "wide.parquet"
    yahoo_frame(dow_long, TICKERS, auto_adjust=False).to_parquet(w)
    assert_same(load_market_data(w), reference)


@pytest.mark.parametrize("group_by", ["column", "ticker"])
def test_wide_yfinance_layouts_dataframe_and_csv(tmp_path, dow_long, reference, group_by):
    wide = yahoo_frame(dow_long, TICKERS, auto_adjust=False, group_by=group_by)
    expected = ["Price", "Ticker"] if group_by == "column" else ["Ticker", "Price"]
    assert list(wide.columns.names) == expected
    assert_same(from_dataframe(wide), reference)
    p = tmp_path / f"wide_{group_by}.csv"
    wide.to_csv(p)  # two header rows + a "Date" line, as yfinance users save it
    assert_same(from_csv(p), reference)


def test_wide_auto_adjusted_frame_has_no_adj_close(dow_long, reference):
    wide = yahoo_frame(dow_long, TICKERS, auto_adjust=True)
    md = from_dataframe(wide)
    assert md.adj_close is None
    np.testing.assert_allclose(md.close, reference.adj_close, rtol=1e-12)
    np.testing.assert_allclose(md.open, reference.adjusted().open, rtol=1e-12)


def test_single_ticker_yfinance_frame(tmp_path, dow_long, reference):
    one = yahoo_frame(dow_long, ["MSFT"], auto_adjust=False, multi_level_index=False)
    assert not isinstance(one.columns, pd.MultiIndex) and "Adj Close" in one.columns
    md = from_dataframe(one, ticker="MSFT")
    assert_same(md, reference.select("MSFT"))
    with pytest.raises(ConfigError, match="ticker='AAPL'"):
        from_dataframe(one)
    p = tmp_path / "MSFT.csv"
    one.to_csv(p)  # Date,Adj Close,Close,High,Low,Open,Volume
    from_file = from_csv(p)
    assert from_file.tickers == ("MSFT",)  # named after the file
    assert_same(from_file, reference.select("MSFT"))


def test_mapping_of_single_ticker_frames(dow_long, reference):
    frames = {
        t: yahoo_frame(dow_long, [t], auto_adjust=False, multi_level_index=False) for t in ("AAPL", "KO")
    }
    md = load_market_data(frames)
    assert_same(md, reference.select(["AAPL", "KO"]))


def test_load_market_data_passthrough_and_selection(reference):
    assert load_market_data(reference) is reference
    sub = load_market_data(reference, tickers=["KO"], start="2019-03-01", end="2019-04-01", calendar="ffill")
    assert sub.tickers == ("KO",) and sub.n_steps == 21


def test_load_market_data_rejects_bad_arguments(tmp_path, reference):
    with pytest.raises(ConfigError, match=r"pass a list: data=\['AAPL'\]"):
        load_market_data("AAPL")
    with pytest.raises(ConfigError, match="needs a start date"):
        load_market_data(["AAPL"])
    with pytest.raises(ConfigError, match="not supported"):
        load_market_data(42)
    with pytest.raises(ConfigError, match="unknown argument.*calender"):
        load_market_data(reference.to_frame(), calender="ffill")
    with pytest.raises(ConfigError, match="calendar='weekly' is not valid"):
        load_market_data(reference.to_frame(), calendar="weekly")
    (tmp_path / "x.xlsx").write_text("nope")
    with pytest.raises(ConfigError, match="unknown file type"):
        load_market_data(tmp_path / "x.xlsx")
    with pytest.raises(WealthArenaDataError, match="no such file"):
        load_market_data(tmp_path / "missing.csv")


def test_layout_errors_name_the_problem(dow_long):
    with pytest.raises(WealthArenaDataError, match="missing column.*close"):
        from_dataframe(dow_long.drop(columns="close"))
    with pytest.warns(DataQualityWarning, match="closes-only data: filled volume"):  # unknown volume: filled
        from_dataframe(dow_long.drop(columns="volume"))
    bad = dow_long.astype({"close": object})
    bad.loc[5, "close"] = "n/a"
    with pytest.raises(WealthArenaDataError, match="non-numeric value 'n/a' at row 5"):
        from_dataframe(bad)
    with pytest.raises(WealthArenaDataError, match="cannot recognise the DataFrame layout"):
        from_dataframe(pd.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(WealthArenaDataError, match="ticker.*not in the data"):
        from_dataframe(dow_long, tickers=["AAPL", "ZZZZ"])
    with pytest.raises(WealthArenaDataError, match="no bars in"):
        from_dataframe(dow_long, start="2030-01-01")


def test_empty_bars_from_wide_padding_are_not_reported(dow_long):
    # AAPL-only dates in a union calendar are layout padding for the other tickers: no warning
    df = dow_long[~((dow_long["ticker"] == "KO") & (dow_long["date"] == "2019-03-01"))]
    wide = yahoo_frame(df, TICKERS, auto_adjust=False)
    assert wide[("Close", "KO")].isna().sum() == 1
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        md = from_dataframe(wide)
    assert md.n_steps == 123
    assert [str(w.message) for w in rec if "empty bar" in str(w.message)] == []
    assert any("2019-03-01 (no bar for KO)" in str(w.message) for w in rec)
