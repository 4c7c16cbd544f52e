"""Closes-only data (issue: "Real data you can trust", item 1): a dates x tickers table of closes, a long
frame of date / ticker / close (or adj_close), a single ticker's closes and a yfinance frame holding only
"Close" all load, with one DataQualityWarning saying what was filled, and drive the envs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import shared_file

from wealtharena_env import arena_v0
from wealtharena_env.data import DataQualityWarning, MarketData
from wealtharena_env.data.layouts import UNKNOWN_VOLUME
from wealtharena_env.envs import PortfolioEnv

TICKERS = ["AAA", "BBB", "CCC"]


def closes_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2019-01-01", periods=n, name="Date")
    values = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, (n, len(TICKERS))), axis=0))
    return pd.DataFrame(values, index=dates, columns=pd.Index(TICKERS, name="Ticker"))


def load(obj, **kwargs) -> tuple[MarketData, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        md = (
            MarketData.from_dataframe(obj, **kwargs)
            if isinstance(obj, pd.DataFrame)
            else MarketData.from_csv(obj)
        )
    return md, [
        w for w in caught if issubclass(w.category, DataQualityWarning) and "closes-only" in str(w.message)
    ]


def _long(closes: pd.DataFrame, column: str = "close") -> pd.DataFrame:
    out = closes.stack().rename(column).reset_index()
    out.columns = ["date", "ticker", column]
    return out


@pytest.mark.parametrize(
    "layout", ["wide_closes", "long_close", "long_adj_close", "csv", "yfinance_close_only"]
)
def test_closes_only_layouts_load_with_one_warning(layout, tmp_path):
    closes = closes_frame()
    if layout == "wide_closes":
        obj = closes
    elif layout == "long_close":
        obj = _long(closes)
    elif layout == "long_adj_close":
        obj = _long(closes, "adj_close")
    elif layout == "csv":
        obj = tmp_path / "closes.csv"
        closes.to_csv(obj)
    else:  # what yf.download(tickers, group_by="column")[["Close"]] keeps: a (Price, Ticker) MultiIndex
        obj = pd.concat({"Close": closes}, axis=1, names=["Price", "Ticker"])
    md, caught = load(obj)
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert "open, high, low, volume" in message and "AAA, BBB, CCC" in message
    assert md.tickers == tuple(TICKERS) and md.n_steps == len(closes)
    prices = md.adj_close if layout == "long_adj_close" else md.close
    np.testing.assert_allclose(prices, closes.to_numpy(), rtol=1e-12)
    for name in ("open", "high", "low"):
        np.testing.assert_array_equal(getattr(md, name), md.close)
    np.testing.assert_array_equal(md.volume, UNKNOWN_VOLUME)


def test_closes_only_bars_are_flat_with_unknown_volume_and_the_cap_never_binds():
    closes = closes_frame(n=400)
    md, _ = load(closes)
    env = PortfolioEnv(
        data=md,
        episode_length=60,
        action_mapping="simplex",
        rebalance_rate=1.0,
        rebalance_band=0.0,
        risk_enabled=False,
        info_level="full",
    )
    env.reset(seed=1)
    sim = env.sim
    start = sim.config.warmup
    bars = sim.bars[0, start : start + 61]
    np.testing.assert_array_equal(bars[:, 0], bars[:, 3])  # open = close
    np.testing.assert_array_equal(bars[:, 1], bars[:, 3])  # high = close
    np.testing.assert_array_equal(bars[:, 2], bars[:, 3])  # low = close
    assert np.all(bars[:, 4] == UNKNOWN_VOLUME)
    # all in one asset: the order is not held back by a participation cap (volume unknown = unlimited)
    _, _, _, _, info = env.step(np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32))
    assert info["weights"][0] > 0.99 and info["risk_event_count"] == 0


@pytest.mark.parametrize(
    "feature_set",
    ["default", pytest.param("full", marks=pytest.mark.slow)],  # "full": ~13 s of indicators
)
def test_closes_only_data_drive_every_env_with_finite_outputs(feature_set):
    closes = closes_frame(n=500, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        env = arena_v0.parallel_env(data=closes, episode_length=80, feature_set=feature_set)
    obs, _ = env.reset(seed=2)
    rng = np.random.default_rng(0)
    while env.agents:
        obs, rewards, _, _, infos = env.step(
            {a: rng.uniform(-1, 1, 4).astype(np.float32) for a in env.agents}
        )
        assert all(np.isfinite(o).all() for o in obs.values())
        assert all(np.isfinite(r) for r in rewards.values())
        assert all(np.isfinite(i["portfolio_value"]) for i in infos.values())


def test_a_table_of_text_is_still_refused():
    frame = pd.DataFrame({"Date": ["2020-01-02", "2020-01-03"], "AAA": ["x", "y"]})
    with pytest.raises(Exception, match="cannot recognise the DataFrame layout"):
        MarketData.from_dataframe(frame)


def test_real_closes_from_shared_data_load_as_a_closes_table():
    """The Dow 30 file of ../shared/data, reduced to what most users have: a table of closes."""
    path = shared_file("dow30_yahoo_2015_2020.csv.gz")
    full = pd.read_csv(path)
    cols = {c.lower(): c for c in full.columns}
    date_col = next(cols[c] for c in ("date", "datetime") if c in cols)
    ticker_col = next(cols[c] for c in ("ticker", "symbol", "tic") if c in cols)
    close_col = cols["close"]
    table = full.pivot_table(index=date_col, columns=ticker_col, values=close_col).iloc[:, :8]
    table.index = pd.to_datetime(table.index)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        md = MarketData.from_dataframe(table.dropna())
    assert md.n_assets == 8 and md.n_steps > 1000
    env = PortfolioEnv(data=md, episode_length=50)
    env.reset(seed=0)
    for _ in range(50):
        obs, reward, *_ = env.step(env.action_space.sample())
        assert np.isfinite(obs).all() and np.isfinite(reward)


def test_envs_take_the_loaders_options_and_n_assets_selects_tickers():
    """data= with the loader's options given directly (start=, on_bad_rows=, ...), and n_assets=k keeping the
    first k tickers (an error when the data has fewer); a misspelt option lists the data arguments too."""
    from wealtharena_env.errors import ConfigError

    closes = closes_frame(n=400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        env = arena_v0.parallel_env(
            data=closes, start="2019-03-01", on_bad_rows="repair", n_assets=2, episode_length=50
        )
        assert env.sim.tickers == ("AAA", "BBB") and env.sim.n_assets == 2
        assert env.sim.source.data.dates[0] >= np.datetime64("2019-03-01")
        single = PortfolioEnv(data=closes, tickers=["CCC", "AAA"], episode_length=50)
        assert single.sim.tickers == ("CCC", "AAA")
        with pytest.raises(ConfigError, match="n_assets=7 with data of 3 tickers"):
            arena_v0.parallel_env(data=closes, n_assets=7)
        with pytest.raises(ConfigError, match="both directly and in data_options"):
            arena_v0.parallel_env(data=closes, start="2019-03-01", data_options={"start": "2019-02-01"})
    with pytest.raises(ConfigError, match="data_options.*on_bad_rows"):
        arena_v0.parallel_env(on_bad_rowz="repair")
