"""Golden trajectories: a silent change of dynamics, reward or observation fails here.

If a change is intended, regenerate with ``python tests/golden/make_golden.py`` AND bump the env's version.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from make_golden import CASES, HERE, config_hash, play


@pytest.mark.parametrize("name", sorted(CASES))
def test_trajectory_matches_golden(name):
    module, kwargs = CASES[name]
    expected = np.load(HERE / f"{name}.npz")
    assert str(expected["config_hash"]) == config_hash(module, kwargs), (
        f"the configuration of {expected['env_id']} changed (a default of its dynamics, reward or "
        "observation): regenerate the golden files with `python tests/golden/make_golden.py`, bump "
        "wealtharena_env.leaderboard.tasks.ENV_DEFAULTS_VERSION if the change alters what a task plays, and "
        "say so in CHANGELOG.md"
    )
    got = play(module, kwargs)
    assert set(expected.files) - {"env_id", "config_hash"} == set(got)
    np.testing.assert_array_equal(got["risk_events"], expected["risk_events"])
    for key in ("observations", "rewards", "values"):
        # tolerance only for floating-point contraction differences across CPUs, not for changed dynamics
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-9, atol=1e-12, err_msg=key)
