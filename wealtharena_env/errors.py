"""Exceptions raised by wealtharena-env.

Both are subclasses of :class:`ValueError`, so code that already catches ``ValueError`` keeps working.
Messages say what was wrong, what was expected and how to fix it.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """An inconsistent or invalid configuration (dataclass field, env argument, unknown ID...)."""


class WealthArenaDataError(ValueError):
    """Market data that cannot be used: empty downloads, NaN/inf or non-positive prices, bad calendars..."""


__all__ = ["ConfigError", "WealthArenaDataError"]
