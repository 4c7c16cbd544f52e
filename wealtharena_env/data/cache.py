"""Local cache of downloaded bars: one entry per (ticker, interval, adjustment), filled incrementally.

Where:
    ``$WEALTHARENA_CACHE_DIR`` if set, else ``platformdirs.user_cache_dir("wealtharena-env")``
    (``~/.cache/wealtharena-env`` on Linux), or the directory / Redis URL passed as ``cache=``.
    Files live under ``<root>/yfinance/<interval>/<adjusted|raw>/<TICKER>.parquet``.

Format:
    Parquet when ``pyarrow`` is importable, else gzip CSV (``.csv.gz``, first line a ``#wealtharena``
    JSON header). Each entry stores the bars (``date`` + ``open, high, low, close, [adj_close,] volume``)
    and metadata: the key, the **coverage** (the ``[start, end)`` ranges that were requested and answered
    — not just the span of the bars, so weekends and holidays are not refetched), the row count and a
    SHA-256 of the bars.

Safety (invariant 7, "nothing lost"):
    * writes are atomic — a temp file in the same directory, fsync, then ``os.replace``;
    * a per-entry lock (``filelock`` for files, a Redis lock for Redis) serialises concurrent
      read-merge-write cycles from several processes, so none of them loses the other's rows;
    * an unreadable, truncated or inconsistent entry (read error, checksum, row-count or key mismatch) is
      reported with a :class:`CacheCorruptionWarning`, deleted and downloaded again.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wealtharena_env._files import atomic_write
from wealtharena_env.data._common import ALL_FIELDS, fmt_date
from wealtharena_env.data.validate import DataWarning, warn
from wealtharena_env.errors import ConfigError, WealthArenaDataError

__all__ = [
    "CACHE_ENV_VAR",
    "CacheBackend",
    "CacheCorruptionWarning",
    "CacheEntry",
    "CacheKey",
    "DiskCache",
    "RedisCache",
    "default_cache_dir",
    "open_cache",
]

CACHE_ENV_VAR = "WEALTHARENA_CACHE_DIR"
FORMAT_VERSION = 1
_META_KEY = b"wealtharena"
_CSV_MAGIC = b"#wealtharena "
DEFAULT_LOCK_TIMEOUT = 600.0


class CacheCorruptionWarning(DataWarning):
    """A cache entry could not be read or failed its checks; it was deleted and will be refetched."""


class _CorruptEntry(Exception):
    pass


def default_cache_dir() -> Path:
    """``$WEALTHARENA_CACHE_DIR`` if set, else the platform user cache dir for ``wealtharena-env``."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs
    except ImportError as exc:  # pragma: no cover - platformdirs is in the data extra
        raise ImportError(
            "the data cache needs platformdirs: pip install 'wealtharena-env[data]' "
            f"(or set {CACHE_ENV_VAR} / pass cache='/some/dir')"
        ) from exc
    return Path(platformdirs.user_cache_dir("wealtharena-env"))


def _have_pyarrow() -> bool:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


