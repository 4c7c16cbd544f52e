"""Cache: location, incremental fetch, atomic/locked writes from two processes, corrupt files, Redis."""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback

import numpy as np
import pandas as pd
import pytest
from conftest_data import FakeYahoo, install_fake, shared_frame

from wealtharena_env.data import (
    CACHE_ENV_VAR,
    CacheCorruptionWarning,
    CacheEntry,
    CacheKey,
    DataQualityWarning,
    DiskCache,
    default_cache_dir,
    fetch_bars,
    from_yfinance,
    open_cache,
)
from wealtharena_env.data.cache import decode_entry
from wealtharena_env.errors import ConfigError

pytest.importorskip("yfinance")
pytest.importorskip("filelock")

T = pd.Timestamp


@pytest.fixture
def dow():
    return shared_frame("dow30")


@pytest.fixture
def fake(monkeypatch, dow):
    return install_fake(monkeypatch, FakeYahoo(dow))


def ranges(fake: FakeYahoo) -> list[tuple[tuple[str, ...], T, T]]:
    return [(tuple(c["tickers"]), c["start"], c["end"]) for c in fake.calls]


def rows(dow: pd.DataFrame, ticker: str, start: str, end: str) -> int:
    d = dow[(dow["ticker"] == ticker)]
    return int(((d["date"] >= start) & (d["date"] < end)).sum())


# ----------------------------------------------------------------------------- location and format
def test_cache_dir_env_var_and_argument(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert open_cache(True).root == tmp_path / "env"
    assert open_cache(tmp_path / "arg").root == tmp_path / "arg"
    assert open_cache(False) is None
    monkeypatch.delenv(CACHE_ENV_VAR)
    assert "wealtharena-env" in str(default_cache_dir())
    with pytest.raises(ConfigError, match="cache=3.5 is not valid"):
        open_cache(3.5)


@pytest.mark.parametrize("fmt", ["parquet", "csv.gz"])
def test_entry_round_trip_and_checksum(dow, tmp_path, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    key = CacheKey("AAPL", "1d", "raw")
    frame = dow[dow["ticker"] == "AAPL"].drop(columns="ticker").iloc[:50]
    entry = CacheEntry(key, frame, [(T("2015-01-01").value, T("2015-03-25").value)])
    cache = DiskCache(tmp_path, fmt=fmt)
    cache.write(entry)
    path = cache.path(key)
    assert path.name == f"AAPL.{fmt}" and path.parent == tmp_path / "yfinance" / "1d" / "raw"
    back = cache.read(key)
    expected = entry.frame.reset_index(drop=True).astype({"volume": float, "date": "datetime64[ns]"})
    pd.testing.assert_frame_equal(back.frame, expected)
    assert back.coverage == entry.coverage
    assert not [p for p in tmp_path.rglob("*.tmp")]  # the temp file was renamed into place
    # a different key reading these bytes, or flipped bytes, are refused
    with pytest.raises(Exception, match="entry is for"):
        decode_entry(path.read_bytes(), CacheKey("MSFT", "1d", "raw"))
    if fmt == "csv.gz":
        import gzip

        text = gzip.decompress(path.read_bytes()).decode().replace("109.25", "109.26", 1)
        path.write_bytes(gzip.compress(text.encode()))
        with pytest.warns(CacheCorruptionWarning, match="checksum mismatch"):
            assert cache.read(key) is None
        assert not path.exists()


def test_odd_ticker_names_are_safe_file_names(tmp_path):
    cache = DiskCache(tmp_path)
    for t in ("^GSPC", "BRK-B", "EURUSD=X", "../evil", ".hidden"):
        p = cache.path(CacheKey(t))
        assert p.parent == tmp_path / "yfinance" / "1d" / "adjusted"
        assert not p.name.startswith(".")


# ----------------------------------------------------------------------------- incremental
def test_incremental_fetch_downloads_only_missing_ranges(fake, dow, tmp_path):
    cache = DiskCache(tmp_path)
    first = fetch_bars(["AAPL", "MSFT"], "2016-01-01", "2017-01-01", cache=cache, progress=False)
    assert ranges(fake) == [(("AAPL", "MSFT"), T("2016-01-01"), T("2017-01-01"))]
    assert len(first["AAPL"]) == rows(dow, "AAPL", "2016-01-01", "2017-01-01")

    fake.calls.clear()  # inside the cached range: no download at all
    inside = fetch_bars(["AAPL", "MSFT"], "2016-03-01", "2016-09-01", cache=cache, progress=False)
    assert fake.calls == []
    assert len(inside["MSFT"]) == rows(dow, "MSFT", "2016-03-01", "2016-09-01")

    fake.calls.clear()  # wider on both sides: only the two missing ends (+ 5 days of overlap check)
    wide = fetch_bars(["AAPL", "MSFT"], "2015-06-01", "2017-06-01", cache=cache, progress=False)
    assert ranges(fake) == [
        (("AAPL", "MSFT"), T("2015-06-01"), T("2016-01-06")),
        (("AAPL", "MSFT"), T("2016-12-27"), T("2017-06-01")),
    ]
    for t in ("AAPL", "MSFT"):
        expected = dow[(dow["ticker"] == t) & (dow["date"] >= "2015-06-01") & (dow["date"] < "2017-06-01")]
        np.testing.assert_allclose(wide[t]["close"].to_numpy(), expected["adj_close"].to_numpy(), rtol=1e-12)
        assert wide[t]["date"].is_unique and wide[t]["date"].is_monotonic_increasing
    entry = cache.read(CacheKey("AAPL"))
    assert entry.coverage == [(T("2015-06-01").value, T("2017-06-01").value)]

    fake.calls.clear()  # a new ticker is fetched alone, for the whole range
    fetch_bars(["AAPL", "KO"], "2015-06-01", "2017-06-01", cache=cache, progress=False)
    assert ranges(fake) == [(("KO",), T("2015-06-01"), T("2017-06-01"))]


def test_stale_history_is_refetched(monkeypatch, dow, tmp_path):
    fake = install_fake(monkeypatch, FakeYahoo(dow))
    cache = DiskCache(tmp_path)
    fetch_bars(["KO"], "2016-01-01", "2017-01-01", cache=cache, progress=False)
    fake.scale = 0.5  # Yahoo re-adjusted the whole history (e.g. a 2:1 split since we cached it)
    fake.calls.clear()
    with pytest.warns(DataQualityWarning, match="cached history changed at the source for KO"):
        got = fetch_bars(["KO"], "2016-01-01", "2017-06-01", cache=cache, progress=False)
    assert ranges(fake)[-1] == (("KO",), T("2016-01-01"), T("2017-06-01"))
    expected = dow[(dow["ticker"] == "KO") & (dow["date"] >= "2016-01-01") & (dow["date"] < "2017-06-01")]
    np.testing.assert_allclose(
        got["KO"]["close"].to_numpy(), expected["adj_close"].to_numpy() * 0.5, rtol=1e-12
    )


def test_offline_with_a_partial_cache_warns_and_uses_the_cache(monkeypatch, dow, tmp_path):
    fake = install_fake(monkeypatch, FakeYahoo(dow))
    fetch_bars(["KO"], "2016-01-01", "2017-01-01", cache=tmp_path, progress=False)
    fake.offline = True
    with pytest.warns(DataQualityWarning, match=r"no bars for KO in \[2017-01-01, 2017-03-01\)"):
        got = fetch_bars(["KO"], "2016-01-01", "2017-03-01", cache=tmp_path, progress=False)
    assert len(got["KO"]) == rows(dow, "KO", "2016-01-01", "2017-01-01")
    assert DiskCache(tmp_path).read(CacheKey("KO")).coverage[-1][1] == T("2017-01-01").value  # not poisoned


def test_from_yfinance_uses_the_env_var_cache(monkeypatch, fake, tmp_path):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "envcache"))
    a = from_yfinance(["AAPL", "KO"], "2019-01-01", "2019-06-01", progress=False)
    n = len(fake.calls)
    b = from_yfinance(["KO", "AAPL"], "2019-01-01", "2019-06-01", progress=False)
    assert len(fake.calls) == n
    assert b.select(["AAPL", "KO"]).content_hash() == a.content_hash()
    assert len(list((tmp_path / "envcache").rglob("*.parquet"))) == 2


