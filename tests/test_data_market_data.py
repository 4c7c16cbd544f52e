"""MarketData: construction checks, transforms, hashing, export."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wealtharena_env.data import DataWarning, MarketData, from_dataframe
from wealtharena_env.errors import WealthArenaDataError


def make(T: int = 6, N: int = 3, *, adj: bool = True, seed: int = 0) -> MarketData:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (T, N)), axis=0))
    open_ = close * (1 + rng.normal(0, 0.002, (T, N)))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    kw = {}
    if adj:
        kw["adj_close"] = close * np.linspace(0.9, 1.0, T)[:, None]
    return MarketData(
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=np.full((T, N), 1e6),
        dates=pd.bdate_range("2024-01-01", periods=T).to_numpy(),
        tickers=tuple(f"T{i}" for i in range(N)),
        source="synthetic",
        **kw,
    )


def test_fields_are_c_contiguous_float64_readonly_copies():
    src = np.asfortranarray(np.full((4, 2), 10, dtype=np.int64))
    md = MarketData(
        open=src,
        high=src,
        low=src,
        close=src,
        volume=src,
        dates=np.array(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
        tickers=["A", "B"],
    )
    for name in ("open", "high", "low", "close", "volume"):
        arr = getattr(md, name)
        assert arr.dtype == np.float64 and arr.flags.c_contiguous and arr.shape == (4, 2)
        assert not arr.flags.writeable
    assert md.dates.dtype == np.dtype("datetime64[ns]")
    assert md.tickers == ("A", "B") and md.n_steps == 4 and md.n_assets == 2 and len(md) == 4
    assert md.adj_close is None and md.adjusted() is md
    src[0, 0] = -1  # the caller's array is not shared
    assert md.close[0, 0] == 10
    assert "T=4" in repr(md) and "N=2" in repr(md)


@pytest.mark.parametrize(
    "field, value, needle",
    [
        ("close", np.nan, "close is NaN or infinite in 1 cell(s): T1 2024-01-03"),
        ("open", np.inf, "open is NaN or infinite in 1 cell(s): T1 2024-01-03"),
        ("low", 0.0, "low is <= 0 in 1 cell(s): T1 2024-01-03"),
        ("high", -5.0, "high is <= 0"),
        ("volume", -1.0, "volume is negative in 1 cell(s): T1 2024-01-03"),
        ("adj_close", np.nan, "adj_close is NaN or infinite"),
    ],
)
def test_post_init_names_field_ticker_and_date(field, value, needle):
    md = make()
    arrays = {n: np.array(getattr(md, n)) for n in ("open", "high", "low", "close", "volume", "adj_close")}
    arrays[field][2, 1] = value
    with pytest.raises(WealthArenaDataError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        MarketData(**arrays, dates=md.dates, tickers=md.tickers)


def test_post_init_shape_dates_and_ticker_errors():
    md = make()
    good = {n: np.array(getattr(md, n)) for n in ("open", "high", "low", "close", "volume")}
    with pytest.raises(WealthArenaDataError, match=r"close has shape \(3, 6\); expected \(T, N\) = \(6, 3\)"):
        MarketData(**{**good, "close": good["close"].T}, dates=md.dates, tickers=md.tickers)
    with pytest.raises(WealthArenaDataError, match="strictly increasing.*duplicated"):
        MarketData(**good, dates=md.dates[[0, 1, 1, 3, 4, 5]], tickers=md.tickers)
    with pytest.raises(WealthArenaDataError, match="out of order"):
        MarketData(**good, dates=md.dates[[0, 2, 1, 3, 4, 5]], tickers=md.tickers)
    with pytest.raises(WealthArenaDataError, match="'T0' twice"):
        MarketData(**good, dates=md.dates, tickers=("T0", "T0", "T2"))
    with pytest.raises(WealthArenaDataError, match="wrap it"):
        MarketData(**good, dates=md.dates, tickers="T0")
    with pytest.raises(WealthArenaDataError, match="numeric"):
        MarketData(**{**good, "volume": good["volume"].astype(str)}, dates=md.dates, tickers=md.tickers)
    with pytest.raises(ValueError):  # WealthArenaDataError is a ValueError
        MarketData(**good, dates=md.dates[:3], tickers=md.tickers)


def test_adjusted_scales_ohlc_and_volume_by_adj_factor():
    md = make()
    adj = md.adjusted()
    f = md.adj_close / md.close
    np.testing.assert_array_equal(adj.close, md.adj_close)
    np.testing.assert_allclose(adj.open, md.open * f)
    np.testing.assert_allclose(adj.high, md.high * f)
    np.testing.assert_allclose(adj.low, md.low * f)
    np.testing.assert_allclose(adj.volume, md.volume / f)
    np.testing.assert_allclose(adj.close * adj.volume, md.close * md.volume, rtol=1e-12)  # traded value kept
    assert (adj.high >= adj.close).all() and (adj.low <= adj.close).all()
    again = adj.adjusted()
    np.testing.assert_array_equal(again.close, adj.close)
    np.testing.assert_allclose(again.open, adj.open)


def test_adjusted_removes_dg_phantom_jump():
    from conftest_data import shared_frame

    df = shared_frame("m6", ["DG"])
    with pytest.warns(UserWarning, match="DG 2020-01-09"):
        md = from_dataframe(df)
    raw_jump = np.abs(np.diff(np.log(md.close[:, 0]))).max()
    adj_jump = np.abs(np.diff(np.log(md.adjusted().close[:, 0]))).max()
    assert raw_jump > np.log(3.5)  # the phantom +303 % close-to-close move
    assert adj_jump < 0.15


def test_select_and_slice():
    md = make(T=10, N=4)
    sub = md.select(["T3", "T1"])
    assert sub.tickers == ("T3", "T1")
    np.testing.assert_array_equal(sub.close, md.close[:, [3, 1]])
    np.testing.assert_array_equal(sub.adj_close, md.adj_close[:, [3, 1]])
    assert md.select("T2").n_assets == 1
    with pytest.raises(WealthArenaDataError, match="unknown ticker.*NOPE"):
        md.select(["T0", "NOPE"])
    d = pd.DatetimeIndex(md.dates)
    part = md.slice(d[2], d[5])  # inclusive start, exclusive end
    assert part.n_steps == 3 and part.dates[0] == md.dates[2] and part.dates[-1] == md.dates[4]
    assert md.slice(None, d[1]).n_steps == 1 and md.slice(d[8]).n_steps == 2
    with pytest.raises(WealthArenaDataError, match="no bars in"):
        md.slice("2030-01-01")
    with pytest.raises(ValueError, match="before end"):
        md.slice(d[5], d[2])


def test_content_hash_is_stable_and_sensitive():
    md = make()
    h = md.content_hash()
    assert len(h) == 64 and h == make().content_hash()
    assert md.select(list(md.tickers)).content_hash() == h
    assert make(seed=1).content_hash() != h
    assert md.select(["T1", "T0", "T2"]).content_hash() != h
    assert make(adj=False).content_hash() != h
    # the same digest in a fresh interpreter (no per-process salt)
    here = str(__import__("pathlib").Path(__file__).parent)
    code = (
        f"import sys; sys.path.insert(0, {here!r}); from test_data_market_data import make; "
        "print(make().content_hash())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == h


def test_to_frame_round_trips_through_from_dataframe():
    md = make(T=8, N=3)
    df = md.to_frame()
    assert list(df.columns) == ["date", "ticker", "open", "high", "low", "close", "adj_close", "volume"]
    assert len(df) == 24 and list(df["ticker"].unique()) == ["T0", "T1", "T2"]
    back = from_dataframe(df)
    assert back.content_hash() == md.content_hash()


def test_pickle_round_trip_keeps_data_frozen():
    import pickle

    md = make()
    h = md.content_hash()
    back = pickle.loads(pickle.dumps(md))
    assert back.content_hash() == h and not back.close.flags.writeable and back.tickers == md.tickers


@settings(max_examples=25, deadline=None)
@given(
    n_steps=st.integers(1, 12),
    n_assets=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_long_frame_round_trip_is_order_independent(n_steps, n_assets, seed):
    md = make(T=n_steps, N=n_assets, seed=seed)
    df = md.to_frame()
    rng = np.random.default_rng(seed)
    shuffled = df.iloc[rng.permutation(len(df))].sort_values(
        "ticker", kind="stable"
    )  # dates shuffled per ticker
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        back = from_dataframe(shuffled, tickers=list(md.tickers))
    assert back.content_hash() == md.content_hash()
