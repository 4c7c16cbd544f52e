"""The Alpaca broker against a fake Alpaca server on 127.0.0.1 (no network), and the opt-in live
smoke test."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from wealtharena_env.errors import BrokerError
from wealtharena_env.live.brokers import OrderRequest

KEY, SECRET = "PKTESTKEY0123456789", "s3cr3t-never-logged-ABCDEFG"


class FakeAlpaca:
    """Enough of Alpaca's trading API v2 for the broker: orders, lookups by client ID, cancel, positions,
    account, clock. ``script`` scripts failures; ``requests`` records every request (method,
    path, headers)."""

    def __init__(self):
        self.orders: dict[str, dict] = {}
        self.positions: dict[str, float] = {}
        self.cash = 100_000.0
        self.is_open = True
        self.requests: list[tuple[str, str, dict]] = []
        self.reject: dict[str, tuple[int, str]] = {}  # symbol -> (HTTP status, message)
        self.fail_next = 0  # answer the next requests with 503
        self.drop_next_submit = False  # accept the next order but drop the connection before answering
        self.auto_fill: float | None = None  # fill every new order at this price at once
        self.bars: dict[str, list[dict]] = {}  # market data: symbol -> bars {t, o, h, l, c, v}
        self.data_requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status, body=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((method, url.path, dict(self.headers)))
                if fake.fail_next:
                    fake.fail_next -= 1
                    return self._send(503, {"message": "service unavailable"})
                if url.path == "/v2/stocks/bars":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    fake.data_requests.append(query)
                    symbols = query["symbols"].split(",")
                    bars = {s: [b for b in fake.bars.get(s, []) if query["start"] <= b["t"] < query["end"]]
                            for s in symbols}  # fmt: skip
                    return self._send(
                        200, {"bars": {s: b for s, b in bars.items() if b}, "next_page_token": None}
                    )
                if url.path == "/v2/orders" and method == "POST":
                    return self._submit(body)
                if url.path == "/v2/orders:by_client_order_id":
                    cid = parse_qs(url.query)["client_order_id"][0]
                    order = fake.orders.get(cid)
                    return (
                        self._send(200, order) if order else self._send(404, {"message": "order not found"})
                    )
                if url.path.startswith("/v2/orders/") and method == "DELETE":
                    oid = url.path.rsplit("/", 1)[1]
                    for order in fake.orders.values():
                        if order["id"] == oid and order["status"] in ("accepted", "new", "partially_filled"):
                            order["status"] = "canceled"
                    return self._send(204)
                if url.path == "/v2/orders":
                    return self._send(200, list(fake.orders.values()))
                if url.path == "/v2/positions":
                    return self._send(
                        200, [{"symbol": s, "qty": str(q)} for s, q in fake.positions.items() if q]
                    )
                if url.path == "/v2/account":
                    return self._send(200, {"cash": str(fake.cash), "status": "ACTIVE"})
                if url.path == "/v2/clock":
                    return self._send(
                        200,
                        {
                            "timestamp": "2026-12-07T15:00:00-05:00",
                            "is_open": fake.is_open,
                            "next_open": "2026-12-08T09:30:00-05:00",
                            "next_close": "2026-12-07T16:00:00-05:00",
                        },
                    )
                return self._send(404, {"message": f"no route {url.path}"})

            def _submit(self, body):
                cid = body["client_order_id"]
                if cid in fake.orders:
                    return self._send(422, {"code": 40010001, "message": "client_order_id must be unique"})
                if body["symbol"] in fake.reject:
                    status, message = fake.reject[body["symbol"]]
                    return self._send(status, {"code": 40310000, "message": message})
                order = {
                    "id": str(uuid.uuid4()),
                    "client_order_id": cid,
                    "symbol": body["symbol"],
                    "qty": str(body["qty"]),
                    "side": body["side"],
                    "type": body["type"],
                    "time_in_force": body["time_in_force"],
                    "status": "accepted",
                    "filled_qty": "0",
                    "filled_avg_price": None,
                }
                fake.orders[cid] = order
                if fake.auto_fill is not None:
                    fake.fill(cid, float(body["qty"]), fake.auto_fill)
                if fake.drop_next_submit:
                    fake.drop_next_submit = False
                    self.close_connection = True
                    return None  # the order arrived, the answer is lost
                return self._send(200, order)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fill(self, cid: str, qty: float, price: float) -> None:
        """Fill ``qty`` more shares of order ``cid`` at ``price``."""
        order = self.orders[cid]
        done = float(order["filled_qty"]) + qty
        old = float(order["filled_avg_price"] or 0.0) * float(order["filled_qty"])
        order["filled_avg_price"] = str(price if old == 0.0 else (old + qty * price) / done)
        order["filled_qty"] = str(done)
        order["status"] = "filled" if done >= float(order["qty"]) else "partially_filled"
        sign = 1.0 if order["side"] == "buy" else -1.0
        self.positions[order["symbol"]] = self.positions.get(order["symbol"], 0.0) + sign * qty
        self.cash -= sign * qty * price

    def submits(self) -> int:
        return sum(1 for m, p, _ in self.requests if m == "POST" and p == "/v2/orders")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    server = FakeAlpaca()
    yield server
    server.close()


def _broker(fake, retries=2):
    from wealtharena_env.live.alpaca import AlpacaBroker

    return AlpacaBroker(retries=retries, backoff=0.01, url_override=fake.url)


def test_submit_partial_fill_cancel_positions_account_clock(fake):
    broker = _broker(fake)
    status = broker.submit(OrderRequest("r-000061-net-AAPL", "AAPL", 10.0))
    assert (status.status, status.qty, status.filled_qty) == ("new", 10.0, 0.0)
    body = fake.orders["r-000061-net-AAPL"]
    assert (body["side"], body["type"], body["time_in_force"], body["qty"]) == (
        "buy",
        "market",
        "day",
        "10.0",
    )
    fake.fill("r-000061-net-AAPL", 4.0, 190.5)
    partial = broker.get_order("r-000061-net-AAPL")
    assert (partial.status, partial.filled_qty, partial.avg_price, partial.final) == (
        "partially_filled",
        4.0,
        190.5,
        False,
    )
    broker.cancel("r-000061-net-AAPL")
    done = broker.get_order("r-000061-net-AAPL")
    assert (done.status, done.filled_qty, done.final) == ("canceled", 4.0, True)
    sell = broker.submit(OrderRequest("r-000062-net-AAPL", "AAPL", -3.0))
    assert sell.qty == -3.0 and fake.orders["r-000062-net-AAPL"]["side"] == "sell"
    assert [o.client_order_id for o in broker.open_orders()] == ["r-000062-net-AAPL"]
    assert broker.get_order("unknown-id") is None  # 404 -> not there
    assert broker.positions() == {"AAPL": 4.0}
    assert broker.cash() == pytest.approx(100_000.0 - 4 * 190.5)
    clock = broker.clock()
    assert clock.is_open and clock.next_open.startswith("2026-12-08")
    # the keys went in the headers, from the environment
    assert all(h.get("APCA-API-KEY-ID") == KEY for _, _, h in fake.requests)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (403, "insufficient buying power"),
        (403, "market is closed; order rejected"),
        (422, "asset HALT is halted: trading suspended"),
    ],
)
def test_rejections_are_clear_errors_and_not_retried(fake, status, message):
    fake.reject["HALT"] = (status, message)
    broker = _broker(fake)
    with pytest.raises(BrokerError, match=f"refused \\(HTTP {status}\\).*{message.split(';')[0]}"):
        broker.submit(OrderRequest("r-000070-net-HALT", "HALT", 5.0))
    assert fake.submits() == 1
    with pytest.raises(BrokerError, match="must be unique"):  # Alpaca refuses a known client order ID
        fake.reject.clear()
        broker.submit(OrderRequest("x-1", "AAPL", 1.0))
        broker.submit(OrderRequest("x-1", "AAPL", 1.0))


def test_network_errors_are_retried_then_reported_clearly(fake, caplog):
    caplog.set_level(logging.DEBUG)
    broker = _broker(fake, retries=2)
    fake.fail_next = 2  # two 503s, then an answer
    assert broker.positions() == {}
    assert len(fake.requests) == 3
    fake.fail_next = 10
    with pytest.raises(BrokerError, match="account failed after 3 attempts.*HTTP 503") as info:
        broker.cash()
    text = str(info.value) + caplog.text
    assert SECRET not in text and KEY not in text  # keys never in a message or a log
    fake.fail_next = 0
    # the first answer is lost but the order arrived: the retry asks before re-sending, one order only
    fake.drop_next_submit = True
    status = broker.submit(OrderRequest("r-000080-net-MSFT", "MSFT", 2.0))
    assert status.client_order_id == "r-000080-net-MSFT" and fake.submits() == 1 and len(fake.orders) == 1


def test_unreachable_server_is_a_clear_error(monkeypatch):
    from wealtharena_env.live.alpaca import AlpacaBroker

    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    broker = AlpacaBroker(retries=1, backoff=0.01, url_override="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(BrokerError, match="clock failed after 2 attempts: ConnectionError") as info:
        broker.clock()
    assert SECRET not in str(info.value)


def test_keys_only_from_the_environment_and_paper_by_default(monkeypatch):
    from wealtharena_env.live.alpaca import AlpacaBroker

    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    with pytest.raises(BrokerError, match="APCA_API_KEY_ID and APCA_API_SECRET_KEY"):
        AlpacaBroker()
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)

    def url(broker):
        base = broker._client._base_url
        return str(getattr(base, "value", base))

    assert url(AlpacaBroker()) == "https://paper-api.alpaca.markets"
    assert url(AlpacaBroker(paper=False)) == "https://api.alpaca.markets"  # only when asked for


def test_runner_trades_through_the_fake_alpaca_and_reconciles(fake, tmp_path):
    from test_historical import synthetic_frame

    from wealtharena_env.config import arena_config
    from wealtharena_env.data import MarketData
    from wealtharena_env.live.runner import Runner
    from wealtharena_env.market_sources import ReplayMarket

    data = MarketData.from_dataframe(synthetic_frame(n_days=70))
    fake.auto_fill = 100.0  # every order fills at once at 100 (the ledgers must book what the broker says)
    config = arena_config(n_assets=3, agents=["balanced_0", "aggressive_1"], episode_length=10_000)
    runner = Runner(
        "equal_weight", ReplayMarket(data), _broker(fake), tmp_path / "j.sqlite", config, progress=None
    )
    summary = runner.run()
    assert summary.finished and summary.orders > 0
    assert all(p["ok"] for _, _, _, p in runner.journal.entries("reconcile"))
    ledgers = runner.sim.holdings[0].sum(axis=0)
    assert np.allclose([fake.positions.get(t, 0.0) for t in runner.tickers], ledgers, rtol=1e-12)
    assert len(fake.orders) == fake.submits()  # each client order ID reached Alpaca once
    net = {key: p["qty"] for _, _, key, p in runner.journal.entries("order")}
    fills = [(key.split(":")[1], p) for _, _, key, p in runner.journal.entries("fill")]
    sent = [p for cid, p in fills if net[cid] != 0.0]
    crossed = [p for cid, p in fills if net[cid] == 0.0]  # the agents' opposite requests, crossed in house
    assert sent and all(p["price"] == 100.0 for p in sent)  # booked at the broker's price
    assert all(p["fee"] == 0.0 for p in crossed)
    runner.close()


def test_closed_market_holds_the_orders(fake, tmp_path):
    from test_historical import synthetic_frame

    from wealtharena_env.config import arena_config
    from wealtharena_env.data import MarketData
    from wealtharena_env.live.runner import Runner
    from wealtharena_env.market_sources import ReplayMarket

    fake.is_open = False
    data = MarketData.from_dataframe(synthetic_frame(n_days=70))
    config = arena_config(n_assets=3, agents=["balanced_0"], episode_length=10_000)
    runner = Runner(
        "equal_weight", ReplayMarket(data), _broker(fake), tmp_path / "j.sqlite", config, progress=None
    )
    runner.run(max_bars=2)
    assert fake.submits() == 0 and runner.journal.count("order") > 0
    acks = [p for _, _, _, p in runner.journal.entries("order_ack")]
    assert acks and all("market is closed" in p["message"] for p in acks)
    assert np.all(runner.sim.holdings[0] == 0.0)
    runner.close()


def test_live_paper_account_smoke(request):
    """Opt-in (``--run-live``) read-only smoke test of a real Alpaca paper account; needs the keys."""
    if not request.config.getoption("--run-live"):
        pytest.skip(
            "live Alpaca smoke test: opt in with --run-live (and APCA_API_KEY_ID / APCA_API_SECRET_KEY)"
        )
    if not (os.environ.get("APCA_API_KEY_ID") and os.environ.get("APCA_API_SECRET_KEY")):
        pytest.skip("--run-live without APCA_API_KEY_ID / APCA_API_SECRET_KEY in the environment")
    from wealtharena_env.live.alpaca import AlpacaBroker

    broker = AlpacaBroker(paper=True)
    assert isinstance(broker.clock().is_open, bool)
    assert broker.cash() >= 0.0
    assert isinstance(broker.positions(), dict)
    assert broker.get_order("wealtharena-smoke-does-not-exist") is None


def test_alpaca_feed_polls_market_data(fake):
    import pandas as pd
    from test_historical import synthetic_frame

    from wealtharena_env.errors import WealthArenaDataError
    from wealtharena_env.live.alpaca import AlpacaFeed

    frame = synthetic_frame(n_days=80, tickers=("AAPL", "MSFT"))
    for ticker, part in frame.groupby("ticker"):
        fake.bars[ticker] = [
            {"t": (pd.Timestamp(r.date) + pd.Timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ"), "o": r.open,
             "h": r.high, "l": r.low, "c": r.close, "v": int(r.volume)}
            for r in part.itertuples()
        ]  # fmt: skip
    dates = sorted(frame["date"].unique())
    clock = {"t": pd.Timestamp(dates[70]) + pd.Timedelta(hours=12)}
    feed = AlpacaFeed(["AAPL", "MSFT"], url_override=fake.url, now=lambda: clock["t"])
    bars = np.empty((41, 6, 2))
    feed.sample(np.random.default_rng(0), bars)
    closes = frame.pivot(index="date", columns="ticker", values="close").to_numpy()
    assert np.array_equal(bars[:, 3], closes[29:70])  # bar 70 is still forming
    query = fake.data_requests[-1]
    assert query["timeframe"] == "1Day" and query["adjustment"] == "all" and query["feed"] == "iex"
    assert feed.next_bar(41) is None
    clock["t"] += pd.Timedelta(days=1)
    date, fields = feed.next_bar(41)
    assert pd.Timestamp(date) == pd.Timestamp(dates[70]) + pd.Timedelta(hours=5)
    assert fields[3].tolist() == closes[70].tolist()
    fake.fail_next = 1  # a failing poll is "no new bar", and says why
    assert feed.next_bar(42, after=date) is None and "503" in feed.last_error
    fake.fail_next = 100
    cold = AlpacaFeed(["AAPL"], url_override=fake.url, now=lambda: clock["t"])
    with pytest.raises(WealthArenaDataError, match="Alpaca market data failed") as info:
        cold.sample(np.random.default_rng(0), np.empty((41, 6, 1)))
    assert SECRET not in str(info.value)
