"""Exceptions raised by wealtharena-env.

All are subclasses of :class:`ValueError`, so code that already catches ``ValueError`` keeps working.
Messages say what was wrong, what was expected and how to fix it.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """An inconsistent or invalid configuration (dataclass field, env argument, unknown ID...)."""


class ActionError(ConfigError):
    """An action that is not an action of the env's space: wrong shape, not numeric, an unknown agent.

    Raised by ``step()``; a subclass of :class:`ConfigError` (so existing handlers keep working). Values out
    of range, ``inf`` and ``NaN`` are not errors: the kernels sanitise and count them.
    """


class WealthArenaDataError(ValueError):
    """Market data that cannot be used: empty downloads, NaN/inf or non-positive prices, bad calendars..."""


__all__ = ["ActionError", "ConfigError", "WealthArenaDataError"]
