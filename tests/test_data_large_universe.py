"""Large universes (issue 16, item 10): the 482-ticker S&P 500 file, loaded with the repairs, drives Arena-v0
and Portfolio-v0 at full width (skipped without ../shared/data)."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from conftest_data import shared_path

from wealtharena_env import arena_v0
from wealtharena_env.data import DataWarning, load_market_data

REPAIRS = {"on_bad_rows": "repair", "on_duplicate": "first", "on_gap": "drop_ticker"}


@pytest.fixture(scope="module")
def sp500():
    path = shared_path("sp500")
    raw = pd.read_csv(path, usecols=["date", "ticker"], parse_dates=["date"])
    span = raw.groupby("ticker")["date"].agg(["min", "max"])
    # the universe filter: tickers listed over the whole file (31 start late or stop early; SNI has 2 rows)
    universe = list(span.index[(span["min"] == raw["date"].min()) & (span["max"] == raw["date"].max())])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", DataWarning)
        md = load_market_data(path, tickers=universe, **REPAIRS)
    return path, universe, md, [str(w.message) for w in rec]


def test_repairs_keep_all_but_the_unrepairable_tickers(sp500):
    _, universe, md, messages = sp500
    assert len(universe) == 457
    assert sorted(set(universe) - set(md.tickers)) == ["BHF", "DHR", "VTR"]  # junk prefix, two spin-offs
    assert any("dropped 3 ticker(s) (BHF, DHR, VTR)" in m for m in messages)
    assert md.n_assets == 454 and md.n_steps == 1255  # 4 dates around 2019-11-20 lack some tickers
    assert np.isfinite(md.close).all() and (md.close > 0).all()
    moves = np.abs(np.diff(np.log(md.adjusted().close), axis=0))
    t, j = np.unravel_index(np.argmax(moves), moves.shape)  # the largest move left is real: PG&E's bankruptcy
    assert md.tickers[j] == "PCG" and str(md.dates[t + 1])[:10] == "2019-01-14" and moves[t, j] < np.log(2.2)


def _check_obs(space, obs):
    assert obs.shape == space.shape and obs.dtype == space.dtype and np.isfinite(obs).all()


def test_arena_and_portfolio_at_full_width(sp500):
    path, universe, md, _ = sp500
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        env = arena_v0.parallel_env(
            data=path, data_options={"tickers": universe, **REPAIRS}, episode_length=20
        )
    assert env.sim.n_assets == md.n_assets == 454 and tuple(env.sim.tickers) == md.tickers
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(5):
        for agent, o in obs.items():
            _check_obs(env.observation_space(agent), o)
        actions = {a: rng.uniform(-1, 1, env.action_space(a).shape).astype(np.float32) for a in env.agents}
        obs, rewards, _, _, infos = env.step(actions)
        assert all(np.isfinite(r) for r in rewards.values())
        assert all(np.isfinite(i["portfolio_value"]) for i in infos.values())

    single = gym.make("WealthArena/Portfolio-v0", data=md, episode_length=20)
    assert single.action_space.shape == (md.n_assets + 1,)
    obs, _ = single.reset(seed=4)
    for _ in range(5):
        _check_obs(single.observation_space, obs)
        obs, reward, terminated, _, info = single.step(single.action_space.sample())
        assert np.isfinite(reward) and not terminated and np.isfinite(info["portfolio_value"])
    # an n_assets selection on top of the universe filter: the first k tickers
    first = gym.make("WealthArena/Portfolio-v0", data=md, n_assets=100, episode_length=20)
    assert first.unwrapped.sim.n_assets == 100 and tuple(first.unwrapped.sim.tickers) == md.tickers[:100]
    obs, _ = first.reset(seed=5)
    _check_obs(first.observation_space, first.step(first.action_space.sample())[0])
