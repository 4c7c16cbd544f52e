"""Market data: loaders, validation, cache and splits.

Everything an environment needs is :func:`load_market_data` (for its ``data=`` argument) and
:func:`resolve_split` (for its ``split=`` argument); both return :class:`MarketData`.
:func:`simulate_prices` returns a simulated panel of a (calibrated) synthetic market in the layout of the data
files; it lives in :mod:`wealtharena_env.calibration` (above this layer) and is re-exported here lazily.
yfinance, redis and pyarrow are optional and imported only when used.
"""

import importlib
from typing import Any

from wealtharena_env.data.cache import (
    CACHE_ENV_VAR,
    CacheBackend,
    CacheCorruptionWarning,
    CacheEntry,
    CacheKey,
    DiskCache,
    RedisCache,
    default_cache_dir,
    open_cache,
)
from wealtharena_env.data.loaders import (
    download_to_cache,
    fetch_bars,
    from_csv,
    from_dataframe,
    from_parquet,
    from_yfinance,
    load_market_data,
)
from wealtharena_env.data.market_data import MarketData
from wealtharena_env.data.splits import (
    DEFAULT_SPLITS,
    DateSplits,
    Fold,
    SplitOverlapWarning,
    resolve_split,
    walk_forward,
)
from wealtharena_env.data.validate import (
    DataQualityWarning,
    DataRepairWarning,
    DataWarning,
    align_calendars,
    validate_frame,
)

__all__ = [
    "CACHE_ENV_VAR",
    "DEFAULT_SPLITS",
    "CacheBackend",
    "CacheCorruptionWarning",
    "CacheEntry",
    "CacheKey",
    "DataQualityWarning",
    "DataRepairWarning",
    "DataWarning",
    "DateSplits",
    "DiskCache",
    "Fold",
    "MarketData",
    "RedisCache",
    "SplitOverlapWarning",
    "align_calendars",
    "default_cache_dir",
    "download_to_cache",
    "fetch_bars",
    "from_csv",
    "from_dataframe",
    "from_parquet",
    "from_yfinance",
    "load_market_data",
    "open_cache",
    "resolve_split",
    "simulate_prices",
    "validate_frame",
    "walk_forward",
]


def __getattr__(name: str) -> Any:
    # simulate_prices runs the synthetic market, a layer above data: imported on first use, by name (this
    # package imports nothing above it; see tests/test_layers.py)
    if name == "simulate_prices":
        return importlib.import_module("wealtharena_env.calibration").simulate_prices
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