# ----------------------------------------------------------------------------- corruption
def test_truncated_cache_file_is_detected_and_refetched(fake, dow, tmp_path):
    cache = DiskCache(tmp_path)
    fetch_bars(["AAPL"], "2016-01-01", "2018-01-01", cache=cache, progress=False)
    path = cache.path(CacheKey("AAPL"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a crash half-way through a (non-atomic) copy
    fake.calls.clear()
    with pytest.warns(CacheCorruptionWarning, match=f"{path}.*AAPL.*corrupt.*deleted"):
        got = fetch_bars(["AAPL"], "2016-01-01", "2018-01-01", cache=cache, progress=False)
    assert ranges(fake) == [(("AAPL",), T("2016-01-01"), T("2018-01-01"))]
    assert len(got["AAPL"]) == rows(dow, "AAPL", "2016-01-01", "2018-01-01")
    assert cache.read(CacheKey("AAPL")) is not None  # rewritten, valid


def test_garbage_and_empty_files_are_detected(tmp_path):
    cache = DiskCache(tmp_path)
    for content in (b"", b"PAR1 not really parquet", b"\x1f\x8b\x08garbage"):
        p = cache.path(CacheKey("XYZ"))
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
        with pytest.warns(CacheCorruptionWarning):
            assert cache.read(CacheKey("XYZ")) is None
        assert not p.exists()


# ----------------------------------------------------------------------------- two processes
def _writer(root: str, start: str, end: str, delay: float, errq) -> None:
    try:
        import yfinance
        from conftest_data import FakeYahoo, shared_frame

        yfinance.download = FakeYahoo(shared_frame("dow30"), delay=delay)
        fetch_bars(["AAPL", "MSFT"], start, end, cache=DiskCache(root), progress=False)
    except BaseException:
        errq.put(traceback.format_exc())
        raise


def test_concurrent_writers_from_two_processes_lose_nothing(dow, tmp_path):
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("needs the fork start method")
    ctx = mp.get_context("fork")
    errq = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(str(tmp_path), "2015-01-01", "2017-01-01", 0.3, errq)),
        ctx.Process(target=_writer, args=(str(tmp_path), "2016-06-01", "2018-06-01", 0.3, errq)),
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    errors = [errq.get() for _ in range(errq.qsize())] if not errq.empty() else []
    assert all(p.exitcode == 0 for p in procs), errors
    cache = DiskCache(tmp_path)
    for t in ("AAPL", "MSFT"):
        entry = cache.read(CacheKey(t))
        assert entry.coverage == [(T("2015-01-01").value, T("2018-06-01").value)]
        expected = dow[(dow["ticker"] == t) & (dow["date"] >= "2015-01-01") & (dow["date"] < "2018-06-01")]
        np.testing.assert_array_equal(entry.frame["date"].to_numpy(), expected["date"].to_numpy())
        np.testing.assert_allclose(
            entry.frame["close"].to_numpy(), expected["adj_close"].to_numpy(), rtol=1e-12
        )
    assert not list(tmp_path.rglob("*.tmp"))


def _hammer(root: str, value: float, n: int) -> None:
    cache = DiskCache(root)
    key = CacheKey("SAME")
    frame = pd.DataFrame(
        {
            "date": pd.bdate_range("2020-01-01", periods=300),
            "open": value,
            "high": value,
            "low": value,
            "close": value,
            "volume": 1.0,
        }
    )
    for _ in range(n):
        cache.write(CacheEntry(key, frame, [(0, 1)]))


def test_atomic_writes_never_expose_a_partial_file(tmp_path):
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("needs the fork start method")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), v, 40)) for v in (1.0, 2.0)]
    for p in procs:
        p.start()
    cache = DiskCache(tmp_path)
    seen = set()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheCorruptionWarning)  # a torn read would warn
        while any(p.is_alive() for p in procs):
            entry = cache.read(CacheKey("SAME"))
            if entry is not None:
                assert len(entry.frame) == 300
                seen.add(float(entry.frame["close"].iloc[0]))
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert seen <= {1.0, 2.0}


