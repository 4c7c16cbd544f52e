"""Progress on stderr for long work (evaluation, calibration, downloads): tqdm when it is installed, else a
one-line counter; silent when disabled, and by default (``enabled=None``) shown only when stderr is a
terminal, so logs and pipes stay clean."""

from __future__ import annotations

import sys
from typing import Any


def progress_enabled(enabled: bool | None) -> bool:
    """``enabled``, or for ``None`` whether stderr is an interactive terminal."""
    if enabled is None:
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty())
    return bool(enabled)


class Progress:
    """A progress bar of ``total`` units of ``unit`` described by ``desc`` (see the module docstring).

    With ``defer=True`` nothing is shown until the first ``update(..., shown=True)``: work that turns out to
    be instant (e.g. tickers served from a cache, ``shown=False``) still counts but prints nothing. The plain
    counter prints ``desc: n/total units`` at every update for totals up to 100, else at each tenth.
    """

    def __init__(
        self, total: int, desc: str, enabled: bool | None = None, unit: str = "step", defer: bool = False
    ) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0
        self.enabled = progress_enabled(enabled)
        self._started = False
        self._shown = -1
        self._bar: Any = None
        if self.enabled and not defer:
            self._start()

    def _start(self) -> None:
        self._started = True
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._bar = None
        else:
            self._bar = tqdm(
                total=self.total, initial=self.n, desc=self.desc, unit=self.unit, file=sys.stderr, leave=False
            )

    def update(self, k: int = 1, stage: str | None = None, shown: bool = True) -> None:
        """Advance by ``k`` units; ``stage`` names what comes next (shown beside the bar); ``shown=False``
        counts without starting a deferred bar."""
        if not self.enabled:
            return
        if not self._started:
            if not shown:
                self.n = min(self.total, self.n + k)
                return
            self._start()
        self.n = min(self.total, self.n + k)
        if self._bar is not None:
            if stage is not None:
                self._bar.set_postfix_str(stage, refresh=False)
            self._bar.update(k)
            return
        tenth = self.n if self.total <= 100 else 10 * self.n // max(self.total, 1)
        if tenth != self._shown or stage is not None:
            self._shown = tenth
            suffix = f" ({stage})" if stage else ""
            print(
                f"\r{self.desc}: {self.n}/{self.total} {self.unit}s{suffix}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if not (self.enabled and self._started):
            return
        if self._bar is not None:
            self._bar.close()
        else:
            print(file=sys.stderr, flush=True)
