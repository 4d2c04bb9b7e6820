#!/usr/bin/env bash
# `make bench`: the service's and the bot's figures (see docs/benchmarks.md).
#   scripts/bench.sh [bench_service.py options]   # both (needs PostgreSQL and Redis)
#   scripts/bench.sh --bot-only                   # the bot alone (scripts/bench_bot.py)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--bot-only" ]; then
  shift
  echo "== bot =="
  exec .venv/bin/python scripts/bench_bot.py "$@"
fi
scripts/ensure_services.sh >/dev/null
psql -h 127.0.0.1 -U postgres -d test -tc "select 1 from pg_database where datname='relais_bench'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d test -c "create database relais_bench" >/dev/null
echo "== handoff service =="
DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/relais_bench \
REDIS_URL=redis://127.0.0.1:6379/14 \
  .venv/bin/python scripts/bench_service.py "$@"
echo "== bot =="
.venv/bin/python scripts/bench_bot.py
