#!/usr/bin/env bash
# `make bench`: the routing engine's, the service's and the bot's figures
# (see docs/performance.md and docs/benchmarks.md).
#   scripts/bench.sh                  # everything (needs PostgreSQL and Redis)
#   scripts/bench.sh --routing-only [bench_routing.py options]     # the engine alone, memory and Redis
#   scripts/bench.sh --http-only [bench_escalation.py options]     # escalation rate vs queue, both stacks
#   scripts/bench.sh --service-only [bench_service.py options]     # burst, escalation and relay latency
#   scripts/bench.sh --bot-only [bench_bot.py options]             # the bot alone
#   scripts/bench.sh --turn-only [bench_turn.py options]           # a bot turn through the service vs bare Rasa
#   scripts/bench.sh --sockets-only [bench_sockets.py options]     # relay with many chats held, idle sockets' memory
#   scripts/bench.sh --store-only [bench_store.py options]         # committed messages/s, SQLite and PostgreSQL
#   scripts/bench.sh --flood-only [bench_flood.py options]         # a bystander's latency, idle vs one address flooding
set -euo pipefail
cd "$(dirname "$0")/.."
export REDIS_URL=redis://127.0.0.1:6379/14
# A database of this run's own, dropped at the end: other worktrees may be benchmarking too.
BENCH_DB=relais_bench_$$
export DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/$BENCH_DB

services_up() {
  scripts/ensure_services.sh >/dev/null
}

drop_database() {
  psql -h 127.0.0.1 -U postgres -d test -q -c "drop database if exists $BENCH_DB"
}

fresh_database() {  # each benchmark on PostgreSQL starts empty: a service restores what it finds waiting
  drop_database
  psql -h 127.0.0.1 -U postgres -d test -q -c "create database $BENCH_DB"
  trap drop_database EXIT
}

bench() {  # bench <title> <script> [options]
  local title=$1 script=$2
  shift 2
  echo "== $title =="
  .venv/bin/python "scripts/$script" "$@"
}

case "${1:-}" in
  --bot-only) shift; bench "bot" bench_bot.py "$@"; exit ;;
  --routing-only) shift; services_up; bench "routing engine" bench_routing.py "$@"; exit ;;
  --http-only) shift; services_up; fresh_database; bench "escalation rate through the HTTP API" bench_escalation.py "$@"; exit ;;
  --service-only) shift; services_up; fresh_database; bench "handoff service" bench_service.py "$@"; exit ;;
  --turn-only) shift; services_up; fresh_database; bench "bot turn: service vs bare Rasa" bench_turn.py "$@"; exit ;;
  --sockets-only) shift; services_up; fresh_database; bench "relay and idle sockets" bench_sockets.py "$@"; exit ;;
  --store-only) shift; services_up; fresh_database; bench "store messages/s" bench_store.py "$@"; exit ;;
  --flood-only) shift; services_up; fresh_database; bench "bystander under a flood" bench_flood.py "$@"; exit ;;
esac
services_up
bench "routing engine" bench_routing.py
fresh_database
bench "escalation rate through the HTTP API" bench_escalation.py
fresh_database
bench "handoff service" bench_service.py "$@"
fresh_database
bench "store messages/s" bench_store.py
fresh_database
bench "relay and idle sockets" bench_sockets.py
fresh_database
bench "bystander under a flood" bench_flood.py
fresh_database
bench "bot turn: service vs bare Rasa" bench_turn.py
bench "bot" bench_bot.py