# ----------------------------------------------------------------------------- Redis
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_cache():
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis server on 127.0.0.1:6379 (CI starts one with .ci/start_redis.sh)")
    cache = open_cache(REDIS_URL)
    cache.clear()
    yield cache
    cache.clear()


def test_redis_round_trip(fake, dow, redis_cache):
    a = from_yfinance(["AAPL", "KO"], "2018-01-01", "2019-01-01", cache=REDIS_URL, progress=False)
    assert len(fake.calls) == 1
    entry = redis_cache.read(CacheKey("KO"))
    assert len(entry.frame) == rows(dow, "KO", "2018-01-01", "2019-01-01")
    b = from_yfinance(["AAPL", "KO"], "2018-03-01", "2018-09-01", cache=REDIS_URL, progress=False)
    assert len(fake.calls) == 1  # served from Redis
    assert b.content_hash() == a.slice("2018-03-01", "2018-09-01").content_hash()
    fetch_bars(["KO"], "2017-06-01", "2019-01-01", cache=redis_cache, progress=False)
    assert ranges(fake)[-1] == (("KO",), T("2017-06-01"), T("2018-01-06"))


def test_redis_corrupt_value_is_refetched(fake, redis_cache):
    fetch_bars(["KO"], "2018-01-01", "2018-03-01", cache=redis_cache, progress=False)
    redis_cache.client.set(redis_cache.redis_key(CacheKey("KO")), b"PAR1 garbage")
    fake.calls.clear()
    with pytest.warns(CacheCorruptionWarning, match="redis key"):
        fetch_bars(["KO"], "2018-01-01", "2018-03-01", cache=redis_cache, progress=False)
    assert len(fake.calls) == 1 and redis_cache.read(CacheKey("KO")) is not None


def test_redis_lock_is_exclusive(redis_cache):
    import redis as _redis

    key = CacheKey("LOCKED")
    other = _redis.Redis.from_url(REDIS_URL)
    with redis_cache.lock(key):
        assert not other.lock(redis_cache.redis_key(key) + ":lock", blocking_timeout=0.1).acquire()
    lk = other.lock(redis_cache.redis_key(key) + ":lock", blocking_timeout=0.1)
    assert lk.acquire()
    lk.release()


def test_unreachable_redis_is_a_clear_error():
    pytest.importorskip("redis")
    with pytest.raises(ConfigError, match="cannot reach the Redis cache at redis://127.0.0.1:1/0"):
        open_cache("redis://127.0.0.1:1/0")


def test_env_var_is_honoured_in_a_subprocess(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, CACHE_ENV_VAR: str(tmp_path / "sub")}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from wealtharena_env.data import default_cache_dir; print(default_cache_dir())",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    assert out == str(tmp_path / "sub")
