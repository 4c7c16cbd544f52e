"""The leaderboard's task suite: versioned, immutable evaluation protocols over registered env IDs.

A :class:`Task` is a registered environment ID plus keyword arguments and its evaluation protocol:
published **training seeds**, a disjoint fixed set of **evaluation seeds**, and one or more evaluation
:class:`Scenario` s. A scenario changes the market (held-out market regimes: regime parameters that are
not among the training ones) and/or fills the non-focal seats of a multi-agent task with a **background
population** of baselines (held-out co-players, as in Melting Pot): the submitted policy controls the
task's *focal* agents only, and results report focal performance per background population.

Tracks (suite :data:`SUITE_VERSION`):

==================  =============================  ===========================================================
task                env ID                         what it tests
==================  =============================  ===========================================================
``Calm-v0``         ``WealthArena/Portfolio-v0``   a bull market that never leaves its regime, low jump risk
``Regimes-v0``      ``WealthArena/Portfolio-v0``   the default 3-regime market; held-out: persistent bear,
                                                   fast switching
``Crash-v0``        ``WealthArena/Portfolio-v0``   episodes that start in the high-volatility regime with
                                                   frequent negative jumps; held-out: a deeper crash
``HighCorrelation`` ``WealthArena/Portfolio-v0``   equicorrelation 0.7-0.9 (little to diversify); held-out:
``-v0``                                            a correlation spike
``BullBear-v0``     ``WealthArena/Portfolio-v0``   persistent bull / bear markets that volatility gives away
                                                   (market timing pays); held-out: shorter, longer regimes
``Impact-v0``       ``WealthArena/ImpactArena-v0`` 5 agents whose net order flow moves prices; 2 focal seats,
                                                   3 seats of held-out background populations
``Dow30-v0``        ``WealthArena/Portfolio-v0``   historical: 10 Dow stocks, trained on 2015-2017, evaluated
                                                   on 2019 (the test split); results record the data hash
``M6Crash-v0``      ``WealthArena/Portfolio-v0``   historical: 12 sector, Treasury and gold ETFs of the M6
                                                   universe; every evaluation episode holds the 2020 crash
==================  =============================  ===========================================================

Immutability: a published task never changes. :meth:`Task.fingerprint` hashes its full definition and
the test-suite pins every fingerprint, so a change is caught; a changed protocol is a new version
(``Calm-v1``), and leaderboard rows are keyed by the versioned task.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wealtharena_env.config import MarketConfig
from wealtharena_env.errors import ConfigError

#: Version of the suite as a whole (bumped when a task is added or a new task version is published).
SUITE_VERSION = "2026.3"

#: Version of the envs' default dynamics (action mapping, rebalancing, reward, costs, risk presets: everything
#: a task leaves at its default). Task fingerprints include it, so results produced under other defaults never
#: rank beside today's. Bump it deliberately whenever a default changes what an env does (the golden
#: trajectories of tests/golden fail until they are regenerated, as a reminder); say so in CHANGELOG.md.
#: 2: exponential action mapping, partial rebalancing, mean-variance reward (2026-12-06).
#: 3: synthetic episodes drawn in the kernel from a per-episode xoshiro256** stream (a new random stream; same
#: market model), and the exponential mapping's dead zone of 0.3 (2026-12-06, second change of the day;
#: nothing was published under 2).
ENV_DEFAULTS_VERSION = 3

#: Published training seeds: train (and tune) on any seed in ``range(0, 100_000)``.
TRAIN_SEEDS: range = range(100_000)

#: The fixed evaluation seeds (all >= 10**9, hence disjoint from :data:`TRAIN_SEEDS`). Never train on them.
EVAL_SEEDS: tuple[int, ...] = (
    1_000_003_017,
    1_000_019_231,
    1_000_042_793,
    1_000_067_511,
    1_000_088_129,
    1_000_102_667,
    1_000_131_071,
    1_000_157_959,
    1_000_180_511,
    1_000_203_389,
    1_000_227_961,
    1_000_251_433,
    1_000_278_797,
    1_000_300_733,
    1_000_325_177,
    1_000_349_901,
)

#: Default universe size and episode length of the synthetic tracks.
N_ASSETS = 10
EPISODE_LENGTH = 252


def _freeze(mapping: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((mapping or {}).items()))


def _canonical(value: Any) -> Any:
    """A JSON-able, order-stable form of a task field (dataclasses become dicts with their type name)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Fields left at their default are omitted: the defaults belong to the versioned env ID (changing
        # them changes dynamics, which bumps the env's version), and adding a new field with a default
        # must not change published fingerprints.
        out = {"__type__": type(value).__name__}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.default is not dataclasses.MISSING and _canonical(f.default) == _canonical(v):
                continue
            out[f.name] = _canonical(v)
        return out
    if isinstance(value, range):
        return {"__type__": "range", "start": value.start, "stop": value.stop, "step": value.step}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    return value


@dataclass(frozen=True)
class Background:
    """A population of co-players: which baseline plays each non-focal seat.

    Attributes:
        name: the population's name (reported in results).
        seats: ``((agent, baseline_name), ...)`` for every non-focal agent.
    """

    name: str
    seats: tuple[tuple[str, str], ...]

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self.seats)


