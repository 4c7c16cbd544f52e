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


class LiveTradingError(ValueError):
    """Paper or live trading cannot go on safely: a broker refused or failed, or the books do
    not reconcile."""


class BrokerError(LiveTradingError):
    """A broker call failed (network error after retries, rejected request, bad credentials); the message
    says which call, why, and never contains credentials."""


class TradingHalted(LiveTradingError):
    """The runner stopped trading: the agents' ledgers do not reconcile with the broker's positions, or the
    broker's state contradicts the journal. Nothing further is sent until a person looks."""


__all__ = [
    "ActionError",
    "BrokerError",
    "ConfigError",
    "LiveTradingError",
    "TradingHalted",
    "WealthArenaDataError",
]
