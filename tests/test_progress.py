"""Progress on stderr (wealtharena_env._progress): shown on a terminal or when asked, silent otherwise."""

from __future__ import annotations

import io
import sys

import pytest

from wealtharena_env import _progress
from wealtharena_env._progress import Progress, progress_enabled


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_default_follows_whether_stderr_is_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_enabled(None) is False
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert progress_enabled(None) is True
    assert progress_enabled(False) is False and progress_enabled(True) is True


def test_counter_without_tqdm_and_silence_when_disabled(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails: the plain counter
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    bar = Progress(4, "calibrating 3 assets", enabled=True, unit="stage")
    bar.update(1, stage="regimes")
    bar.update(3)
    bar.close()
    assert "calibrating 3 assets: 4/4 stages" in err.getvalue() and "regimes" in err.getvalue()
    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stderr", quiet)
    silent = Progress(4, "x", enabled=False)
    silent.update(4)
    silent.close()
    assert quiet.getvalue() == ""


def test_a_deferred_bar_shows_nothing_until_real_work(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    bar = Progress(3, "downloading", enabled=True, unit="ticker", defer=True)
    bar.update(2, shown=False)  # served from the cache
    bar.close()
    assert err.getvalue() == ""
    bar = Progress(3, "downloading", enabled=True, unit="ticker", defer=True)
    bar.update(2, shown=False)
    bar.update(1)
    bar.close()
    assert "downloading: 3/3 tickers" in err.getvalue()


@pytest.mark.filterwarnings("ignore")
def test_calibrate_reports_its_stages_when_asked(monkeypatch):
    import numpy as np

    from wealtharena_env.calibration import calibrate
    from wealtharena_env.config import MarketConfig
    from wealtharena_env.data import MarketData
    from wealtharena_env.market_sources import SyntheticMarket

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    cfg = MarketConfig(n_assets=2)
    bars = np.empty((400, 6, 2))
    SyntheticMarket(cfg).sample(np.random.default_rng(0), bars)
    dates = np.arange("2015-01-01", 400, dtype="datetime64[D]")
    data = MarketData(
        dates=dates,
        tickers=("A", "B"),
        open=bars[:, 0],
        high=bars[:, 1],
        low=bars[:, 2],
        close=bars[:, 3],
        volume=bars[:, 4],
    )
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    calibrate(data, n_regimes=1, progress=True)
    assert "calibrating 2 assets" in err.getvalue() and "8/8 stages" in err.getvalue()
    assert _progress.progress_enabled(None) is False  # StringIO: not a terminal, so quiet by default


def test_evaluate_is_quiet_off_a_terminal_by_default(monkeypatch):
    from wealtharena_env.leaderboard.evaluate import evaluate

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    evaluate("Calm-v0", "equal_weight", n_seeds=1, episode_length=5, trajectories=0, bootstrap_reps=50)
    assert err.getvalue() == ""
    evaluate(
        "Calm-v0",
        "equal_weight",
        n_seeds=1,
        episode_length=5,
        trajectories=0,
        bootstrap_reps=50,
        progress=True,
    )
    assert "Calm-v0 equal_weight" in err.getvalue()