# ============================================================================ keys and entries
@dataclass(frozen=True, order=True)
class CacheKey:
    """What an entry holds: one ticker's bars at one interval, adjusted (``"adjusted"``) or ``"raw"``."""

    ticker: str
    interval: str = "1d"
    adjust: str = "adjusted"
    source: str = "yfinance"

    def __post_init__(self) -> None:
        if self.adjust not in ("adjusted", "raw"):
            raise ConfigError(f"cache adjust={self.adjust!r} must be 'adjusted' or 'raw'")
        for name in ("ticker", "interval", "source"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v.strip():
                raise ConfigError(f"cache key {name}={v!r} must be a non-empty string")

    def parts(self) -> tuple[str, ...]:
        def safe(s: str) -> str:  # file-name safe and reversible; never "." / ".." / hidden
            q = urllib.parse.quote(s, safe="")
            return "%2E" + q[1:] if q.startswith(".") else q

        return (safe(self.source), safe(self.interval), self.adjust, safe(self.ticker))

    def as_dict(self) -> dict[str, str]:
        return {
            "ticker": self.ticker,
            "interval": self.interval,
            "adjust": self.adjust,
            "source": self.source,
        }


def _merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted((int(s), int(e)) for s, e in ranges if e > s):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


@dataclass
class CacheEntry:
    """The bars of one key (``frame``: ``date`` + fields, sorted, unique dates) and their coverage.

    ``coverage`` is a sorted list of disjoint ``[start, end)`` ranges in int64 nanoseconds.
    """

    key: CacheKey
    frame: pd.DataFrame
    coverage: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def empty(cls, key: CacheKey) -> CacheEntry:
        return cls(key, _empty_frame(), [])

    def missing(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of ``[start, end)`` (ns) not yet covered."""
        out = []
        cur = start
        for s, e in self.coverage:
            if e <= cur:
                continue
            if s >= end:
                break
            if s > cur:
                out.append((cur, min(s, end)))
            cur = max(cur, e)
            if cur >= end:
                break
        if cur < end:
            out.append((cur, end))
        return out

    def merged(
        self, new: pd.DataFrame, covered: list[tuple[int, int]], *, replace: bool = False
    ) -> CacheEntry:
        """A new entry with ``new`` bars merged in (new rows win on equal dates) and ``covered`` added.

        ``replace=True`` discards the old bars and coverage first.
        """
        new = _normalise_frame(new)
        if replace or self.frame.empty:
            frame = new
        else:
            both = pd.concat([self.frame, new], ignore_index=True)
            frame = both.drop_duplicates("date", keep="last").sort_values("date", kind="stable")
        cov = list(covered) if replace else list(self.coverage) + list(covered)
        return CacheEntry(self.key, _normalise_frame(frame), _merge_ranges(cov))

    def rows_between(self, start: int, end: int) -> pd.DataFrame:
        d = self.frame["date"].to_numpy().view("int64")
        return self.frame.loc[(d >= start) & (d < end)].reset_index(drop=True)

    def describe_coverage(self) -> str:
        return (
            ", ".join(
                f"[{fmt_date(np.datetime64(s, 'ns'))}, {fmt_date(np.datetime64(e, 'ns'))})"
                for s, e in self.coverage
            )
            or "nothing"
        )


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex([], dtype="datetime64[ns]"),
            **{f: np.array([], dtype=np.float64) for f in ("open", "high", "low", "close", "volume")},
        }
    )


def _normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    cols = ["date"] + [f for f in ALL_FIELDS if f in frame.columns]
    out = pd.DataFrame({"date": pd.DatetimeIndex(frame["date"]).as_unit("ns")})
    for f in cols[1:]:
        out[f] = frame[f].to_numpy(dtype=np.float64)
    out = out.sort_values("date", kind="stable").reset_index(drop=True)
    if out["date"].duplicated().any():
        out = out.drop_duplicates("date", keep="last").reset_index(drop=True)
    return out


def _frame_digest(frame: pd.DataFrame) -> str:
    h = hashlib.sha256(b"wealtharena-cache-v1")
    h.update(np.ascontiguousarray(frame["date"].to_numpy().astype("datetime64[ns]").view("<i8")).tobytes())
    for f in ALL_FIELDS:
        if f in frame.columns:
            h.update(f.encode())
            h.update(np.ascontiguousarray(frame[f].to_numpy(dtype="<f8")).tobytes())
    return h.hexdigest()


# ============================================================================ (de)serialisation
def encode_entry(entry: CacheEntry, fmt: str | None = None) -> bytes:
    """Serialise an entry to Parquet (``fmt="parquet"``) or gzip CSV (``"csv.gz"``) bytes."""
    fmt = fmt or ("parquet" if _have_pyarrow() else "csv.gz")
    frame = _normalise_frame(entry.frame)
    meta = {
        "format": FORMAT_VERSION,
        **entry.key.as_dict(),
        "coverage": [[int(s), int(e)] for s, e in entry.coverage],
        "n_rows": len(frame),
        "columns": list(frame.columns),
        "sha256": _frame_digest(frame),
    }
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta)})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()
    if fmt == "csv.gz":
        body = frame.assign(date=frame["date"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f")).to_csv(index=False)
        text = _CSV_MAGIC.decode() + json.dumps(meta) + "\n" + body
        return gzip.compress(text.encode("utf-8"), mtime=0)
    raise ConfigError(f"unknown cache format {fmt!r}; use 'parquet' or 'csv.gz'")


def decode_entry(data: bytes, key: CacheKey) -> CacheEntry:
    """Parse bytes from :func:`encode_entry`; raise ``_CorruptEntry`` saying why if anything is off."""
    try:
        if data[:4] == b"PAR1":
            import pyarrow.parquet as pq

            table = pq.read_table(io.BytesIO(data))
            raw = (table.schema.metadata or {}).get(_META_KEY)
            if raw is None:
                raise _CorruptEntry("no wealtharena metadata in the Parquet schema")
            meta = json.loads(raw)
            frame = table.to_pandas()
        elif data[:2] == b"\x1f\x8b":
            text = gzip.decompress(data).decode("utf-8")
            head, _, body = text.partition("\n")
            if not head.startswith(_CSV_MAGIC.decode()):
                raise _CorruptEntry("missing #wealtharena header line")
            meta = json.loads(head[len(_CSV_MAGIC) :])
            frame = pd.read_csv(io.StringIO(body))  # the checksum below proves the floats round-tripped
            frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%dT%H:%M:%S.%f")
        else:
            raise _CorruptEntry(f"unknown file format (starts with {data[:8]!r})")
    except _CorruptEntry:
        raise
    except Exception as exc:  # any parser error means the bytes are damaged
        raise _CorruptEntry(f"{type(exc).__name__}: {exc}") from exc
    if meta.get("format") != FORMAT_VERSION:
        raise _CorruptEntry(f"format version {meta.get('format')!r} != {FORMAT_VERSION}")
    if {k: meta.get(k) for k in ("ticker", "interval", "adjust", "source")} != key.as_dict():
        raise _CorruptEntry(
            f"entry is for {meta.get('ticker')!r}/{meta.get('interval')}/{meta.get('adjust')}"
        )
    if list(frame.columns) != meta.get("columns"):
        raise _CorruptEntry(f"columns {list(frame.columns)} != {meta.get('columns')}")
    try:
        frame = _normalise_frame(frame)
    except Exception as exc:
        raise _CorruptEntry(f"unreadable columns ({exc})") from exc
    if len(frame) != meta.get("n_rows"):
        raise _CorruptEntry(f"{len(frame)} rows, metadata says {meta.get('n_rows')}")
    if _frame_digest(frame) != meta.get("sha256"):
        raise _CorruptEntry("checksum mismatch")
    coverage = _merge_ranges([(int(s), int(e)) for s, e in meta.get("coverage", [])])
    return CacheEntry(key, frame, coverage)


# ============================================================================ backends
class CacheBackend(ABC):
    """Where entries live. ``read`` returns ``None`` for a missing (or corrupt, then deleted) entry."""

    @abstractmethod
    def read(self, key: CacheKey) -> CacheEntry | None: ...

    @abstractmethod
    def write(self, entry: CacheEntry) -> None: ...

    @abstractmethod
    def delete(self, key: CacheKey) -> None: ...

    @abstractmethod
    def lock(self, key: CacheKey) -> contextlib.AbstractContextManager[Any]:
        """Exclusive lock for a read-merge-write cycle on ``key`` (across processes)."""

    @abstractmethod
    def describe(self) -> str: ...

    def _corrupt(self, key: CacheKey, where: str, reason: str) -> None:
        warn(
            CacheCorruptionWarning,
            f"cache entry {where} for {key.ticker} ({key.interval}, {key.adjust}) is corrupt ({reason}); "
            "deleted it — the data will be downloaded again",
        )
        with contextlib.suppress(Exception):
            self.delete(key)


class DiskCache(CacheBackend):
    """Entries as files under ``root`` (see the module docstring for the layout and guarantees).

    Args:
        root: directory (created on first write). ``None``: :func:`default_cache_dir`.
        fmt: ``"parquet"`` or ``"csv.gz"``; ``None`` picks Parquet when pyarrow is importable.
        lock_timeout: seconds to wait for another process's lock before raising.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        fmt: str | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.fmt = fmt or ("parquet" if _have_pyarrow() else "csv.gz")
        if self.fmt not in ("parquet", "csv.gz"):
            raise ConfigError(f"fmt={fmt!r} must be 'parquet' or 'csv.gz'")
        self.lock_timeout = float(lock_timeout)

    def __repr__(self) -> str:
        return f"DiskCache({str(self.root)!r}, fmt={self.fmt!r})"

    def describe(self) -> str:
        return f"disk cache at {self.root}"

    def path(self, key: CacheKey) -> Path:
        """The file that holds ``key``."""
        *dirs, name = key.parts()
        return self.root.joinpath(*dirs, f"{name}.{self.fmt}")

    def read(self, key: CacheKey) -> CacheEntry | None:
        p = self.path(key)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._corrupt(key, str(p), f"{type(exc).__name__}: {exc}")
            return None
        try:
            return decode_entry(data, key)
        except _CorruptEntry as exc:
            self._corrupt(key, str(p), str(exc))
            return None

    def write(self, entry: CacheEntry) -> None:
        atomic_write(self.path(entry.key), encode_entry(entry, self.fmt))

    def delete(self, key: CacheKey) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    @contextlib.contextmanager
    def lock(self, key: CacheKey) -> Iterator[None]:
        try:
            import filelock
        except ImportError as exc:  # pragma: no cover - filelock is in the data extra
            raise ImportError("the disk cache needs filelock: pip install 'wealtharena-env[data]'") from exc
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        lk = filelock.FileLock(str(p) + ".lock", timeout=self.lock_timeout)
        try:
            lk.acquire()
        except filelock.Timeout as exc:
            raise WealthArenaDataError(
                f"could not lock the cache entry {p} within {self.lock_timeout:g} s (another process holds "
                f"{p}.lock). Wait for it to finish, or delete the lock file if no such process exists."
            ) from exc
        try:
            yield
        finally:
            lk.release()

    def clear(self) -> int:
        """Delete every entry under ``root``; return how many files were removed."""
        n = 0
        src = self.root
        if not src.exists():
            return 0
        for p in sorted(src.rglob("*")):
            if p.is_file() and (p.name.endswith((".parquet", ".csv.gz", ".lock", ".tmp"))):
                p.unlink()
                n += 1
        return n


class RedisCache(CacheBackend):
    """Entries as Redis strings (same bytes as the files), locked with Redis locks.

    Args:
        url: ``redis://host:port/db`` (also ``rediss://`` and ``unix://``).
        lock_timeout: seconds to wait for another client's lock before raising.
        lock_ttl: seconds after which a lock held by a crashed client expires.
    """

    def __init__(
        self,
        url: str,
        *,
        fmt: str | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        lock_ttl: float = 3600.0,
        prefix: str = "wealtharena-env",
    ) -> None:
        try:
            import redis
        except ImportError as exc:
            raise ImportError(
                f"cache={url!r} needs the redis client: pip install 'wealtharena-env[redis]'"
            ) from exc
        self.url = url
        self.fmt = fmt or ("parquet" if _have_pyarrow() else "csv.gz")
        self.lock_timeout = float(lock_timeout)
        self.lock_ttl = float(lock_ttl)
        self.prefix = prefix
        self._redis = redis
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise ConfigError(
                f"cannot reach the Redis cache at {url} ({exc}). Start a server (e.g. .ci/start_redis.sh, or "
                "`redis-server --port 6379`), fix the URL, or use the disk cache (cache=True)."
            ) from exc

    def __repr__(self) -> str:
        return f"RedisCache({self.url!r})"

    def describe(self) -> str:
        return f"Redis cache at {self.url}"

    def redis_key(self, key: CacheKey) -> str:
        return ":".join((self.prefix, f"v{FORMAT_VERSION}", *key.parts()))

    def read(self, key: CacheKey) -> CacheEntry | None:
        rk = self.redis_key(key)
        data = self.client.get(rk)
        if data is None:
            return None
        assert isinstance(data, bytes)  # the client is made without decode_responses
        try:
            return decode_entry(bytes(data), key)
        except _CorruptEntry as exc:
            self._corrupt(key, f"redis key {rk}", str(exc))
            return None

    def write(self, entry: CacheEntry) -> None:
        self.client.set(self.redis_key(entry.key), encode_entry(entry, self.fmt))  # SET is atomic

    def delete(self, key: CacheKey) -> None:
        self.client.delete(self.redis_key(key))

    @contextlib.contextmanager
    def lock(self, key: CacheKey) -> Iterator[None]:
        lk = self.client.lock(
            self.redis_key(key) + ":lock", timeout=self.lock_ttl, blocking_timeout=self.lock_timeout
        )
        if not lk.acquire():
            raise WealthArenaDataError(
                f"could not lock {self.redis_key(key)} in Redis within {self.lock_timeout:g} s; another "
                "client holds it (it expires after lock_ttl seconds)"
            )
        try:
            yield
        finally:
            with contextlib.suppress(self._redis.exceptions.LockError):
                lk.release()

    def clear(self) -> int:
        """Delete every key of this cache (``prefix:*``); return how many were removed."""
        n = 0
        for k in self.client.scan_iter(match=f"{self.prefix}:*"):
            n += int(self.client.delete(k))
        return n


def open_cache(cache: Any = True) -> CacheBackend | None:
    """Resolve a ``cache=`` argument.

    ``True`` / ``None``: the default disk cache; ``False``: no cache; a ``redis://`` URL: :class:`RedisCache`;
    a path: :class:`DiskCache` there; a :class:`CacheBackend`: itself.
    """
    if cache is None or cache is True:
        return DiskCache()
    if cache is False:
        return None
    if isinstance(cache, CacheBackend):
        return cache
    if isinstance(cache, str) and cache.split("://", 1)[0] in ("redis", "rediss", "unix"):
        return RedisCache(cache)
    if isinstance(cache, (str, os.PathLike)):
        return DiskCache(cache)
    raise ConfigError(
        f"cache={cache!r} is not valid; use True (default disk cache), False (no cache), a directory path, "
        "or a redis://host:port/db URL"
    )