@dataclass(frozen=True)
class Scenario:
    """One evaluation condition of a task.

    Attributes:
        name: reported in results (e.g. ``"in_distribution"``, ``"held_out_persistent_bear"``).
        market: the market of this scenario (``None``: the task's market).
        background: the co-players of the non-focal seats (multi-agent tasks only).
        held_out: True when the scenario's market parameters or co-players are not among the training ones.
        description: one line for the docs.
    """

    name: str
    market: MarketConfig | None = None
    background: Background | None = None
    held_out: bool = False
    description: str = ""


@dataclass(frozen=True)
class HistoricalSpec:
    """The data of a historical track: tickers, a date range and its train / validation / test split.

    ``load_options`` go to :func:`wealtharena_env.data.load_market_data` (e.g. ``calendar``). The evaluation
    plays the ``eval_split``; results record the :meth:`MarketData.content_hash` of exactly those bars.
    """

    tickers: tuple[str, ...]
    start: str
    end: str
    train: tuple[str, str]
    validation: tuple[str, str]
    test: tuple[str, str]
    eval_split: str = "test"
    load_options: tuple[tuple[str, Any], ...] = ()

    def date_splits(self):
        from wealtharena_env.data import DateSplits

        return DateSplits(train=self.train, validation=self.validation, test=self.test)


