"""Helpers shared by the tests that play given bars (imported as a module, not a pytest conftest).

* :class:`FixedMarket`: a market source serving the same bars every episode (and, if given, the regime
  labels of those bars).
"""

from __future__ import annotations

import numpy as np


class FixedMarket:
    """A MarketSource that serves the same given bars ``(T, 6, N)`` every episode (and, if given, regime
    labels for them, as the synthetic market does); its tickers are ``X0 .. X{N-1}``."""

    def __init__(self, bars: np.ndarray, regimes: np.ndarray | None = None):
        self.bars, self.regimes = bars, regimes
        self.n_assets = bars.shape[2]
        self.tickers = tuple(f"X{i}" for i in range(self.n_assets))

    def sample(self, rng, bars_out: np.ndarray) -> np.ndarray | None:
        bars_out[...] = self.bars
        return None if self.regimes is None else self.regimes.copy()
