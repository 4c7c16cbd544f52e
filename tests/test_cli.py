"""The console script: `wealtharena demo` and friends."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np

from wealtharena_env.cli import main, run_demo


def test_demo_plays_a_full_episode_and_prints_the_table():
    out = io.StringIO()
    table = run_demo(seed=3, n_assets=6, episode_length=40, out=out)
    text = out.getvalue()
    assert list(table) == ["conservative_0", "conservative_1", "balanced_0", "aggressive_0", "aggressive_1"]
    for word in ("final value", "return", "ann.vol", "sharpe", "max dd", "costs", "events"):
        assert word in text
    for row in table.values():
        assert row["final_value"] > 0 and np.isfinite(row["sharpe"]) and 0 <= row["max_drawdown"] < 1
        assert row["costs"] >= 0
    # buy and hold trades once, equal weight keeps rebalancing: it pays more
    assert table["aggressive_1"]["costs"] < table["balanced_0"]["costs"]


def test_demo_is_deterministic():
    a = run_demo(seed=5, n_assets=4, episode_length=20, out=io.StringIO())
    b = run_demo(seed=5, n_assets=4, episode_length=20, out=io.StringIO())
    assert a == b


def test_console_script_and_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "wealtharena_env", "demo", "--episode-length", "15", "--n-assets", "3"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "balanced_0" in result.stdout
    assert main(["list"]) == 0
    assert main([]) == 0