@dataclass(frozen=True)
class Task:
    """A versioned evaluation task: a registered env ID, its arguments and its protocol.

    Attributes:
        name: task name without version (``"Calm"``); :attr:`key` is ``"Calm-v0"``.
        version: the task's version; any change of protocol or dynamics publishes a new version.
        env_id: the registered PettingZoo or Gymnasium ID.
        env_kwargs: keyword arguments of the env (frozen as sorted pairs; :attr:`kwargs` gives a dict).
        scenarios: the evaluation scenarios (each played on every evaluation seed).
        focal_agents: the agents the submitted policy controls (``("agent",)`` for single-agent envs).
        training_backgrounds: co-player populations published for training (multi-agent tasks); the
            evaluation backgrounds are disjoint from them.
        train_seeds, eval_seeds: published training seeds and the fixed evaluation seeds (disjoint).
        historical: the data of a historical track (``None`` for synthetic tracks).
        primary_metric: the per-agent metric whose mean over focal agents and evaluation episodes ranks
            entries (``"sharpe_ratio"``: annualised, risk-free 0, sample std).
        description: a paragraph for the docs.
    """

    name: str
    version: int
    env_id: str
    env_kwargs: tuple[tuple[str, Any], ...]
    scenarios: tuple[Scenario, ...]
    focal_agents: tuple[str, ...] = ("agent",)
    training_backgrounds: tuple[Background, ...] = ()
    train_seeds: range = TRAIN_SEEDS
    eval_seeds: tuple[int, ...] = EVAL_SEEDS
    historical: HistoricalSpec | None = None
    primary_metric: str = "sharpe_ratio"
    description: str = ""

    def __post_init__(self) -> None:
        if not self.scenarios:
            raise ConfigError(f"task {self.name!r} needs at least one scenario.")
        names = [s.name for s in self.scenarios]
        if len(set(names)) != len(names):
            raise ConfigError(f"task {self.name!r} has duplicate scenario names {names}.")
        overlap = [s for s in self.eval_seeds if s in self.train_seeds]
        if overlap:
            raise ConfigError(f"task {self.name!r}: evaluation seeds {overlap} are also training seeds.")
        if len(set(self.eval_seeds)) != len(self.eval_seeds):
            raise ConfigError(f"task {self.name!r} has duplicate evaluation seeds.")
        train_pops = {b.name for b in self.training_backgrounds}
        clash = [
            s.name for s in self.scenarios if s.background is not None and s.background.name in train_pops
        ]
        if clash:
            raise ConfigError(f"task {self.name!r}: scenarios {clash} use a training background population.")

    def validation_seeds(self, n: int = 16) -> tuple[int, ...]:
        """``n`` seeds for validation during training (model or checkpoint selection): the last ``n`` of
        the training range, so never evaluation seeds. A trainer that selects on them and then reports the
        evaluation seeds keeps the evaluation held out."""
        if not 1 <= n <= len(self.train_seeds):
            raise ConfigError(f"n must be in [1, {len(self.train_seeds)}], got {n}.")
        return tuple(self.train_seeds[-n:])

    @property
    def key(self) -> str:
        """``"<name>-v<version>"``: how results and leaderboard rows are keyed."""
        return f"{self.name}-v{self.version}"

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.env_kwargs)

    @property
    def is_multi_agent(self) -> bool:
        return any(s.background is not None for s in self.scenarios)

    @property
    def episode_length(self) -> int:
        return int(self.kwargs.get("episode_length", EPISODE_LENGTH))

    def scenario_kwargs(self, scenario: Scenario, episode_length: int | None = None) -> dict[str, Any]:
        """The env keyword arguments of one scenario (with an optional shorter episode for small budgets)."""
        kwargs = self.kwargs
        if scenario.market is not None:
            kwargs["market"] = scenario.market
        if episode_length is not None:
            kwargs["episode_length"] = int(episode_length)
        return kwargs

    def describe(self) -> dict[str, Any]:
        """The full definition as plain JSON-able data (what :meth:`fingerprint` hashes)."""
        return {
            "key": self.key,
            "name": self.name,
            "version": self.version,
            "env_id": self.env_id,
            "env_kwargs": _canonical(dict(self.env_kwargs)),
            "focal_agents": list(self.focal_agents),
            "scenarios": [_canonical(s) for s in self.scenarios],
            "training_backgrounds": [_canonical(b) for b in self.training_backgrounds],
            "train_seeds": _canonical(self.train_seeds),
            "eval_seeds": list(self.eval_seeds),
            "historical": _canonical(self.historical),
            "primary_metric": self.primary_metric,
            "env_defaults_version": ENV_DEFAULTS_VERSION,
        }

    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) of :meth:`describe` as canonical JSON: changes iff the task
        changes."""
        text = json.dumps(self.describe(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------ markets
_BASE = MarketConfig(n_assets=N_ASSETS)

#: Calm: bull forever (row 0 of the chain is absorbing), lower volatility, rare jumps.
CALM_MARKET = dataclasses.replace(
    _BASE,
    initial_regime=0,
    regime_transition=((1.0, 0.0, 0.0), (0.012, 0.983, 0.005), (0.020, 0.030, 0.950)),
    regime_volatility=(0.12, 0.24, 0.48),
    jump_intensity=0.5,
)

#: Regimes: the default 3-regime market (stationary start).
REGIMES_MARKET = _BASE
#: Held out: a more persistent and deeper bear market.
REGIMES_PERSISTENT_BEAR = dataclasses.replace(
    _BASE,
    regime_drift=(0.10, -0.28, -0.45),
    regime_volatility=(0.16, 0.28, 0.52),
    regime_transition=((0.990, 0.008, 0.002), (0.006, 0.990, 0.004), (0.020, 0.040, 0.940)),
)
#: Held out: regimes switch every few weeks.
REGIMES_FAST_SWITCHING = dataclasses.replace(
    _BASE, regime_transition=((0.960, 0.030, 0.010), (0.050, 0.930, 0.020), (0.080, 0.070, 0.850))
)

#: Crash: start in high volatility, frequent negative jumps.
CRASH_MARKET = dataclasses.replace(
    _BASE, initial_regime=2, jump_intensity=6.0, jump_mean=-0.04, jump_std=0.05
)
#: Held out: a deeper, longer crash.
CRASH_DEEPER = dataclasses.replace(
    CRASH_MARKET,
    regime_drift=(0.12, -0.25, -0.65),
    regime_volatility=(0.14, 0.30, 0.65),
    regime_transition=((0.995, 0.004, 0.001), (0.012, 0.983, 0.005), (0.010, 0.020, 0.970)),
)

#: High correlation: little to diversify.
HIGH_CORRELATION_MARKET = dataclasses.replace(_BASE, regime_correlation=(0.70, 0.80, 0.90))
#: Held out: a correlation spike.
HIGH_CORRELATION_SPIKE = dataclasses.replace(_BASE, regime_correlation=(0.85, 0.92, 0.97))


def _bull_bear_transition(bull_stay: float, bear_stay: float) -> tuple[tuple[float, ...], ...]:
    """Bull <-> bear chain; a bear turns into a crash with probability 0.002 a bar (crashes last ~14 bars)."""
    return (
        (bull_stay, 1.0 - bull_stay, 0.0),
        (1.0 - bear_stay - 0.002, bear_stay, 0.002),
        (0.020, 0.050, 0.930),
    )


# BullBear is a new task, not Regimes-v1: Regimes-v0 stays a valid question (regimes that barely show in the
# observation, where no simple rule gains much), and get_task("Regimes") would resolve to a v1.
#: BullBear: persistent regimes that the market's volatility gives away. Bull: +30 %/yr, volatility 10 %,
#: correlation 0.3 (equal-weight volatility ~6 %); bear: -70 %/yr, volatility 40 %, correlation 0.7
#: (equal-weight volatility ~34 %); a rare crash inside bears. Bull ~143 bars (~7 months), bear ~100 bars
#: (~5 months); stationary shares 54 / 44 / 1 %. Calibrated on training seeds only (docs/leaderboard.md).
BULL_BEAR_MARKET = dataclasses.replace(
    _BASE,
    regime_drift=(0.30, -0.70, -0.80),
    regime_volatility=(0.10, 0.40, 0.80),
    regime_correlation=(0.30, 0.70, 0.85),
    regime_transition=_bull_bear_transition(0.993, 0.990),
)
#: Held out: regimes half as long (bull ~67 bars, bear ~50 bars): the volatility signal lags more often.
BULL_BEAR_SHORT_REGIMES = dataclasses.replace(
    BULL_BEAR_MARKET, regime_transition=_bull_bear_transition(0.985, 0.980)
)
#: Held out: regimes twice as long (bull ~333 bars, bear ~200 bars): many episodes see one regime only.
BULL_BEAR_LONG_REGIMES = dataclasses.replace(
    BULL_BEAR_MARKET, regime_transition=_bull_bear_transition(0.997, 0.995)
)

# ------------------------------------------------------------------------------------------------ co-players
#: Permanent impact of the Impact track: net buying of 1 % of a bar's volume lifts later prices by ~0.1 %.
IMPACT = 0.1
IMPACT_FOCAL = ("balanced_0", "aggressive_0")
IMPACT_BACKGROUND_SEATS = ("conservative_0", "conservative_1", "aggressive_1")


def _population(name: str, *baselines: str) -> Background:
    return Background(name, tuple(zip(IMPACT_BACKGROUND_SEATS, baselines)))


#: Published for training: train against these (or anything else that is not an evaluation population).
IMPACT_TRAINING_BACKGROUNDS = (
    _population("train_equal_weight", "equal_weight", "equal_weight", "equal_weight"),
    _population("train_random", "random", "random", "random"),
)
#: Held out: the evaluation populations (never published for training).
IMPACT_EVAL_BACKGROUNDS = (
    _population("momentum_herd", "momentum", "momentum", "momentum"),
    _population("contrarians", "mean_reversion", "mean_reversion", "mean_reversion"),
    _population("institutions", "min_variance", "risk_parity", "vol_target"),
    _population("passive", "buy_and_hold", "buy_and_hold", "cash"),
)


def _synthetic(
    name: str,
    env_id: str,
    market: MarketConfig,
    scenarios: tuple[Scenario, ...],
    description: str,
    **extra: Any,
) -> Task:
    kwargs = {"n_assets": N_ASSETS, "episode_length": EPISODE_LENGTH, "market": market}
    return Task(
        name=name,
        version=0,
        env_id=env_id,
        env_kwargs=_freeze(kwargs),
        scenarios=scenarios,
        description=description,
        **extra,
    )


TASKS: dict[str, Task] = {}


def _publish(task: Task) -> Task:
    TASKS[task.key] = task
    return task


_publish(
    _synthetic(
        "Calm",
        "WealthArena/Portfolio-v0",
        CALM_MARKET,
        (Scenario("calm", description="bull regime throughout, rare jumps"),),
        "A calm bull market: the regime chain never leaves 'bull'. Buy-and-hold style policies should do "
        "well; costs and turnover decide the ranking.",
    )
)
_publish(
    _synthetic(
        "Regimes",
        "WealthArena/Portfolio-v0",
        REGIMES_MARKET,
        (
            Scenario("in_distribution", description="the training market (default MarketConfig)"),
            Scenario(
                "held_out_persistent_bear",
                REGIMES_PERSISTENT_BEAR,
                held_out=True,
                description="bear regime more likely and deeper (drift -28%/yr)",
            ),
            Scenario(
                "held_out_fast_switching",
                REGIMES_FAST_SWITCHING,
                held_out=True,
                description="regimes switch every few weeks",
            ),
        ),
        "The default bull / bear / high-volatility market, plus two held-out regime parameterisations the "
        "policy never trained on.",
    )
)
_publish(
    _synthetic(
        "Crash",
        "WealthArena/Portfolio-v0",
        CRASH_MARKET,
        (
            Scenario("crash", description="start in high volatility, 6 negative jumps per asset-year"),
            Scenario(
                "held_out_deeper_crash",
                CRASH_DEEPER,
                held_out=True,
                description="longer, deeper high-volatility regime (drift -65%/yr, vol 65%)",
            ),
        ),
        "Episodes start in the high-volatility regime (initial_regime=2) with frequent negative jumps: "
        "capital preservation and drawdown control.",
    )
)
_publish(
    _synthetic(
        "HighCorrelation",
        "WealthArena/Portfolio-v0",
        HIGH_CORRELATION_MARKET,
        (
            Scenario("high_correlation", description="equicorrelation 0.70 / 0.80 / 0.90 by regime"),
            Scenario(
                "held_out_correlation_spike",
                HIGH_CORRELATION_SPIKE,
                held_out=True,
                description="equicorrelation 0.85 / 0.92 / 0.97",
            ),
        ),
        "Assets move together, so diversification buys little; timing and cash management matter.",
    )
)
_publish(
    _synthetic(
        "BullBear",
        "WealthArena/Portfolio-v0",
        BULL_BEAR_MARKET,
        (
            Scenario(
                "bull_bear",
                description="bull ~7 months (+30 %/yr, vol 10 %), bear ~5 months (-70 %/yr, vol 40 %)",
            ),
            Scenario(
                "held_out_short_regimes",
                BULL_BEAR_SHORT_REGIMES,
                held_out=True,
                description="regimes half as long (bull ~3 months, bear ~2.5 months)",
            ),
            Scenario(
                "held_out_long_regimes",
                BULL_BEAR_LONG_REGIMES,
                held_out=True,
                description="regimes about twice as long (bull ~16 months, bear ~10 months)",
            ),
        ),
        "Persistent bull and bear markets whose volatility gives them away: quiet rising markets alternate "
        "with turbulent falling ones for months. Equal weight cannot see the regimes (mean Sharpe about 0); "
        "the causal rule vol_timing, in cash while the market-volatility feature is high, gains about 0.9 "
        "Sharpe on training seeds: market timing from the observation pays here.",
    )
)
_publish(
    Task(
        name="Impact",
        version=0,
        env_id="WealthArena/ImpactArena-v0",
        env_kwargs=_freeze({"n_assets": N_ASSETS, "episode_length": EPISODE_LENGTH, "impact": IMPACT}),
        scenarios=tuple(
            Scenario(
                f"vs_{b.name}",
                background=b,
                held_out=True,
                description="background: " + ", ".join(f"{a}={p}" for a, p in b.seats),
            )
            for b in IMPACT_EVAL_BACKGROUNDS
        ),
        focal_agents=IMPACT_FOCAL,
        training_backgrounds=IMPACT_TRAINING_BACKGROUNDS,
        description="Five agents share a market where their aggregate net order flow moves prices "
        "(impact=0.1). The submitted policy plays the focal seats balanced_0 and aggressive_0; the other "
        "three seats are held-out background populations. Scores are reported per population.",
    )
)
_publish(
    Task(
        name="Dow30",
        version=0,
        env_id="WealthArena/Portfolio-v0",
        env_kwargs=_freeze({"episode_length": 126}),
        scenarios=(
            Scenario("test_2019", held_out=True, description="the test split, 2019-01-02..2020-01-10"),
        ),
        historical=HistoricalSpec(
            tickers=("AAPL", "MSFT", "JPM", "XOM", "PG", "KO", "HD", "INTC", "CVX", "WMT"),
            start="2015-01-01",
            end="2020-01-11",
            train=("2015-01-01", "2018-01-01"),
            validation=("2018-01-01", "2019-01-01"),
            test=("2019-01-01", "2020-01-11"),
        ),
        description="Historical daily bars of 10 Dow stocks (Yahoo, split- and dividend-adjusted). Train on "
        "2015-2017, validate on 2018, evaluate on 2019: each evaluation seed draws the start of a "
        "126-step episode inside the test split. Results record the dataset's content hash.",
    )
)

#: M6Crash: 9 US sector ETFs, two Treasury ETFs and gold from the M6 competition's universe (EODHD bars,
#: split- and dividend-adjusted); the test split is placed so that every evaluation episode holds the whole
#: February-March 2020 crash (S&P 500 peak 2020-02-19, trough 2020-03-23).
M6_CRASH_TICKERS = ("XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY", "TLT", "IEF", "IAU")
_publish(
    Task(
        name="M6Crash",
        version=0,
        env_id="WealthArena/Portfolio-v0",
        env_kwargs=_freeze({"episode_length": 126}),
        scenarios=(
            Scenario(
                "test_2020_crash",
                held_out=True,
                description="the test split, 2019-07-15..2020-08-14: every episode holds the Feb-Mar 2020 "
                "crash",
            ),
        ),
        historical=HistoricalSpec(
            tickers=M6_CRASH_TICKERS,
            start="2017-04-17",
            end="2020-08-15",
            train=("2017-04-17", "2018-10-01"),
            validation=("2018-10-01", "2019-07-15"),
            test=("2019-07-15", "2020-08-15"),
        ),
        description="Historical daily bars of 12 ETFs of the M6 universe: the 9 US sector SPDRs (XLB XLE XLF "
        "XLI XLK XLP XLU XLV XLY), Treasuries (TLT, IEF) and gold (IAU), adjusted for splits and dividends. "
        "Train on 2017-04..2018-09, validate on 2018-10..2019-07 (the late-2018 sell-off), evaluate on the "
        "test split 2019-07-15..2020-08-14: each evaluation seed draws the start of a 126-step episode whose "
        "decisions begin between October 2019 and mid-February 2020, so every episode holds the crash from "
        "the 2020-02-19 peak to the 2020-03-23 trough and part of the rebound. Results record the dataset's "
        "content hash.",
    )
)


def get_task(key: str) -> Task:
    """The published task ``key`` (``"Calm-v0"``; a bare name ``"Calm"`` means its latest version)."""
    if key in TASKS:
        return TASKS[key]
    versions = [t for t in TASKS.values() if t.name.lower() == key.lower() or t.key.lower() == key.lower()]
    if versions:
        return max(versions, key=lambda t: t.version)
    raise ConfigError(f"unknown task {key!r}; the tasks are {sorted(TASKS)} (see `wealtharena tasks`).")


def list_tasks() -> list[Task]:
    return list(TASKS.values())


__all__ = [
    "ENV_DEFAULTS_VERSION",
    "EVAL_SEEDS",
    "IMPACT_EVAL_BACKGROUNDS",
    "IMPACT_TRAINING_BACKGROUNDS",
    "M6_CRASH_TICKERS",
    "SUITE_VERSION",
    "TASKS",
    "TRAIN_SEEDS",
    "Background",
    "HistoricalSpec",
    "Scenario",
    "Task",
    "get_task",
    "list_tasks",
]
