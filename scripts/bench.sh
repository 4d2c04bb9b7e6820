#!/usr/bin/env bash
# `make bench`: the routing engine's, the service's and the bot's figures
# (see docs/performance.md and docs/benchmarks.md).
#   scripts/bench.sh                  # everything (needs PostgreSQL and Redis)
#   scripts/bench.sh --routing-only [bench_routing.py options]     # the engine alone, memory and Redis
#   scripts/bench.sh --http-only [bench_escalation.py options]     # escalation rate vs queue, both stacks
#   scripts/bench.sh --service-only [bench_service.py options]     # burst, escalation and relay latency
#   scripts/bench.sh --bot-only                                    # the bot alone (scripts/bench_bot.py)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export REDIS_URL=redis://127.0.0.1:6379/14
export DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/relais_bench

services_up() {
  scripts/ensure_services.sh >/dev/null
  psql -h 127.0.0.1 -U postgres -d test -tc "select 1 from pg_database where datname='relais_bench'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -d test -c "create database relais_bench" >/dev/null
}

case "${1:-}" in
  --bot-only)
    shift
    echo "== bot =="
    exec $PY scripts/bench_bot.py "$@" ;;
  --routing-only)
    shift
    services_up
    echo "== routing engine =="
    exec $PY scripts/bench_routing.py "$@" ;;
  --http-only)
    shift
    services_up
    echo "== escalation rate through the HTTP API =="
    exec $PY scripts/bench_escalation.py "$@" ;;
  --service-only)
    shift
    services_up
    echo "== handoff service =="
    exec $PY scripts/bench_service.py "$@" ;;
esac
services_up
echo "== routing engine =="
$PY scripts/bench_routing.py
echo "== escalation rate through the HTTP API =="
$PY scripts/bench_escalation.py
echo "== handoff service =="
$PY scripts/bench_service.py "$@"
echo "== bot =="
$PY scripts/bench_bot.py
