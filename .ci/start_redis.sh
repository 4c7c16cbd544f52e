#!/usr/bin/env bash
# Start a local Redis server for the data-cache tests (tests/test_data_cache.py).
#
# Installs redis-server with apt-get when it is missing, starts it daemonized on 127.0.0.1:6379 and
# waits until `redis-cli ping` answers PONG. Safe to call twice: an answering server is left alone.
# Exit status 0 when a server answers, 1 otherwise.
set -euo pipefail

HOST=127.0.0.1
PORT="${REDIS_PORT:-6379}"

ping_ok() {
    command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" = "PONG" ]
}

if ping_ok; then
    echo "redis already answering on $HOST:$PORT"
    exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    fi
    echo "installing redis-server with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

redis-server --bind "$HOST" --port "$PORT" --daemonize yes --save "" --appendonly no \
    --logfile /tmp/wealtharena-redis.log --pidfile /tmp/wealtharena-redis.pid

for _ in $(seq 1 50); do
    if ping_ok; then
        echo "redis answering on $HOST:$PORT"
        exit 0
    fi
    sleep 0.2
done
echo "redis did not answer on $HOST:$PORT; see /tmp/wealtharena-redis.log" >&2
exit 1
