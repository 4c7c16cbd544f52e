"""yfinance path: recorded frames served through a monkeypatched ``yfinance.download``, empty/partial
downloads, progress output, lazy import, and one real (offline) call."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest_data import FakeYahoo, install_fake, shared_frame

from wealtharena_env.data import (
    DataRepairWarning,
    download_to_cache,
    from_dataframe,
    from_yfinance,
    load_market_data,
)
from wealtharena_env.errors import ConfigError, WealthArenaDataError

pytest.importorskip("yfinance")


@pytest.fixture
def dow():
    return shared_frame("dow30")


@pytest.fixture
def fake(monkeypatch, dow, tmp_path):
    monkeypatch.setenv("WEALTHARENA_CACHE_DIR", str(tmp_path / "cache"))
    return install_fake(monkeypatch, FakeYahoo(dow))


def test_download_matches_the_recorded_bars(fake, dow):
    md = from_yfinance(["aapl", "MSFT"], "2019-01-01", "2019-04-01", cache=False, progress=False)
    assert md.tickers == ("AAPL", "MSFT") and md.source == "yfinance:1d:adjusted"
    assert md.adj_close is None  # auto_adjust=True: OHLC already adjusted
    call = fake.calls[0]
    assert call["tickers"] == ["AAPL", "MSFT"] and call["auto_adjust"] is True
    assert call["start"] == pd.Timestamp("2019-01-01") and call["end"] == pd.Timestamp("2019-04-01")
    assert call["multi_level_index"] is True and call["progress"] is False
    ref = from_dataframe(dow, tickers=["AAPL", "MSFT"], start="2019-01-01", end="2019-04-01").adjusted()
    np.testing.assert_allclose(md.close, ref.close, rtol=1e-12)
    np.testing.assert_allclose(md.open, ref.open, rtol=1e-12)


def test_raw_download_keeps_adj_close(fake, dow):
    md = from_yfinance(["KO"], "2019-01-01", "2019-04-01", auto_adjust=False, cache=False)
    assert md.has_adj_close and md.source == "yfinance:1d:raw"
    ref = from_dataframe(dow, tickers=["KO"], start="2019-01-01", end="2019-04-01")
    assert md.content_hash() == ref.content_hash()


def test_load_market_data_with_a_ticker_list(fake):
    md = load_market_data(["AAPL", "KO"], start="2019-01-01", end="2019-02-01", cache=False, progress=False)
    assert md.tickers == ("AAPL", "KO") and md.n_steps == 21


def test_empty_download_names_tickers_range_and_cause(monkeypatch, dow, tmp_path):
    install_fake(monkeypatch, FakeYahoo(dow, offline=True))
    with pytest.raises(WealthArenaDataError) as err:
        from_yfinance(["AAPL", "MSFT"], "2019-01-01", "2019-04-01", cache=tmp_path, progress=False)
    msg = str(err.value)
    assert "AAPL, MSFT" in msg and "[2019-01-01, 2019-04-01)" in msg
    assert "no network" in msg and "Yahoo Finance unreachable" in msg and "symbol" in msg
    assert not list(tmp_path.rglob("*.parquet"))  # nothing cached from an empty answer


def test_partial_download_raises_or_drops(fake):
    with pytest.raises(WealthArenaDataError) as err:
        from_yfinance(
            ["AAPL", "NOPE1", "KO", "NOPE2"], "2019-01-01", "2019-02-01", cache=False, progress=False
        )
    msg = str(err.value)
    assert "2 of 4 tickers: NOPE1, NOPE2" in msg and "on_missing='drop'" in msg
    with pytest.warns(DataRepairWarning, match="NOPE1, NOPE2.*dropped"):
        md = from_yfinance(
            ["AAPL", "NOPE1", "KO", "NOPE2"],
            "2019-01-01",
            "2019-02-01",
            cache=False,
            progress=False,
            on_missing="drop",
        )
    assert md.tickers == ("AAPL", "KO")


def test_ticker_with_partial_nan_columns(monkeypatch, dow):
    # a ticker listed late is NaN-padded by yfinance before its first bar: not an error, a calendar question
    late = dow[(dow["ticker"] != "V") | (dow["date"] >= "2019-03-01")]
    install_fake(monkeypatch, FakeYahoo(late))
    with pytest.raises(WealthArenaDataError, match=r"V \(21 rows, 2019-03-01"):
        from_yfinance(["AAPL", "V"], "2019-01-01", "2019-04-01", cache=False, progress=False)
    md = from_yfinance(
        ["AAPL", "V"], "2019-01-01", "2019-04-01", cache=False, progress=False, min_coverage=0.3
    )
    assert str(md.dates[0])[:10] == "2019-03-01"


def test_validation_options_pass_through(monkeypatch):
    bad = shared_frame("sp500", ["DXC"])
    install_fake(monkeypatch, FakeYahoo(bad))
    with pytest.raises(WealthArenaDataError, match="DXC 2018-06-01"):
        from_yfinance(["DXC"], "2018-05-01", "2018-07-01", auto_adjust=False, cache=False)
    md = from_yfinance(
        ["DXC"], "2018-05-01", "2018-07-01", auto_adjust=False, cache=False, on_bad_rows="repair"
    )
    assert md.n_steps == 43
    with pytest.raises(ConfigError, match="unknown argument"):
        from_yfinance(["DXC"], "2018-05-01", cache=False, calender="ffill")
    with pytest.raises(ConfigError, match="interval='1day'"):
        from_yfinance(["DXC"], "2018-05-01", interval="1day", cache=False)
    with pytest.raises(ConfigError, match="before end"):
        from_yfinance(["DXC"], "2018-05-01", "2018-01-01", cache=False)


def test_progress_counter_without_tqdm(fake, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    from_yfinance(
        ["AAPL", "KO", "MSFT"], "2019-01-01", "2019-02-01", cache=False, progress=True, batch_size=1
    )
    err = capsys.readouterr().err
    assert "1/3 tickers" in err and "3/3 tickers" in err
    assert len(fake.calls) == 3
    from_yfinance(["AAPL", "KO"], "2019-01-01", "2019-02-01", cache=False, progress=False)
    assert capsys.readouterr().err == ""


def test_download_to_cache_counts_rows(fake, tmp_path):
    counts = download_to_cache(
        ["AAPL", "JNJ"], "2019-11-01", "2019-12-01", cache_dir=tmp_path / "c", progress=False
    )
    assert counts == {"AAPL": 20, "JNJ": 17}
    assert len(list((tmp_path / "c").rglob("*.parquet"))) == 2
    n = len(fake.calls)
    assert download_to_cache(["AAPL"], "2019-11-04", "2019-11-20", cache_dir=tmp_path / "c") == {"AAPL": 12}
    assert len(fake.calls) == n  # served from the cache
    with pytest.raises(WealthArenaDataError, match="NOPE"):
        download_to_cache(
            ["AAPL", "NOPE"], "2019-11-01", "2019-12-01", cache_dir=tmp_path / "c", progress=False
        )


def test_importing_the_package_does_not_import_yfinance():
    code = (
        "import sys, wealtharena_env, wealtharena_env.data; "
        "print(any(m in sys.modules for m in ('yfinance', 'redis')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"


def test_real_yfinance_offline_gives_a_clear_error(tmp_path, capfd):
    """The real yfinance without network returns an empty frame (no exception): we must say so clearly, and
    yfinance's own chatter (DNS errors, "Failed downloads", pandas warnings) must not bury our message."""
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            md = from_yfinance(["AAPL", "MSFT"], "2020-01-01", "2020-02-01", cache=tmp_path, progress=False)
    except WealthArenaDataError as exc:
        msg = str(exc)
        assert "AAPL, MSFT" in msg and "[2020-01-01, 2020-02-01)" in msg and "no network" in msg
        out, err = capfd.readouterr()
        assert out.strip() == "" and err.strip() == "", (out[-1000:], err[-1000:])
        assert not [w for w in caught if "yfinance" in str(w.filename)], [str(w.message) for w in caught]
    else:
        pytest.skip(f"Yahoo Finance was reachable; got {md}")


def test_old_yfinance_without_multi_level_index(monkeypatch, dow):
    inner = FakeYahoo(dow)

    def old_download(tickers=None, start=None, end=None, **kw):
        if "multi_level_index" in kw:
            raise TypeError("download() got an unexpected keyword argument 'multi_level_index'")
        frame = inner(tickers, start, end, **kw)
        if len(inner.calls[-1]["tickers"]) == 1:  # old versions returned flat columns for one ticker
            frame = frame.droplevel("Ticker", axis=1)
        return frame

    install_fake(monkeypatch, old_download)
    one = from_yfinance(["KO"], "2019-01-01", "2019-02-01", cache=False)
    two = from_yfinance(["KO", "AAPL"], "2019-01-01", "2019-02-01", cache=False, progress=False)
    assert one.content_hash() == two.select("KO").content_hash()
