"""Errors name what is wrong (issue 16, item 6): a non-numeric value, a bad date and a missing ticker are
reported with ticker, date (or row) and column, in every layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest_data import shared_frame

from wealtharena_env.data import MarketData, from_csv, from_dataframe
from wealtharena_env.errors import WealthArenaDataError

DATES = pd.bdate_range("2024-01-01", periods=6)


def long() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Date": np.tile(DATES, 2),
            "Ticker": np.repeat(["AAA", "BBB"], 6),
            "Open": 10.0,
            "High": 11.0,
            "Low": 9.0,
            "Close": 10.0,
            "Volume": 100.0,
        }
    )


def error(frame, **kw) -> str:
    with pytest.raises(WealthArenaDataError) as err:
        from_dataframe(frame, **kw)
    return str(err.value)


def test_non_numeric_value_names_ticker_date_and_column_in_every_layout():
    bad = long().astype({"Close": object})
    bad.loc[8, "Close"] = "abc"
    bad.loc[10, "Close"] = "-"
    msg = error(bad)
    assert msg.startswith(
        "dataframe: long frame: column 'Close' (close) holds non-numeric value 'abc' at row 8 "
        "(ticker BBB, date 2024-01-03); 1 more: '-' at row 10 (ticker BBB, date 2024-01-05)"
    )
    assert "errors='coerce'" in msg

    wide = (
        long().set_index(["Date", "Ticker"]).unstack("Ticker").astype(object)
    )  # (Price, Ticker) like yfinance
    wide.loc[DATES[3], ("High", "AAA")] = "x"
    assert (
        "ticker 'AAA': column 'High' (high) holds non-numeric value 'x' at row 3 (ticker AAA, date "
        "2024-01-04)" in error(wide)
    )

    single = long().query("Ticker == 'AAA'").drop(columns="Ticker").set_index("Date").astype(object)
    single.iloc[2, 0] = "?"
    assert "column 'Open' (open) holds non-numeric value '?' at row 2 (ticker AAA, date 2024-01-03)" in error(
        single, ticker="AAA"
    )

    closes = long().pivot(index="Date", columns="Ticker", values="Close").astype(object)
    closes.iloc[2, 1] = "n/a"  # used to be "cannot recognise the DataFrame layout"
    assert (
        "table of closes: column 'BBB' (close) holds non-numeric value 'n/a' at row 2 (ticker BBB, "
        "date 2024-01-03)" in error(closes)
    )


def test_bad_dates_name_the_value_row_ticker_and_column(tmp_path):
    text = long()
    text["Date"] = text["Date"].dt.strftime("%Y-%m-%d")
    text.loc[8, "Date"] = "2024-13-45"
    text.loc[3, "Date"] = "01/04/2024"  # another format than the others
    msg = error(text)
    assert (
        "column 'Date' holds 2 value(s) that are not dates in the format of the others (%Y-%m-%d): "
        "'01/04/2024' at row 3 (ticker AAA); '2024-13-45' at row 8 (ticker BBB)" in msg
    )
    path = tmp_path / "closes.csv"
    path.write_text("Date,AAA,BBB\n2024-01-01,1,2\n2024-01-02,1.1,2.1\n2024-31-01,1,2\n")
    with pytest.raises(
        WealthArenaDataError,
        match=r"^csv:.*closes.csv: column 'Date' holds 1 value\(s\) that are "
        r"not dates.*'2024-31-01' at row 2 \(tickers AAA, BBB\)",
    ):
        from_csv(path)
    empty = long()
    empty.loc[4, "Date"] = pd.NaT
    assert "1 row(s) have no date (column 'date' is empty or NaT): ticker AAA at row 4 (close=10)" in error(
        empty
    )


def test_missing_ticker_names_the_row_date_and_column():
    for blank in (None, "  "):
        bad = long().astype({"Ticker": object})
        bad.loc[8, "Ticker"] = blank
        assert "ticker column 'Ticker' is empty in 1 row(s): row 8 (date 2024-01-03)" in error(bad)
    assert "ticker(s) ZZZ not in the data; it has 2: AAA, BBB" in error(long(), tickers=["AAA", "ZZZ"])


def test_marketdata_names_the_cells_that_are_not_numbers():
    close = np.array([[1.0, 2.0], ["x", 3.0]], dtype=object)
    ones = np.ones((2, 2))
    with pytest.raises(
        WealthArenaDataError,
        match=r"close has dtype object: 1 cell\(s\) are not numbers: "
        r"A 2024-01-02 \('x'\)",
    ):
        MarketData(
            open=ones,
            high=ones,
            low=ones,
            close=close,
            volume=ones,
            dates=DATES[:2].to_numpy(),
            tickers=("A", "B"),
        )


def test_a_corrupted_cell_of_a_real_file_is_named(tmp_path):
    df = shared_frame("dow30", ["AAPL", "KO"])
    df = df.astype({"volume": object})
    i = int(np.flatnonzero((df["ticker"] == "KO") & (df["date"] == "2019-03-01"))[0])
    df.loc[i, "volume"] = "1,234,000"
    path = tmp_path / "dow.csv.gz"
    df.to_csv(path, index=False)
    with pytest.raises(
        WealthArenaDataError,
        match=rf"column 'volume' holds non-numeric value '1,234,000' at row "
        rf"{i} \(ticker KO, date 2019-03-01\)",
    ):
        from_csv(path)
